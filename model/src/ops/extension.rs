//! burn's backend extension for what the CPU backend (flex) is slow at:
//! ReLU6 (one thread, and through masks to differentiate), the depthwise
//! convolutions and the stem (see [`super::direct`]) and the depthwise
//! gradients (one convolution per channel for the filter gradient),
//! BatchNorm in training, and in inference a convolution's bias and
//! activation (two more passes over its output). The gradients (in
//! [`gradients`]) exist only with the `autodiff` feature, so the browser's
//! worker, which never trains, carries no autodiff.

use std::borrow::Cow;

use burn::backend::flex::{FlexTensor, Layout};
use burn::backend::ops::{ConvOptions, FloatTensorOps, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{Bytes, DType, Shape, Tensor};

use super::batch_norm::{self, Planes};
use super::direct::{self, Direct};
use super::kernels;

#[cfg(feature = "autodiff")]
mod gradients;

#[backend_extension(Flex, Autodiff: cfg(feature = "autodiff"))]
pub trait CpuOps: Backend {
    fn relu6(x: FloatTensor<Self>) -> FloatTensor<Self>;
    fn direct_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;
    /// A convolution with a bias, optionally followed by ReLU6 (the folded
    /// convolutions of inference): one pass for bias and activation.
    fn conv2d_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
        relu6: bool,
    ) -> FloatTensor<Self>;
    /// BatchNorm with the batch's own statistics: the output, and each
    /// channel's mean and biased variance (for the running statistics).
    // Training only: unused in an inference-only build (the worker).
    #[cfg_attr(not(feature = "autodiff"), allow(dead_code))]
    fn batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

impl CpuOps for Flex {
    fn relu6(mut x: FloatTensor<Self>) -> FloatTensor<Self> {
        // In place and in parallel where the tensor is its own, else into a
        // new buffer (a tracked input kept for its gradient shares its
        // buffer); flex's clamp runs on one thread without wide vectors.
        if let Some(values) = own_values(&mut x) {
            kernels::relu6_in_place(values);
            return x;
        }
        let shape = x.layout().shape().clone();
        match contiguous(&x).map(|values| kernels::relu6(&values)) {
            Some(values) => tensor(values, shape),
            None => Flex::float_clamp(x, 0.0.into(), 6.0.into()),
        }
    }

    fn direct_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        direct_forward(&x, &weight, None, &options, false)
            .unwrap_or_else(|| Flex::conv2d(x, weight, None, options))
    }

    fn conv2d_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
        relu6: bool,
    ) -> FloatTensor<Self> {
        if let Some(y) = direct_forward(&x, &weight, Some(&bias), &options, relu6) {
            return y;
        }
        let mut y = Flex::conv2d(x, weight, None, options);
        let dims = y.layout().shape().clone();
        if let Some(b) = contiguous(&bias)
            && let Some(values) = own_values(&mut y)
        {
            kernels::bias_relu6_in_place(values, &b, dims[2] * dims[3], relu6);
            return y;
        }
        let bias = Flex::float_reshape(bias, Shape::new([1, dims[1], 1, 1]));
        let y = Flex::float_add(y, bias);
        if relu6 { Self::relu6(y) } else { y }
    }

    fn batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let fast = match (planes(&x), contiguous(&x), contiguous(&gamma), contiguous(&beta)) {
            (Some(p), Some(xs), Some(g), Some(b)) => {
                let (mean, variance) = batch_norm::statistics(&p, &xs);
                let y = batch_norm::normalize(&p, &xs, [&mean, &variance, &g, &b], epsilon as f32);
                Some((p, y, mean, variance))
            }
            _ => None,
        };
        match fast {
            Some((p, y, mean, variance)) => (
                tensor(y, x.layout().shape().clone()),
                tensor(mean, Shape::new([p.channels])),
                tensor(variance, Shape::new([p.channels])),
            ),
            None => {
                let r = <Flex as ModuleOps<Flex>>::batch_norm_train(x, gamma, beta, epsilon);
                (r.output, r.mean, r.variance)
            }
        }
    }
}

/// The shape of a convolution the direct kernel covers: square filters,
/// one stride, no dilation, f32, and each output reading one input
/// channel (depthwise) or all of at most four (the stem).
fn direct_shape(x: &FlexTensor, weight: &FlexTensor, options: &ConvOptions<2>) -> Option<Direct> {
    let (xs, ws) = (x.layout().shape(), weight.layout().shape());
    let fits = x.dtype() == DType::F32
        && weight.dtype() == DType::F32
        && xs.num_dims() == 4
        && ws.num_dims() == 4
        && ws[2] == ws[3]
        && options.stride[0] == options.stride[1]
        && options.dilation == [1, 1]
        && ((ws[1] == 1 && options.groups == xs[1] && ws[0] == xs[1])
            || (options.groups == 1 && ws[1] == xs[1] && xs[1] <= 4));
    let (k, s) = (ws[2], options.stride[0]);
    let out = |size: usize, (before, after): (usize, usize)| {
        (size + before + after).checked_sub(k).map(|v| v / s + 1)
    };
    fits.then_some(Direct {
        batch: xs[0],
        channels: [xs[1], ws[0]],
        group: ws[1],
        input: [xs[2], xs[3]],
        output: [out(xs[2], options.padding[0])?, out(xs[3], options.padding[1])?],
        kernel: k,
        stride: s,
        padding: [options.padding[0].0, options.padding[1].0],
    })
}

/// The direct kernel's forward pass (plus bias and ReLU6), when it covers
/// the convolution.
fn direct_forward(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: Option<&FlexTensor>,
    options: &ConvOptions<2>,
    relu6: bool,
) -> Option<FlexTensor> {
    let shape = direct_shape(x, weight, options)?;
    let bias = match bias {
        Some(b) => Some(contiguous(b)?),
        None => None,
    };
    let (xs, ws) = (contiguous(x)?, contiguous(weight)?);
    let y = direct::forward(&shape, &xs, &ws, bias.as_deref(), relu6);
    let [oh, ow] = shape.output;
    Some(tensor(y, Shape::new([shape.batch, shape.channels[1], oh, ow])))
}

/// The f32 values of a tensor in row-major order (a copy only when it is
/// not already laid out so).
fn contiguous(tensor: &FlexTensor) -> Option<Cow<'_, [f32]>> {
    if tensor.dtype() != DType::F32 {
        return None;
    }
    Some(match tensor.as_slice::<f32>() {
        Some(slice) => Cow::Borrowed(slice),
        None => Cow::Owned(tensor.to_contiguous().as_slice::<f32>()?.to_vec()),
    })
}

/// A tensor's f32 values to change in place: only when it is contiguous
/// from its start and no other tensor shares its buffer.
fn own_values(tensor: &mut FlexTensor) -> Option<&mut [f32]> {
    let layout = tensor.layout();
    if tensor.dtype() != DType::F32 || !layout.is_contiguous() || layout.start_offset() != 0 {
        return None;
    }
    let n = layout.num_elements();
    tensor.try_storage_mut::<f32>().map(|values| &mut values[..n])
}

fn tensor(values: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::new(Bytes::from_elems(values), Layout::contiguous(shape), DType::F32)
}

/// The layout of an f32 NCHW activation, for the BatchNorm kernels.
// Training only: unused in an inference-only build (the worker).
#[cfg_attr(not(feature = "autodiff"), allow(dead_code))]
fn planes(x: &FlexTensor) -> Option<Planes> {
    let s = x.layout().shape();
    (x.dtype() == DType::F32 && s.num_dims() == 4).then(|| Planes {
        batch: s[0],
        channels: s[1],
        plane: s[2] * s[3],
    })
}

/// ReLU6 through the extension.
pub fn relu6(x: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as CpuOps>::relu6(x.into_dispatch()))
}

/// A convolution with a bias (and optionally ReLU6) through the extension.
pub fn conv2d_bias(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Tensor<1>,
    options: ConvOptions<2>,
    relu6: bool,
) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as CpuOps>::conv2d_bias(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        options,
        relu6,
    ))
}

/// A convolution without bias through the extension.
pub fn direct_conv2d(x: Tensor<4>, weight: Tensor<4>, options: ConvOptions<2>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as CpuOps>::direct_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        options,
    ))
}

/// BatchNorm with the batch's statistics through the extension: the
/// output, the mean and the biased variance.
#[cfg(feature = "autodiff")]
pub fn batch_norm_train(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    let (y, mean, variance) = <Dispatch as CpuOps>::batch_norm_train(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon,
    );
    (Tensor::from_dispatch(y), Tensor::from_dispatch(mean), Tensor::from_dispatch(variance))
}
