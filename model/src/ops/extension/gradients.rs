//! The backward passes of the extension's operations on burn's autodiff
//! (training only): the kernels of [`super::kernels`] behind burn's
//! `Backward` interface.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::{ConvOptions, FloatTensorOps, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{AutodiffBackend, Flex};
use burn::tensor::{DType, Shape, TensorData};

use super::batch_norm;
use super::{CpuOps, contiguous, direct_shape, kernels, planes, tensor};
use crate::ops::depthwise;
use crate::ops::direct::Direct;

#[derive(Debug)]
struct Relu6Backward;

impl Backward<Flex, 1> for Relu6Backward {
    type State = NodeId;

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let x: FlexTensor = checkpointer.retrieve_node_output(ops.state);
        unary::<Flex, _>(ops.parents, ops.node, grads, |grad| {
            let shape = grad.layout().shape().clone();
            match (contiguous(&x), contiguous(&grad)) {
                (Some(xs), Some(gs)) => tensor(kernels::relu6_grad(&xs, &gs), shape),
                // Another dtype: through f32 and back.
                _ => {
                    let dtype = grad.dtype();
                    let xs = x.into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default();
                    let gs =
                        grad.into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default();
                    let data =
                        TensorData::new(kernels::relu6_grad(&xs, &gs), shape).convert_dtype(dtype);
                    FlexTensor::from_data(data)
                }
            }
        });
    }
}

/// The gradients of the convolutions routed through the extension: the
/// depthwise kernels', the pointwise ones' ([`pointwise_gradients`]), and
/// burn's for the rest (the stem, another dtype).
#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 2> for ConvBackward {
    type State = (NodeId, NodeId, ConvOptions<2>);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let (x_state, weight_state, options) = ops.state;
        let x: FlexTensor = checkpointer.retrieve_node_output(x_state);
        let weight: FlexTensor = checkpointer.retrieve_node_output(weight_state);
        if pointwise(&x, &weight, &options) {
            let [dx, dw] =
                pointwise_gradients(x, weight, grad, [node_x.is_some(), node_weight.is_some()]);
            for (node, value) in [(node_x, dx), (node_weight, dw)] {
                if let (Some(node), Some(value)) = (node, value) {
                    grads.register::<Flex>(node.id, value);
                }
            }
            return;
        }
        let shape = depthwise_shape(&x, &weight, &options);
        let values = (contiguous(&x), contiguous(&weight), contiguous(&grad), shape);
        let (Some(xs), Some(ws), Some(gs), Some(shape)) = values else {
            // Not depthwise (the stem) or another dtype: burn's own gradients.
            if let Some(node) = node_x {
                grads.register::<Flex>(
                    node.id,
                    Flex::conv2d_x_backward(
                        x.clone(),
                        weight.clone(),
                        grad.clone(),
                        options.clone(),
                    ),
                );
            }
            if let Some(node) = node_weight {
                grads.register::<Flex>(
                    node.id,
                    Flex::conv2d_weight_backward(x, weight, grad, options),
                );
            }
            return;
        };
        if let Some(node) = node_x {
            let dx = depthwise::input_grad(&shape, &ws, &gs);
            grads.register::<Flex>(node.id, tensor(dx, x.layout().shape().clone()));
        }
        if let Some(node) = node_weight {
            let dw = depthwise::weight_grad(&shape, &xs, &gs);
            grads.register::<Flex>(node.id, tensor(dw, weight.layout().shape().clone()));
        }
    }
}

/// A 1x1 convolution's gradients (those `wanted`, for x and the weight) as
/// matrix products on the planes where they lie: `dx = w^T dy` and `dw =
/// sum over the batch of dy x^T`. burn's generic ones convolve the
/// transposed activations with the gradient as a filter as large as the
/// image, through scalar copies into another layout.
fn pointwise_gradients(
    x: FlexTensor,
    weight: FlexTensor,
    grad: FlexTensor,
    wanted: [bool; 2],
) -> [Option<FlexTensor>; 2] {
    let x_shape = x.layout().shape().clone();
    let weight_shape = weight.layout().shape().clone();
    let (batch, inputs, outputs) = (x_shape[0], x_shape[1], weight_shape[0]);
    let plane = x_shape[2] * x_shape[3];
    let dy = Flex::float_reshape(grad, Shape::new([batch, outputs, plane]));
    let dx = wanted[0].then(|| {
        let w = Flex::float_reshape(weight, Shape::new([1, outputs, inputs]));
        let dx = Flex::float_matmul(Flex::float_swap_dims(w, 1, 2), dy.clone());
        Flex::float_reshape(dx, x_shape)
    });
    let dw = wanted[1].then(|| {
        let x = Flex::float_reshape(x, Shape::new([batch, inputs, plane]));
        let dw = Flex::float_sum_dim(Flex::float_matmul(dy, Flex::float_swap_dims(x, 1, 2)), 0);
        Flex::float_reshape(dw, weight_shape)
    });
    [dx, dw]
}

#[derive(Debug)]
struct BatchNormBackward;

impl Backward<Flex, 3> for BatchNormBackward {
    /// The input and gamma checkpointed; the batch's mean and variance as
    /// the forward pass computed them; epsilon.
    type State = (NodeId, NodeId, FlexTensor, FlexTensor, f64);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let (x_state, gamma_state, mean, variance, epsilon) = ops.state;
        let x: FlexTensor = checkpointer.retrieve_node_output(x_state);
        let gamma: FlexTensor = checkpointer.retrieve_node_output(gamma_state);
        let values = (
            planes(&x),
            contiguous(&x),
            contiguous(&grad),
            contiguous(&gamma),
            contiguous(&mean),
            contiguous(&variance),
        );
        let fast = match values {
            (Some(p), Some(xs), Some(gs), Some(g), Some(m), Some(v)) => {
                let (dx, dgamma, dbeta) =
                    batch_norm::gradients(&p, &xs, &gs, [&m, &v, &g], epsilon as f32);
                Some((p, dx, dgamma, dbeta))
            }
            _ => None,
        };
        let (dx, dgamma, dbeta) = match fast {
            Some((p, dx, dgamma, dbeta)) => (
                tensor(dx, x.layout().shape().clone()),
                tensor(dgamma, Shape::new([p.channels])),
                tensor(dbeta, Shape::new([p.channels])),
            ),
            // Another dtype: burn's own gradients.
            None => {
                let b = Flex::batch_norm_train_backward(x, gamma, mean, variance, epsilon, grad);
                (b.x_grad, b.gamma_grad, b.beta_grad)
            }
        };
        for (node, value) in [(node_x, dx), (node_gamma, dgamma), (node_beta, dbeta)] {
            if let Some(node) = node {
                grads.register::<Flex>(node.id, value);
            }
        }
    }
}

impl<C: CheckpointStrategy> CpuOps for Autodiff<Flex, C> {
    fn relu6(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match Relu6Backward.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let state = prep.checkpoint(&x);
                // The checkpoint shares the input's buffer, so this is not
                // in place: the gradient reads the input.
                prep.finish(state, <Flex as CpuOps>::relu6(x.into_primitive()))
            }
            OpsKind::UnTracked(prep) => prep.finish(<Flex as CpuOps>::relu6(x.into_primitive())),
        }
    }

    fn direct_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        // Covered: the depthwise convolutions and the stem (the direct
        // kernel) and the pointwise ones (burn's forward pass); see
        // `ConvBackward` for their gradients.
        let (xp, wp) = (x.primitive(), weight.primitive());
        if direct_shape(xp, wp, &options).is_none() && !pointwise(xp, wp, &options) {
            return <Self as ModuleOps<Self>>::conv2d(x, weight, None, options);
        }
        match ConvBackward.prepare::<C>([x.node(), weight.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let weight_state = prep.checkpoint(&weight);
                let output = <Flex as CpuOps>::direct_conv2d(
                    x.into_primitive(),
                    weight.into_primitive(),
                    options.clone(),
                );
                prep.finish((x_state, weight_state, options), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(<Flex as CpuOps>::direct_conv2d(
                x.into_primitive(),
                weight.into_primitive(),
                options,
            )),
        }
    }

    fn conv2d_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
        relu6: bool,
    ) -> FloatTensor<Self> {
        // Not a training path: burn's operations, differentiable as they are.
        let y = <Self as ModuleOps<Self>>::conv2d(x, weight, Some(bias), options);
        if relu6 { <Self as CpuOps>::relu6(y) } else { y }
    }

    fn batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        // The statistics leave untracked: they only feed the running ones.
        let constant = <Self as AutodiffBackend>::from_inner;
        match BatchNormBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let gamma_state = prep.checkpoint(&gamma);
                let (y, mean, variance) = <Flex as CpuOps>::batch_norm_train(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                );
                let state = (x_state, gamma_state, mean.clone(), variance.clone(), epsilon);
                (prep.finish(state, y), constant(mean), constant(variance))
            }
            OpsKind::UnTracked(prep) => {
                let (y, mean, variance) = <Flex as CpuOps>::batch_norm_train(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                );
                (prep.finish(y), constant(mean), constant(variance))
            }
        }
    }
}

/// The shape of a convolution the depthwise gradients cover: one input
/// channel per output, as many outputs as inputs.
fn depthwise_shape(
    x: &FlexTensor,
    weight: &FlexTensor,
    options: &ConvOptions<2>,
) -> Option<Direct> {
    direct_shape(x, weight, options).filter(|d| d.group == 1 && d.channels[0] == d.channels[1])
}

/// Whether a convolution is pointwise: 1x1 filters over all input
/// channels, stride 1, no padding, f32.
fn pointwise(x: &FlexTensor, weight: &FlexTensor, options: &ConvOptions<2>) -> bool {
    let (xs, ws) = (x.layout().shape(), weight.layout().shape());
    x.dtype() == DType::F32
        && weight.dtype() == DType::F32
        && xs.num_dims() == 4
        && ws.num_dims() == 4
        && ws[1] == xs[1]
        && ws[2] == 1
        && ws[3] == 1
        && options.groups == 1
        && options.stride == [1, 1]
        && options.padding == [(0, 0), (0, 0)]
}
