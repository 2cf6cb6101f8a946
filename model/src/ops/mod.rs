//! Operations of the network that have a faster path on the CPU backend.
//!
//! On burn's flex backend (the CPU, natively and in the browser) ReLU6, the
//! depthwise convolutions, the stem and BatchNorm in training go through a
//! backend extension of hand-written kernels, gradients included;
//! everywhere else (wgpu, WebGPU) they are burn's own operations. The
//! values are the same either way.

pub mod batch_norm;
pub mod depthwise;
pub mod direct;
#[cfg(feature = "flex")]
mod extension;
pub mod kernels;

use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, PaddingConfig2d};
use burn::tensor::Tensor;
use burn::tensor::ops::ConvOptions;

/// Whether a tensor lives on flex (with or without autodiff).
#[cfg(feature = "flex")]
fn on_flex<const D: usize>(x: &Tensor<D>) -> bool {
    use burn::backend::DispatchDevice;
    matches!(x.device().as_dispatch().clone().inner(), DispatchDevice::Flex(_))
}

/// ReLU6: `min(max(x, 0), 6)`.
pub fn relu6(x: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if on_flex(&x) {
        return extension::relu6(x);
    }
    x.clamp(0.0, 6.0)
}

/// TensorFlow's "same" padding of one side: (before, after) for an output
/// of `ceil(size / stride)`.
fn same_padding(size: usize, kernel: usize, stride: usize) -> (usize, usize) {
    let total = ((size.div_ceil(stride) - 1) * stride + kernel).saturating_sub(size);
    (total / 2, total - total / 2)
}

/// `conv`'s options with its "same" padding made explicit for an input of
/// `height` x `width`.
#[cfg(feature = "flex")]
fn same_options(conv: &Conv2d, height: usize, width: usize) -> ConvOptions<2> {
    let rows = same_padding(height, conv.kernel_size[0], conv.stride[0]);
    let columns = same_padding(width, conv.kernel_size[1], conv.stride[1]);
    ConvOptions::new_with_padding(conv.stride, [rows, columns], conv.dilation, conv.groups)
}

/// `conv` (with "same" padding, no bias) applied to `x`. On the CPU the
/// depthwise convolutions and the stem run the kernel of [`direct`] (with
/// the gradients of [`depthwise`], or burn's for the stem); the others are
/// burn's.
pub fn convolution(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if on_flex(&x) && conv.bias.is_none() && matches!(conv.padding, PaddingConfig2d::Same) {
        let [_, _, height, width] = x.dims();
        return extension::direct_conv2d(x, conv.weight.val(), same_options(conv, height, width));
    }
    conv.forward(x)
}

/// `conv` (with "same" padding and a bias: a BatchNorm folded in) applied
/// to `x`, then ReLU6 if `activate`. On the CPU the bias and the activation
/// are one pass over the output instead of two, and the depthwise
/// convolutions and the stem add them as they compute each output.
pub fn conv_bias(conv: &Conv2d, x: Tensor<4>, activate: bool) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if let Some(bias) = &conv.bias
        && on_flex(&x)
        && matches!(conv.padding, PaddingConfig2d::Same)
    {
        let [_, _, height, width] = x.dims();
        let options = same_options(conv, height, width);
        return extension::conv2d_bias(x, conv.weight.val(), bias.val(), options, activate);
    }
    let y = conv.forward(x);
    if activate { relu6(y) } else { y }
}

/// `bn` applied to `x`. In training (an autodiff device and a layer not
/// frozen) on the CPU, the batch's statistics come from the kernels of
/// [`batch_norm`] and update the running ones as burn's `BatchNorm` does;
/// otherwise it is burn's `BatchNorm`.
pub fn batch_norm(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    #[cfg(all(feature = "flex", feature = "autodiff"))]
    if on_flex(&x) && x.device().is_autodiff() && bn.training.is_enabled() {
        let (y, mean, variance) =
            extension::batch_norm_train(x, bn.gamma.val(), bn.beta.val(), bn.epsilon);
        let device = y.device();
        let m = bn.momentum;
        let update = |running: Tensor<1>, batch: Tensor<1>| {
            running
                .to_device(&device)
                .mul_scalar(1.0 - m)
                .add(batch.detach().mul_scalar(m))
                .detach()
        };
        bn.running_mean.update(update(bn.running_mean.value_sync(), mean));
        bn.running_var.update(update(bn.running_var.value_sync(), variance));
        return y;
    }
    bn.forward(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::{Device, Distribution};

    #[test]
    fn same_padding_is_tensorflows() {
        assert_eq!(same_padding(7, 3, 1), (1, 1));
        assert_eq!(same_padding(8, 3, 2), (0, 1));
        assert_eq!(same_padding(7, 5, 2), (2, 2));
        assert_eq!(same_padding(160, 5, 2), (1, 2));
    }

    /// The fused convolution + bias (+ ReLU6) equals burn's own, for the
    /// convolutions of the network: 1x1, depthwise 3x3 and 5x5 with either
    /// stride, and the stem's 3x3 over 3 channels.
    #[test]
    fn the_fused_convolution_matches_burns() {
        let device = Device::flex();
        for (channels, kernel, stride, groups) in
            [([6, 6], 3, 1, 6), ([6, 6], 5, 2, 6), ([4, 8], 1, 1, 1), ([3, 8], 3, 2, 1)]
        {
            let conv: Conv2d = Conv2dConfig::new(channels, [kernel, kernel])
                .with_stride([stride, stride])
                .with_groups(groups)
                .with_padding(PaddingConfig2d::Same)
                .with_bias(true)
                .init(&device);
            let x = Tensor::<4>::random(
                [2, channels[0], 11, 10],
                Distribution::Uniform(-8.0, 8.0),
                &device,
            );
            for activate in [false, true] {
                let theirs = conv.forward(x.clone());
                let theirs = if activate { theirs.clamp(0.0, 6.0) } else { theirs };
                let ours = conv_bias(&conv, x.clone(), activate);
                assert_eq!(ours.dims(), theirs.dims());
                let (a, b) = (
                    ours.into_data().try_to_vec::<f32>().unwrap(),
                    theirs.into_data().try_to_vec::<f32>().unwrap(),
                );
                let worst = a.iter().zip(&b).fold(0.0f32, |m, (p, q)| m.max((p - q).abs()));
                assert!(worst < 1e-4, "kernel {kernel} stride {stride} relu6 {activate}: {worst}");
            }
        }
    }

    /// In training, the BatchNorm kernels give burn's values, gradients and
    /// running statistics.
    #[test]
    fn the_batch_norm_kernels_match_burns() {
        use burn::nn::BatchNormConfig;
        let device = Device::flex().autodiff();
        // Two layers, not clones: a clone shares its running statistics.
        let ours_bn: BatchNorm = BatchNormConfig::new(5).with_momentum(0.3).init(&device);
        let theirs_bn: BatchNorm = BatchNormConfig::new(5).with_momentum(0.3).init(&device);
        let x = Tensor::<4>::random([3, 5, 6, 7], Distribution::Uniform(-3.0, 5.0), &device)
            .require_grad();
        let ours = batch_norm(&ours_bn, x.clone());
        let theirs = theirs_bn.forward(x.clone());
        let weights = Tensor::<4>::random(ours.dims(), Distribution::Default, &device);
        let grads_ours = (ours.clone() * weights.clone()).sum().backward();
        let grads_theirs = (theirs.clone() * weights).sum().backward();
        let close = |a: Vec<f32>, b: Vec<f32>, what: &str| {
            assert_eq!(a.len(), b.len(), "{what}");
            let worst = a.iter().zip(&b).fold(0.0f32, |m, (p, q)| m.max((p - q).abs()));
            assert!(worst < 1e-4, "{what}: {worst}");
        };
        let v = |t: Tensor<4>| t.into_data().try_to_vec::<f32>().unwrap();
        let v1 = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().unwrap();
        close(v(ours.without_autodiff()), v(theirs.without_autodiff()), "values");
        close(v(x.grad(&grads_ours).unwrap()), v(x.grad(&grads_theirs).unwrap()), "input gradient");
        close(
            v1(ours_bn.gamma.val().grad(&grads_ours).unwrap()),
            v1(theirs_bn.gamma.val().grad(&grads_theirs).unwrap()),
            "gamma gradient",
        );
        close(
            v1(ours_bn.beta.val().grad(&grads_ours).unwrap()),
            v1(theirs_bn.beta.val().grad(&grads_theirs).unwrap()),
            "beta gradient",
        );
        close(v1(ours_bn.running_mean.value()), v1(theirs_bn.running_mean.value()), "running mean");
        close(
            v1(ours_bn.running_var.value()),
            v1(theirs_bn.running_var.value()),
            "running variance",
        );
    }

    /// Values and gradients of the fast path equal burn's own operations.
    #[test]
    fn the_cpu_path_matches_burns_operations() {
        let device = Device::flex().autodiff();
        // Depthwise, then the stem's shape (three colours into eight), then
        // a pointwise convolution (burn's own).
        for (channels, groups, kernel, stride) in [
            ([6, 6], 6, 3, 1),
            ([6, 6], 6, 5, 2),
            ([6, 6], 6, 3, 2),
            ([6, 6], 6, 5, 1),
            ([3, 8], 1, 3, 2),
            ([6, 4], 1, 1, 1),
        ] {
            let conv: Conv2d = Conv2dConfig::new(channels, [kernel, kernel])
                .with_stride([stride, stride])
                .with_groups(groups)
                .with_padding(PaddingConfig2d::Same)
                .with_bias(false)
                .init(&device);
            let x = Tensor::<4>::random(
                [2, channels[0], 11, 9],
                Distribution::Uniform(-8.0, 8.0),
                &device,
            )
            .require_grad();
            let ours = relu6(convolution(&conv, x.clone()));
            let theirs = conv.forward(x.clone()).clamp(0.0, 6.0);
            let weights = Tensor::<4>::random(ours.dims(), Distribution::Default, &device);
            let grads_ours = (ours.clone() * weights.clone()).sum().backward();
            let grads_theirs = (theirs.clone() * weights).sum().backward();
            let close = |a: Tensor<4>, b: Tensor<4>, what: &str| {
                let (a, b): (Vec<f32>, Vec<f32>) = (
                    a.into_data().try_to_vec::<f32>().unwrap(),
                    b.into_data().try_to_vec::<f32>().unwrap(),
                );
                let worst = a.iter().zip(&b).fold(0.0f32, |m, (p, q)| m.max((p - q).abs()));
                assert!(worst < 1e-4, "{what}, kernel {kernel} stride {stride}: {worst}");
            };
            close(ours.without_autodiff(), theirs.without_autodiff(), "values");
            close(x.grad(&grads_ours).unwrap(), x.grad(&grads_theirs).unwrap(), "input gradient");
            let weight = conv.weight.val();
            close(
                weight.grad(&grads_ours).unwrap(),
                weight.grad(&grads_theirs).unwrap(),
                "filter gradient",
            );
            let _ = conv.num_params();
        }
    }
}
