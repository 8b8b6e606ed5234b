//! Parity of the kernels with flex's own ops: forward and both gradients, on shapes with odd
//! sizes, stride 2, asymmetric ("SAME" at stride 2) padding, 1×1 and batch 1. Tolerance: 1e-4
//! absolute on values of order 1–30 (sums of up to a few hundred products; the kernels and
//! flex add in different orders, measured differences are about 1e-6 relative).

use burn::backend::ops::ConvOptions;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::tensor::{Device, Tensor, TensorData};

use burn::module::{Initializer, Param, RunningState};

use burn::nn::BatchNormConfig;

use burn::nn::pool::MaxPool2dConfig;

use super::act::Act;
use super::{batch_norm_with, conv_bn_with, conv2d, conv2d_module, conv2d_with, max_pool2d_with};

const TOLERANCE: f32 = 1e-4;

/// Deterministic values in [-1, 1) (no draw from the device's shared generator).
fn tensor<const D: usize>(shape: [usize; D], seed: u32, device: &Device) -> Tensor<D> {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n as u32)
        .map(|i| ((i.wrapping_mul(2654435761) ^ seed.wrapping_mul(40503)) % 2001) as f32 / 1000.5 - 1.0)
        .collect();
    Tensor::from_data(TensorData::new(v, shape), device)
}

fn max_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
    (a - b).abs().max().into_scalar::<f32>()
}

/// Output, input gradient and weight gradient of a convolution, with own kernels on or off.
fn run(x: [usize; 4], w: [usize; 4], options: &ConvOptions<2>, own: bool) -> [Tensor<4>; 3] {
    let device = Device::flex().autodiff();
    let xt = tensor(x, 1, &device).require_grad();
    let wt = tensor(w, 2, &device).require_grad();
    let out = conv2d_with(xt.clone(), wt.clone(), None, options.clone(), own);
    let [n, c, h, wd] = out.dims();
    // A loss whose gradient differs at every output element.
    let weights = tensor([n, c, h, wd], 3, &device);
    let grads = (out.clone() * weights).sum().backward();
    let (gx, gw) = (xt.grad(&grads).expect("dx"), wt.grad(&grads).expect("dw"));
    [out.inner(), gx, gw]
}

#[test]
fn convolution_and_both_gradients_equal_flex_on_awkward_shapes() {
    type Case = ([usize; 4], [usize; 4], usize, [(usize, usize); 2]);
    let cases: [Case; 9] = [
        ([2, 3, 7, 5], [4, 3, 3, 3], 1, [(1, 1), (1, 1)]),
        ([1, 3, 9, 9], [8, 3, 3, 3], 2, [(0, 1), (0, 1)]), // TF "SAME" at stride 2, batch 1
        ([3, 5, 6, 7], [6, 5, 1, 1], 1, [(0, 0), (0, 0)]), // pointwise
        ([2, 4, 11, 6], [3, 4, 5, 5], 2, [(1, 2), (2, 1)]),
        ([5, 1, 28, 28], [32, 1, 3, 3], 1, [(1, 1), (1, 1)]), // the default CNN's first conv
        ([2, 32, 14, 14], [64, 32, 3, 3], 1, [(1, 1), (1, 1)]),
        ([1, 6, 8, 8], [4, 6, 2, 2], 2, [(0, 0), (0, 0)]),
        // Batch 1 with products above conv::SPLIT_MACS: split between threads by gemm.
        ([1, 64, 56, 56], [96, 64, 1, 1], 1, [(0, 0), (0, 0)]),
        ([1, 32, 32, 32], [64, 32, 3, 3], 1, [(1, 1), (1, 1)]),
    ];
    for (x, w, s, pad) in cases {
        let options = ConvOptions::new_with_padding([s, s], pad, [1, 1], 1);
        let [o1, dx1, dw1] = run(x, w, &options, true);
        let [o2, dx2, dw2] = run(x, w, &options, false);
        let diffs = [max_diff(o1, o2), max_diff(dx1, dx2), max_diff(dw1, dw2)];
        assert!(diffs.iter().all(|d| *d < TOLERANCE), "{x:?} {w:?} stride {s} {pad:?}: {diffs:?}");
    }
}

#[test]
fn the_kernels_can_fail_a_parity_check() {
    // Guard against a vacuous comparison: a changed weight changes every result.
    let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
    let [o1, ..] = run([1, 2, 5, 5], [2, 2, 3, 3], &options, true);
    let device = Device::flex();
    let other = conv2d(tensor([1, 2, 5, 5], 1, &device), tensor([2, 2, 3, 3], 9, &device), None, options);
    assert!(max_diff(o1, other) > 0.1);
}

#[test]
fn depthwise_convolutions_and_both_gradients_equal_flex() {
    // EfficientNet's: 3×3 and 5×5, stride 1 and 2 with TF "SAME" (more padding after), odd
    // sizes, batch 1; channel counts that do not fill a vector.
    type Case = ([usize; 4], usize, usize, [(usize, usize); 2]);
    let cases: [Case; 6] = [
        ([2, 5, 7, 9], 3, 1, [(1, 1), (1, 1)]),
        ([1, 3, 9, 9], 3, 2, [(0, 1), (0, 1)]),
        ([2, 4, 11, 8], 5, 2, [(1, 2), (1, 2)]),
        ([3, 6, 14, 14], 5, 1, [(2, 2), (2, 2)]),
        ([1, 2, 6, 5], 3, 3, [(0, 0), (2, 1)]),
        ([2, 3, 4, 4], 3, 1, [(0, 0), (0, 0)]),
    ];
    for (x, k, s, pad) in cases {
        let options = ConvOptions::new_with_padding([s, s], pad, [1, 1], x[1]);
        let w = [x[1], 1, k, k];
        let [o1, dx1, dw1] = run(x, w, &options, true);
        let [o2, dx2, dw2] = run(x, w, &options, false);
        let diffs = [max_diff(o1, o2), max_diff(dx1, dx2), max_diff(dw1, dw2)];
        assert!(diffs.iter().all(|d| *d < TOLERANCE), "{x:?} {w:?} stride {s} {pad:?}: {diffs:?}");
    }
}

#[test]
fn grouped_and_dilated_convolutions_fall_back_to_flex() {
    let device = Device::flex().autodiff();
    let x = tensor([2, 4, 9, 9], 1, &device);
    let grouped = ConvOptions::new([2, 2], [1, 1], [1, 1], 2);
    let w = tensor([4, 2, 3, 3], 2, &device);
    let ours = conv2d(x.clone(), w.clone(), None, grouped.clone());
    assert_eq!(max_diff(ours, burn::tensor::module::conv2d(x.clone(), w, None, grouped)), 0.0);
    let dilated = ConvOptions::new([1, 1], [2, 2], [2, 2], 1);
    let w = tensor([3, 4, 3, 3], 2, &device);
    let ours = conv2d(x.clone(), w.clone(), None, dilated.clone());
    assert_eq!(max_diff(ours, burn::tensor::module::conv2d(x, w, None, dilated)), 0.0);
}

#[test]
fn a_conv_module_gives_its_own_forward_with_bias_and_every_padding() {
    let device = Device::flex();
    let x = tensor([2, 3, 10, 7], 4, &device);
    for padding in [PaddingConfig2d::Same, PaddingConfig2d::Valid, PaddingConfig2d::Explicit(0, 1, 2, 1)] {
        for stride in [1, 2] {
            let conv = Conv2dConfig::new([3, 5], [3, 3])
                .with_stride([stride, stride])
                .with_padding(padding.clone())
                .with_bias(true)
                .with_initializer(Initializer::Zeros)
                .init(&device);
            let mut conv = conv;
            conv.weight = Param::from_tensor(tensor([5, 3, 3, 3], 5, &device));
            conv.bias = Some(Param::from_tensor(tensor([5], 6, &device)));
            let diff = max_diff(conv2d_module(&conv, x.clone()), conv.forward(x.clone()));
            assert!(diff < TOLERANCE, "{padding:?} stride {stride}: {diff}");
        }
    }
}

/// Output, gradients of input, gamma and beta, and the running mean and variance after one
/// training-mode batch norm, with own kernels on or off.
fn run_batch_norm(shape: [usize; 4], act: Act, own: bool) -> [Tensor<1>; 6] {
    let device = Device::flex().autodiff();
    let c = shape[1];
    let mut bn = BatchNormConfig::new(c).with_momentum(0.3).init(&device);
    // ReLU6 gets a scale that sends some outputs past 6.
    let spread = if act == Act::Relu6 { 4.0 } else { 1.0 };
    bn.gamma = Param::from_tensor(tensor([c], 7, &device).add_scalar(1.5).mul_scalar(spread));
    bn.beta = Param::from_tensor(tensor([c], 8, &device));
    let x = tensor(shape, 9, &device).mul_scalar(3.0).add_scalar(0.5).require_grad();
    let y = batch_norm_with(&bn, x.clone(), act, own);
    let grads = (y.clone() * tensor(shape, 10, &device)).sum().backward();
    let flat = |t: Tensor<4>| t.inner().flatten::<1>(0, 3);
    let gamma_grad = bn.gamma.grad(&grads).expect("dgamma");
    let beta_grad = bn.beta.grad(&grads).expect("dbeta");
    [
        flat(y),
        flat(x.grad(&grads).expect("dx")),
        gamma_grad,
        beta_grad,
        bn.running_mean.value_sync().inner(),
        bn.running_var.value_sync().inner(),
    ]
}

#[test]
fn batch_norm_alone_and_with_relu_or_relu6_equals_flex_in_output_gradients_and_running_statistics() {
    let cases = [[4, 3, 5, 7], [1, 2, 3, 3], [64, 32, 28, 28], [2, 5, 1, 1]];
    let acts = [Act::Identity, Act::Relu, Act::Relu6];
    for (shape, act) in cases.into_iter().flat_map(|s| acts.map(|a| (s, a))) {
        let ours = run_batch_norm(shape, act, true);
        let theirs = run_batch_norm(shape, act, false);
        let names = ["output", "dx", "dgamma", "dbeta", "running mean", "running var"];
        for ((a, b), name) in ours.into_iter().zip(theirs).zip(names) {
            // Gradient sums over 50k elements: compare relative to their size.
            let scale = b.clone().abs().max().into_scalar::<f32>().max(1.0);
            let diff = max_diff(a, b) / scale;
            assert!(diff < TOLERANCE, "{shape:?} {act:?} {name}: relative diff {diff}");
        }
    }
}

#[test]
fn batch_norm_in_inference_with_each_activation_equals_flex() {
    let device = Device::flex();
    for act in [Act::Identity, Act::Relu, Act::Relu6] {
        let c = 3;
        let mut bn = BatchNormConfig::new(c).init(&device);
        bn.gamma = Param::from_tensor(tensor([c], 7, &device).add_scalar(1.5).mul_scalar(4.0));
        bn.beta = Param::from_tensor(tensor([c], 8, &device));
        bn.running_mean = RunningState::new(tensor([c], 11, &device));
        bn.running_var = RunningState::new(tensor([c], 12, &device).abs().add_scalar(0.1));
        let x = tensor([2, c, 5, 7], 9, &device).mul_scalar(3.0);
        let (ours, theirs) = (batch_norm_with(&bn, x.clone(), act, true), batch_norm_with(&bn, x, act, false));
        let diff = max_diff(ours, theirs);
        assert!(diff < TOLERANCE, "{act:?}: {diff}");
    }
}

#[test]
fn a_batch_norm_folded_into_its_convolution_equals_the_two_layers_in_inference() {
    let device = Device::flex();
    // Dense with a bias, depthwise 3×3 at stride 2 ("SAME"), pointwise, depthwise 5×5.
    let cases: [(usize, usize, usize, usize, bool); 4] =
        [(3, 5, 3, 1, true), (6, 6, 3, 2, false), (4, 7, 1, 1, false), (5, 5, 5, 1, false)];
    for ((c_in, c_out, k, stride, bias), act) in
        cases.into_iter().flat_map(|c| [Act::Identity, Act::Relu, Act::Relu6].map(|a| (c, a)))
    {
        let groups = if c_in == c_out && !bias && k > 1 { c_in } else { 1 };
        let mut conv = Conv2dConfig::new([c_in, c_out], [k, k])
            .with_stride([stride, stride])
            .with_padding(PaddingConfig2d::Same)
            .with_groups(groups)
            .with_bias(bias)
            .init(&device);
        conv.weight = Param::from_tensor(tensor([c_out, c_in / groups, k, k], 5, &device));
        conv.bias = bias.then(|| Param::from_tensor(tensor([c_out], 6, &device)));
        let mut bn = BatchNormConfig::new(c_out).init(&device);
        bn.gamma = Param::from_tensor(tensor([c_out], 7, &device).add_scalar(1.5).mul_scalar(4.0));
        bn.beta = Param::from_tensor(tensor([c_out], 8, &device));
        bn.running_mean = RunningState::new(tensor([c_out], 11, &device));
        bn.running_var = RunningState::new(tensor([c_out], 12, &device).abs().add_scalar(0.1));
        let x = tensor([2, c_in, 9, 7], 9, &device).mul_scalar(2.0);
        let folded = conv_bn_with(&conv, &bn, x.clone(), act, true);
        let layers = batch_norm_with(&bn, conv.forward(x), act, false);
        let diff = max_diff(folded, layers);
        assert!(diff < TOLERANCE, "{c_in}→{c_out} k {k} stride {stride} {act:?}: {diff}");
    }
}

#[test]
fn max_pooling_and_its_gradient_equal_flex_with_ties_and_odd_sizes() {
    for shape in [[2, 3, 8, 6], [1, 2, 7, 9], [64, 32, 28, 28]] {
        let results: Vec<[Tensor<4>; 2]> = [true, false]
            .into_iter()
            .map(|own| {
                let device = Device::flex().autodiff();
                // Rounded values and a ReLU make ties within windows common.
                let x = tensor(shape, 11, &device).mul_scalar(3.0).round().clamp_min(0.0).require_grad();
                let y = max_pool2d_with(&MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(), x.clone(), own);
                let dy = tensor(y.dims(), 12, &device);
                let grads = (y.clone() * dy).sum().backward();
                [y.inner(), x.grad(&grads).expect("dx")]
            })
            .collect();
        let [[y1, dx1], [y2, dx2]] = [results[0].clone(), results[1].clone()];
        assert_eq!(max_diff(y1, y2), 0.0, "{shape:?} output");
        assert_eq!(max_diff(dx1, dx2), 0.0, "{shape:?} gradient");
    }
}

#[test]
fn every_instruction_set_the_cpu_has_gives_the_baseline_results_bit_for_bit() {
    use super::simd::{Level, detected, forced};
    use super::{cols::Geometry, conv, norm, pool};

    let vals = |n: usize, seed: u32| -> Vec<f32> {
        (0..n as u32).map(|i| ((i.wrapping_mul(2654435761) ^ seed) % 2001) as f32 / 1000.5 - 1.0).collect()
    };
    let run = || {
        let options = ConvOptions::new_with_padding([1, 1], [(1, 1), (1, 1)], [1, 1], 1);
        let g = Geometry::covered([3, 4, 9, 7], [5, 4, 3, 3], &options).expect("covered");
        let (x, w, dy) = (vals(3 * 4 * 63, 1), vals(5 * 4 * 9, 2), vals(3 * 5 * 63, 3));
        let p = norm::Planes::of(&[3, 5, 9, 7]).expect("planes");
        let affine = norm::Affine { gamma: &[1.5, 0.5, 2.0, 1.0, 4.0], beta: &[0.1; 5], eps: 1e-5, act: Act::Relu6 };
        let [y, mean, var] = norm::forward(&p, &dy, affine);
        let [dx, dgamma, dbeta] = norm::backward(&p, &dy, affine, [&mean, &var], &y);
        let pooling = pool::Pool2::of([3, 5, 9, 7]).expect("poolable");
        let pooled = pool::forward(&pooling, &y);
        let pool_grad = pool::backward(&pooling, &y, &vals(pooled.len(), 4));
        let depthwise = ConvOptions::new_with_padding([2, 2], [(1, 2), (1, 2)], [1, 1], 4);
        let d = Geometry::covered([3, 4, 9, 7], [4, 1, 5, 5], &depthwise).expect("depthwise");
        let (dw, dy_d) = (vals(4 * 25, 5), vals(3 * 4 * d.out_pixels(), 6));
        [
            conv::forward(&g, &x, &w, None),
            conv::backward_x(&g, &w, &dy),
            conv::backward_w(&g, &x, &dy),
            y,
            dx,
            dgamma,
            dbeta,
            pooled,
            pool_grad,
            conv::forward(&d, &x, &dw, None),
            conv::backward_x(&d, &dw, &dy_d),
            conv::backward_w(&d, &x, &dy_d),
        ]
    };
    forced::set(Level::Baseline);
    let baseline = run();
    for level in [Level::Avx2, Level::Avx512] {
        if level >= detected() {
            forced::set(level);
            let results = run();
            forced::clear();
            for (i, (a, b)) in results.iter().zip(&baseline).enumerate() {
                let same = a.len() == b.len() && a.iter().zip(b).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{level:?}: result {i} differs from the baseline build's");
            }
        }
    }
    forced::clear();
}
