//! The kernels plugged into Burn through its backend extension (`#[backend_extension]`): one
//! op trait and its `Flex` implementation (our CPU kernels); the `Autodiff` implementation,
//! which records the ops with their hand-written backward, is in `autodiff`. Callers go
//! through the functions of [`super`], which send only covered shapes on the flex device here.

use burn::backend::TensorMetadata;
use burn::backend::ops::ConvOptions;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{Shape, TensorData};

use super::act::Act;
use super::conv::{self, Geometry};
use super::norm::{self, Affine, Planes};
use super::pool::{self, Pool2};

/// The ops imgclass computes with its own kernels.
#[backend_extension(Flex, Autodiff)]
pub(crate) trait Kernels: Backend {
    /// 2-D convolution without bias (f32, groups 1 or depthwise, dilation 1: see
    /// [`Geometry::covered`]).
    fn conv2d_no_bias(x: FloatTensor<Self>, w: FloatTensor<Self>, options: ConvOptions<2>) -> FloatTensor<Self>;
    /// Batch norm in training mode over dim 1 (f32), then the activation `act`: the output, the
    /// batch mean and variance.
    fn batch_norm_train_fused(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        act: Act,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
    /// 2×2 max pooling with stride 2, no padding, floor mode (f32).
    fn max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// Batch norm in inference mode over dim 1 (f32) with the running `mean` and `var`, then
    /// the activation `act`. (Tensors one by one: the extension macro does not unpack tuples.)
    fn batch_norm_eval_fused(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        var: FloatTensor<Self>,
        options: (f64, Act),
    ) -> FloatTensor<Self>;
    /// Inference: a convolution without bias (as [`Kernels::conv2d_no_bias`]), then `+ shift` per
    /// output channel and the activation, applied as each image's output is written — a batch
    /// norm folded into the weights and `shift`.
    fn conv2d_shift_act(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        shift: FloatTensor<Self>,
        options: (ConvOptions<2>, Act),
    ) -> FloatTensor<Self>;
}

/// The backward kernels, called by the autodiff op on the backend it wraps (so no dispatch).
pub(crate) trait KernelGrads: Backend {
    /// The input gradient of [`Kernels::conv2d_no_bias`], from its weight and output gradient.
    fn conv2d_no_bias_dx(
        x_shape: Vec<usize>,
        w: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;
    /// The weight gradient of [`Kernels::conv2d_no_bias`], from its input and output gradient.
    fn conv2d_no_bias_dw(
        x: FloatTensor<Self>,
        w_shape: Vec<usize>,
        dy: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;
    /// The gradients of `x`, `gamma` and `beta` of [`Kernels::batch_norm_train_fused`].
    fn batch_norm_train_fused_backward(
        x: FloatTensor<Self>,
        affine: (FloatTensor<Self>, FloatTensor<Self>),
        stats: (FloatTensor<Self>, FloatTensor<Self>),
        options: (f64, Act),
        dy: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
    /// The input gradient of [`Kernels::max_pool2x2`].
    fn max_pool2x2_backward(x: FloatTensor<Self>, dy: FloatTensor<Self>) -> FloatTensor<Self>;
}

fn dims4(shape: &[usize]) -> [usize; 4] {
    [shape[0], shape[1], shape[2], shape[3]]
}

/// The geometry of a convolution the router already checked.
fn geometry(x: &[usize], w: &[usize], options: &ConvOptions<2>) -> Geometry {
    Geometry::covered(dims4(x), dims4(w), options).expect("kernels::conv2d routes only covered shapes")
}

/// A contiguous f32 copy-free view of a flex tensor's values.
fn values(t: &FloatTensor<Flex>) -> std::borrow::Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(t.to_contiguous().as_slice::<f32>().expect("contiguous f32").to_vec()),
    }
}

fn tensor(values: Vec<f32>, shape: Vec<usize>) -> FloatTensor<Flex> {
    FloatTensor::<Flex>::from_data(TensorData::new(values, Shape::from(shape)))
}

impl Kernels for Flex {
    fn conv2d_no_bias(x: FloatTensor<Self>, w: FloatTensor<Self>, options: ConvOptions<2>) -> FloatTensor<Self> {
        let g = geometry(&x.shape(), &w.shape(), &options);
        let (oh, ow) = g.out_hw();
        tensor(conv::forward(&g, &values(&x), &values(&w), None), vec![g.batch, g.c_out, oh, ow])
    }

    fn conv2d_shift_act(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        shift: FloatTensor<Self>,
        (options, act): (ConvOptions<2>, Act),
    ) -> FloatTensor<Self> {
        let g = geometry(&x.shape(), &w.shape(), &options);
        let (oh, ow) = g.out_hw();
        let y = conv::forward(&g, &values(&x), &values(&w), Some((&values(&shift), act)));
        tensor(y, vec![g.batch, g.c_out, oh, ow])
    }

    fn batch_norm_train_fused(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        act: Act,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let shape = x.shape().to_vec();
        let p = Planes::of(&shape).expect("kernels::batch_norm routes only non-empty inputs");
        let (gamma, beta) = (values(&gamma), values(&beta));
        let affine = Affine { gamma: &gamma, beta: &beta, eps: epsilon, act };
        let [y, mean, var] = norm::forward(&p, &values(&x), affine);
        (tensor(y, shape), tensor(mean, vec![p.c]), tensor(var, vec![p.c]))
    }

    fn max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let shape = dims4(&x.shape());
        let p = Pool2::of(shape).expect("kernels::max_pool2d routes only poolable inputs");
        let (oh, ow) = p.out_hw();
        tensor(pool::forward(&p, &values(&x)), vec![shape[0], shape[1], oh, ow])
    }

    fn batch_norm_eval_fused(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        var: FloatTensor<Self>,
        (epsilon, act): (f64, Act),
    ) -> FloatTensor<Self> {
        let shape = x.shape().to_vec();
        let p = Planes::of(&shape).expect("kernels::batch_norm routes only non-empty inputs");
        let (gamma, beta, mean, var) = (values(&gamma), values(&beta), values(&mean), values(&var));
        let affine = Affine { gamma: &gamma, beta: &beta, eps: epsilon, act };
        tensor(norm::normalize(&p, &values(&x), affine, [&mean, &var]), shape)
    }
}

impl KernelGrads for Flex {
    fn conv2d_no_bias_dx(
        x_shape: Vec<usize>,
        w: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let g = geometry(&x_shape, &w.shape(), &options);
        tensor(conv::backward_x(&g, &values(&w), &values(&dy)), x_shape)
    }

    fn conv2d_no_bias_dw(
        x: FloatTensor<Self>,
        w_shape: Vec<usize>,
        dy: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let g = geometry(&x.shape(), &w_shape, &options);
        tensor(conv::backward_w(&g, &values(&x), &values(&dy)), w_shape)
    }

    fn batch_norm_train_fused_backward(
        x: FloatTensor<Self>,
        (gamma, beta): (FloatTensor<Self>, FloatTensor<Self>),
        (mean, var): (FloatTensor<Self>, FloatTensor<Self>),
        (epsilon, act): (f64, Act),
        dy: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let shape = x.shape().to_vec();
        let p = Planes::of(&shape).expect("the forward had this shape");
        let (gamma, beta, mean, var) = (values(&gamma), values(&beta), values(&mean), values(&var));
        let affine = Affine { gamma: &gamma, beta: &beta, eps: epsilon, act };
        let [dx, dgamma, dbeta] = norm::backward(&p, &values(&x), affine, [&mean, &var], &values(&dy));
        (tensor(dx, shape), tensor(dgamma, vec![p.c]), tensor(dbeta, vec![p.c]))
    }

    fn max_pool2x2_backward(x: FloatTensor<Self>, dy: FloatTensor<Self>) -> FloatTensor<Self> {
        let shape = x.shape().to_vec();
        let p = Pool2::of(dims4(&shape)).expect("the forward had this shape");
        tensor(pool::backward(&p, &values(&x), &values(&dy)), shape)
    }
}

/// Batch norm in training mode (then `act`) through the dispatch: output, batch
/// mean, batch variance.
pub(crate) fn batch_norm_dispatch(
    x: FloatTensor<Dispatch>,
    gamma: FloatTensor<Dispatch>,
    beta: FloatTensor<Dispatch>,
    epsilon: f64,
    act: Act,
) -> (FloatTensor<Dispatch>, FloatTensor<Dispatch>, FloatTensor<Dispatch>) {
    <Dispatch as Kernels>::batch_norm_train_fused(x, gamma, beta, epsilon, act)
}

/// Batch norm in inference mode (then `act`) through the dispatch.
pub(crate) fn batch_norm_eval_dispatch(
    x: FloatTensor<Dispatch>,
    (gamma, beta): (FloatTensor<Dispatch>, FloatTensor<Dispatch>),
    (mean, var): (FloatTensor<Dispatch>, FloatTensor<Dispatch>),
    options: (f64, Act),
) -> FloatTensor<Dispatch> {
    <Dispatch as Kernels>::batch_norm_eval_fused(x, gamma, beta, mean, var, options)
}

/// 2×2 max pooling through the dispatch.
pub(crate) fn max_pool_dispatch(x: FloatTensor<Dispatch>) -> FloatTensor<Dispatch> {
    <Dispatch as Kernels>::max_pool2x2(x)
}

/// Convolution, `+ shift` and activation through the dispatch (inference).
pub(crate) fn conv2d_shift_act_dispatch(
    x: FloatTensor<Dispatch>,
    w: FloatTensor<Dispatch>,
    shift: FloatTensor<Dispatch>,
    options: (ConvOptions<2>, Act),
) -> FloatTensor<Dispatch> {
    <Dispatch as Kernels>::conv2d_shift_act(x, w, shift, options)
}

/// Forward through the dispatch: routes to `Flex` or `Autodiff<Flex>` by the tensors' device.
pub(crate) fn conv2d_dispatch(
    x: FloatTensor<Dispatch>,
    w: FloatTensor<Dispatch>,
    options: ConvOptions<2>,
) -> FloatTensor<Dispatch> {
    <Dispatch as Kernels>::conv2d_no_bias(x, w, options)
}
