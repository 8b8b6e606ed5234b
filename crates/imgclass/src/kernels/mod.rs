//! imgclass's own CPU kernels for the layers that dominate training time, plugged into Burn's
//! `flex` backend through its backend extension. Models call the functions here instead of
//! Burn's; each sends the shapes its kernels cover, on the flex device, to them, and everything
//! else (other devices, other dtypes, dilated convolutions, grouped ones other than depthwise)
//! to Burn's own op, so a model gives the same results on every device and its parameters keep
//! Burn's names.
//!
//! - `act` — the activations fused into the kernels, and a shift-and-activation pass
//! - `cols` — convolutions' column matrices: im2col and its adjoint col2im
//! - `depthwise` — depthwise 2-D convolution (one filter per channel), direct, NCHW
//! - `conv` — 2-D convolution: forward, input and weight gradients (im2col + `gemm`, NCHW)
//! - `norm` — batch norm in training mode: statistics, output and gradients in a few passes
//! - `pool` — 2×2 max pooling with stride 2, forward and gradient
//! - `dropout` — dropout masks from a counter-based generator, keyed by the step and the layer
//! - `ext` — the backend-extension op trait and its `Flex` implementation
//! - `autodiff` — its `Autodiff` implementation: the ops recorded with their backward
//! - `simd` — runs the loops above compiled for the CPU's widest vectors (AVX-512, AVX2)
//!
//! The kernels allocate each step's activations afresh. With glibc, blocks that large are
//! mapped from the kernel and unmapped when freed, so every step pays page faults for them; a
//! program that trains should make the allocator keep freed memory (the CLI does, with
//! `mallopt`, in its `alloc` module). That is the program's decision: the library leaves the
//! allocator as it finds it.

mod act;
mod autodiff;
mod cols;
mod conv;
mod depthwise;
mod dropout;
mod ext;
mod norm;
mod pool;
mod simd;

use act::Act;
pub(crate) use dropout::{DropoutKey, dropout};

use std::sync::atomic::{AtomicBool, Ordering};

use burn::backend::ops::ConvOptions;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Dispatch, DispatchDevice};
use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::tensor::{DType, Tensor};

static OWN_KERNELS: AtomicBool = AtomicBool::new(true);

/// Turns imgclass's own CPU kernels on (the default) or off, for the whole process; off, every
/// op runs on Burn's `flex` implementation. For comparisons and benchmarks: results agree
/// within float rounding either way.
pub fn use_own_kernels(on: bool) {
    OWN_KERNELS.store(on, Ordering::Relaxed);
}

/// Whether the tensors of `device` live on the flex backend (with or without autodiff).
fn on_flex(device: &burn::tensor::Device) -> bool {
    matches!(device.as_dispatch().clone().inner(), DispatchDevice::Flex(_))
}

/// 2-D convolution of `x` `[N, C_in, H, W]` with `w` `[C_out, C_in / groups, kh, kw]`, plus
/// `bias`, as [`burn::tensor::module::conv2d`].
pub(crate) fn conv2d(x: Tensor<4>, w: Tensor<4>, bias: Option<Tensor<1>>, options: ConvOptions<2>) -> Tensor<4> {
    conv2d_with(x, w, bias, options, OWN_KERNELS.load(Ordering::Relaxed))
}

/// [`conv2d`], on our kernels only when `own` (tests compare both in one process).
fn conv2d_with(x: Tensor<4>, w: Tensor<4>, bias: Option<Tensor<1>>, options: ConvOptions<2>, own: bool) -> Tensor<4> {
    let covered = own
        && x.dtype() == DType::F32
        && w.dtype() == DType::F32
        && on_flex(&x.device())
        && conv::Geometry::covered(x.dims(), w.dims(), &options).is_some();
    if !covered {
        return burn::tensor::module::conv2d(x, w, bias, options);
    }
    let out = Tensor::from_dispatch(ext::conv2d_dispatch(x.into_dispatch(), w.into_dispatch(), options));
    match bias {
        Some(b) => {
            let c = b.dims()[0];
            out + b.reshape([1, c, 1, 1])
        }
        None => out,
    }
}

/// [`conv2d`] with a [`burn::nn::conv::Conv2d`]'s parameters and padding: the module's own
/// forward, on our kernels where they apply.
pub(crate) fn conv2d_module(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let options = conv_options(conv, &x);
    conv2d(x, conv.weight.val(), conv.bias.as_ref().map(|b| b.val()), options)
}

/// A [`Conv2d`]'s options for input `x`, its padding computed as the module does.
fn conv_options(conv: &Conv2d, x: &Tensor<4>) -> ConvOptions<2> {
    let [_, _, h, w] = x.dims();
    let padding = same_or_explicit(&conv.padding, [h, w], conv.kernel_size, conv.stride);
    ConvOptions::new_with_padding(conv.stride, padding, conv.dilation, conv.groups)
}

/// A convolution then its batch norm: `batch_norm(bn, conv2d_module(conv, x))`, with the
/// batch norm folded into the convolution in inference (see [`conv_bn_with`]).
pub(crate) fn conv_bn(conv: &Conv2d, bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    conv_bn_with(conv, bn, x, Act::Identity, OWN_KERNELS.load(Ordering::Relaxed))
}

/// [`conv_bn`] then a ReLU.
pub(crate) fn conv_bn_relu(conv: &Conv2d, bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    conv_bn_with(conv, bn, x, Act::Relu, OWN_KERNELS.load(Ordering::Relaxed))
}

/// [`conv_bn`] then a ReLU6.
pub(crate) fn conv_bn_relu6(conv: &Conv2d, bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    conv_bn_with(conv, bn, x, Act::Relu6, OWN_KERNELS.load(Ordering::Relaxed))
}

/// A convolution, its batch norm, then `act`. In inference (no autodiff) on our kernels, the
/// batch norm is folded into the convolution: its weights scaled by `γ / √(var + ε)` per
/// output channel, and `β − mean · scale` (plus the scaled bias) added with the activation as
/// each image's output is written — no pass over the activations of its own. Otherwise, and
/// for what our kernels do not cover, the two layers as they are.
fn conv_bn_with(conv: &Conv2d, bn: &BatchNorm, x: Tensor<4>, act: Act, own: bool) -> Tensor<4> {
    let device = x.device();
    let options = conv_options(conv, &x);
    let weight = conv.weight.val();
    let folded = own
        && !device.is_autodiff()
        && x.dtype() == DType::F32
        && weight.dtype() == DType::F32
        && on_flex(&device)
        && conv::Geometry::covered(x.dims(), weight.dims(), &options).is_some();
    if !folded {
        return batch_norm_with(bn, conv2d_module(conv, x), act, own);
    }
    let stat = |s: &burn::module::RunningState<Tensor<1>>| s.value().to_device(&device);
    let scale = bn.gamma.val() / (stat(&bn.running_var) + bn.epsilon).sqrt();
    let mut shift = bn.beta.val() - stat(&bn.running_mean) * scale.clone();
    if let Some(bias) = &conv.bias {
        shift = shift + bias.val() * scale.clone();
    }
    let weight = weight * scale.unsqueeze_dims::<4>(&[1, 2, 3]);
    let y = ext::conv2d_shift_act_dispatch(
        x.into_dispatch(),
        weight.into_dispatch(),
        shift.into_dispatch(),
        (options, act),
    );
    Tensor::from_dispatch(y)
}

/// A [`BatchNorm`]'s forward, as [`BatchNorm::forward`], then `act`: in training (an autodiff
/// device and the layer not frozen) on our fused kernel where it applies, with the same
/// running-statistics update; in inference on ours, one pass with the running statistics;
/// otherwise the layer's own. Ours only when `own`.
fn batch_norm_with(bn: &BatchNorm, x: Tensor<4>, act: Act, own: bool) -> Tensor<4> {
    let device = x.device();
    let ours = own && x.dtype() == DType::F32 && on_flex(&device) && norm::Planes::of(&x.dims()).is_some();
    let affine = || (bn.gamma.val().into_dispatch(), bn.beta.val().into_dispatch());
    if ours && !device.is_autodiff() {
        // Inference (as Burn's `BatchNorm` chooses it): one pass over the activations with the
        // running statistics, instead of Burn's four (and their allocations).
        let stat = |s: &burn::module::RunningState<Tensor<1>>| s.value().to_device(&device).into_dispatch();
        let stats = (stat(&bn.running_mean), stat(&bn.running_var));
        let y = ext::batch_norm_eval_dispatch(x.into_dispatch(), affine(), stats, (bn.epsilon, act));
        return Tensor::from_dispatch(y);
    }
    // Training, on an autodiff device with the layer not frozen (as Burn's `BatchNorm`).
    if !(ours && device.is_autodiff() && bn.training.is_enabled()) {
        let y = bn.forward(x);
        return match act {
            Act::Identity => y,
            Act::Relu => burn::tensor::activation::relu(y),
            Act::Relu6 => y.clamp(0.0, 6.0),
        };
    }
    let (gamma, beta) = affine();
    let (y, mean, var) = ext::batch_norm_dispatch(x.into_dispatch(), gamma, beta, bn.epsilon, act);
    let update = |state: &burn::module::RunningState<Tensor<1>>, batch: FloatTensor<Dispatch>| {
        let batch = Tensor::<1>::from_dispatch(batch).detach().mul_scalar(bn.momentum);
        let running = state.value_sync().to_device(&device).mul_scalar(1.0 - bn.momentum).add(batch);
        state.update(running.detach());
    };
    update(&bn.running_mean, mean);
    update(&bn.running_var, var);
    Tensor::from_dispatch(y)
}

/// A [`MaxPool2d`]'s forward, on our kernel for 2×2 windows with stride 2 and no padding.
pub(crate) fn max_pool2d(layer: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    max_pool2d_with(layer, x, OWN_KERNELS.load(Ordering::Relaxed))
}

/// [`max_pool2d`], on our kernel only when `own`.
fn max_pool2d_with(layer: &MaxPool2d, x: Tensor<4>, own: bool) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let padding = same_or_explicit(&layer.padding, [h, w], layer.kernel_size, layer.stride);
    let covered = own
        && layer.kernel_size == [2, 2]
        && layer.stride == [2, 2]
        && layer.dilation == [1, 1]
        && padding == [(0, 0), (0, 0)]
        && (!layer.ceil_mode || (h % 2 == 0 && w % 2 == 0))
        && x.dtype() == DType::F32
        && on_flex(&x.device())
        && pool::Pool2::of(x.dims()).is_some();
    if !covered {
        return layer.forward(x);
    }
    Tensor::from_dispatch(ext::max_pool_dispatch(x.into_dispatch()))
}

/// Padding pairs `[(top, bottom), (left, right)]`, computed as Burn's `Conv2d` does.
fn same_or_explicit(
    padding: &burn::nn::PaddingConfig2d,
    [h, w]: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
) -> [(usize, usize); 2] {
    use burn::nn::PaddingConfig2d as P;
    let same = |size: usize, k: usize, s: usize| {
        let out = size.div_ceil(s);
        let total = if out > 0 { ((out - 1) * s + k).saturating_sub(size) } else { 0 };
        (total / 2, total - total / 2)
    };
    match padding {
        P::Valid => [(0, 0), (0, 0)],
        P::Same => [same(h, kernel[0], stride[0]), same(w, kernel[1], stride[1])],
        P::Explicit(top, left, bottom, right) => [(*top, *bottom), (*left, *right)],
    }
}

#[cfg(test)]
mod tests;
