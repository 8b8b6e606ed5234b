//! The `Autodiff` side of the backend extension: each op of [`Kernels`] on an autodiff
//! backend records itself with its hand-written backward ([`KernelGrads`], on the backend it
//! wraps), so gradients flow through our kernels as through Burn's own ops.

use burn::backend::Scalar;
use burn::backend::TensorMetadata;
use burn::backend::ops::ConvOptions;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend};
use burn::tensor::Shape;
use burn_autodiff::NodeId;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::CheckpointStrategy;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};

use super::act::Act;
use super::ext::{KernelGrads, Kernels};

#[derive(Debug)]
struct ConvBackward;

impl<B: Backend + KernelGrads> Backward<B, 2> for ConvBackward {
    type State = (NodeId, NodeId, ConvOptions<2>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x, node_w] = ops.parents;
        let dy = grads.consume::<B>(&ops.node);
        let (xs, ws, options) = ops.state;
        let x = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(xs);
        let w = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(ws);
        if let Some(node) = node_x {
            let dx = B::conv2d_no_bias_dx(x.shape().to_vec(), w.clone(), dy.clone(), options.clone());
            grads.register::<B>(node.id, dx);
        }
        if let Some(node) = node_w {
            grads.register::<B>(node.id, B::conv2d_no_bias_dw(x, w.shape().to_vec(), dy, options));
        }
    }
}

#[derive(Debug)]
struct MaxPoolBackward;

impl<B: Backend + KernelGrads> Backward<B, 1> for MaxPoolBackward {
    type State = NodeId;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let dy = grads.consume::<B>(&ops.node);
        let x = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(ops.state);
        if let Some(node) = node_x {
            grads.register::<B>(node.id, B::max_pool2x2_backward(x, dy));
        }
    }
}

#[derive(Debug)]
struct BatchNormBackward;

impl<B: Backend + KernelGrads> Backward<B, 3> for BatchNormBackward {
    /// Checkpointed x, γ, β; the batch mean and variance; ε and the activation.
    type State = ([NodeId; 3], (B::FloatTensorPrimitive, B::FloatTensorPrimitive), (f64, Act));

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let dy = grads.consume::<B>(&ops.node);
        let ([xs, gs, bs], stats, options) = ops.state;
        let mut get = |id| checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(id);
        let (x, gamma, beta) = (get(xs), get(gs), get(bs));
        let (dx, dgamma, dbeta) = B::batch_norm_train_fused_backward(x, (gamma, beta), stats, options, dy);
        for (node, grad) in [(node_x, dx), (node_gamma, dgamma), (node_beta, dbeta)] {
            if let Some(node) = node {
                grads.register::<B>(node.id, grad);
            }
        }
    }
}

impl<B: Backend + Kernels + KernelGrads, C: CheckpointStrategy> Kernels for Autodiff<B, C> {
    fn conv2d_no_bias(x: FloatTensor<Self>, w: FloatTensor<Self>, options: ConvOptions<2>) -> FloatTensor<Self> {
        match ConvBackward.prepare::<C>([x.node(), w.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let xs = prep.checkpoint(&x);
                let ws = prep.checkpoint(&w);
                let out = B::conv2d_no_bias(x.into_primitive(), w.into_primitive(), options.clone());
                prep.finish((xs, ws, options), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::conv2d_no_bias(x.into_primitive(), w.into_primitive(), options)),
        }
    }

    fn batch_norm_eval_fused(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        var: FloatTensor<Self>,
        (epsilon, act): (f64, Act),
    ) -> FloatTensor<Self> {
        // Only inference, without autodiff, routes here; composed of Burn's differentiable ops
        // all the same, so that a gradient would be right: y = x · scale + (β − mean · scale),
        // scale = γ / √(var + ε).
        let c = gamma.shape()[0];
        let per_channel = |t| Self::float_reshape(t, Shape::from(vec![1, c, 1, 1]));
        let dtype = x.dtype();
        let std = Self::float_sqrt(Self::float_add_scalar(var, Scalar::new(epsilon, &dtype)));
        let scale = Self::float_div(gamma, std);
        let shift = Self::float_sub(beta, Self::float_mul(mean, scale.clone()));
        let y = Self::float_add(Self::float_mul(x, per_channel(scale)), per_channel(shift));
        activation::<Self>(y, act)
    }

    fn conv2d_shift_act(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        shift: FloatTensor<Self>,
        (options, act): (ConvOptions<2>, Act),
    ) -> FloatTensor<Self> {
        // Only inference, without autodiff, routes here; composed of differentiable ops all
        // the same, so that a gradient would be right.
        let c = shift.shape()[0];
        let y = Self::conv2d_no_bias(x, w, options);
        let y = Self::float_add(y, Self::float_reshape(shift, Shape::from(vec![1, c, 1, 1])));
        activation::<Self>(y, act)
    }

    fn max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match MaxPoolBackward.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let xs = prep.checkpoint(&x);
                prep.finish(xs, B::max_pool2x2(x.into_primitive()))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::max_pool2x2(x.into_primitive())),
        }
    }

    fn batch_norm_train_fused(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        act: Act,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let parents = [x.node(), gamma.node(), beta.node()];
        match BatchNormBackward.prepare::<C>(parents).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let ids = [prep.checkpoint(&x), prep.checkpoint(&gamma), prep.checkpoint(&beta)];
                let (x, gamma, beta) = (x.into_primitive(), gamma.into_primitive(), beta.into_primitive());
                let (y, mean, var) = B::batch_norm_train_fused(x, gamma, beta, epsilon, act);
                let state = (ids, (mean.clone(), var.clone()), (epsilon, act));
                (prep.finish(state, y), FloatTensor::<Self>::new(mean), FloatTensor::<Self>::new(var))
            }
            OpsKind::UnTracked(prep) => {
                let (x, gamma, beta) = (x.into_primitive(), gamma.into_primitive(), beta.into_primitive());
                let (y, mean, var) = B::batch_norm_train_fused(x, gamma, beta, epsilon, act);
                (prep.finish(y), FloatTensor::<Self>::new(mean), FloatTensor::<Self>::new(var))
            }
        }
    }
}

/// `act` applied to `y`, with Burn's ops (and their gradients).
fn activation<B: Backend>(y: FloatTensor<B>, act: Act) -> FloatTensor<B> {
    let dtype = y.dtype();
    match act {
        Act::Identity => y,
        Act::Relu => B::float_clamp_min(y, Scalar::new(0.0, &dtype)),
        Act::Relu6 => B::float_clamp(y, Scalar::new(0.0, &dtype), Scalar::new(6.0, &dtype)),
    }
}
