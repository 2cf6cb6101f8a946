//! Grad-CAM: where in the image the evidence for a class lies.
//!
//! The class score's gradient with respect to the last convolutional
//! feature map, averaged over space, weighs each channel; the weighted sum
//! of the channels, through a ReLU, is the map. Our head is a linear layer
//! on globally averaged features, so that gradient is known in closed form
//! (the class's head weights over the map's area) and no autodiff is needed:
//! a test checks it against burn's autodiff.

#[cfg(feature = "burn")]
use burn::nn::Linear;
#[cfg(feature = "burn")]
use burn::tensor::{Tensor, TensorData};

/// Raw Grad-CAM maps `[batch, classes, h, w]` of every class at once
/// (feature-map resolution, ReLU applied, not normalised) for the feature
/// maps `[batch, channels, h, w]` that `head` classifies after global
/// average pooling.
#[cfg(feature = "burn")]
pub fn grad_cams(head: &Linear, features: Tensor<4>) -> Tensor<4> {
    let [batch, channels, h, w] = features.dims();
    // d score_c / d A[k, i, j] = W[k, c] / (h * w) at every position, so the
    // maps of all classes are one product of the head's weights and the maps.
    let weights = head.weight.val().transpose().div_scalar((h * w) as f32);
    let classes = weights.dims()[0];
    let weights = weights.unsqueeze_dim::<3>(0).expand([batch, classes, channels]);
    let cams = weights.matmul(features.reshape([batch, channels, h * w]));
    burn::tensor::activation::relu(cams.reshape([batch, classes, h, w]))
}

/// Averages the members' raw maps of one image (all the same size).
pub fn mean_map(maps: &[Vec<f32>]) -> Vec<f32> {
    let Some(first) = maps.first() else { return Vec::new() };
    let n = maps.len() as f32;
    (0..first.len()).map(|i| maps.iter().map(|m| m[i]).sum::<f32>() / n).collect()
}

/// A `[h, w]` map resampled bilinearly to `to` (pixel centres aligned), not normalised.
pub fn resample(map: &[f32], size: [usize; 2], to: [usize; 2]) -> Vec<f32> {
    if size == to {
        return map.to_vec();
    }
    let [h, w] = size;
    let coordinate = |i: usize, out_len: usize, in_len: usize| -> (usize, usize, f32) {
        let x = ((i as f32 + 0.5) * in_len as f32 / out_len as f32 - 0.5)
            .clamp(0.0, (in_len - 1) as f32);
        let lo = x.floor() as usize;
        (lo, (lo + 1).min(in_len - 1), x - lo as f32)
    };
    let mut out = Vec::with_capacity(to[0] * to[1]);
    for y in 0..to[0] {
        let (y0, y1, fy) = coordinate(y, to[0], h);
        for x in 0..to[1] {
            let (x0, x1, fx) = coordinate(x, to[1], w);
            let top = map[y0 * w + x0] * (1.0 - fx) + map[y0 * w + x1] * fx;
            let bottom = map[y1 * w + x0] * (1.0 - fx) + map[y1 * w + x1] * fx;
            out.push(top * (1.0 - fy) + bottom * fy);
        }
    }
    out
}

/// The heat of a map over a whole `width` x `height` photo: the map covers
/// `region` (`[x, y, width, height]`, the part the network saw), normalised
/// to [0, 1]; outside it there is none.
pub fn photo_heat(
    map: &[f32],
    size: [usize; 2],
    width: u32,
    height: u32,
    region: [u32; 4],
) -> Vec<f32> {
    let [rx, ry, rw, rh] = region;
    let inside = upsample(map, size, rw, rh);
    let mut out = vec![0.0; width as usize * height as usize];
    for y in 0..rh.min(height.saturating_sub(ry)) {
        for x in 0..rw.min(width.saturating_sub(rx)) {
            out[((ry + y) * width + rx + x) as usize] = inside[(y * rw + x) as usize];
        }
    }
    out
}

/// Bilinear upsampling of a `[h, w]` map to `width` x `height` (pixel
/// centres aligned, as an image resize does), normalised to [0, 1]. A
/// constant map (no evidence anywhere) becomes all zeros.
pub fn upsample(map: &[f32], size: [usize; 2], width: u32, height: u32) -> Vec<f32> {
    let mut out = resample(map, size, [height as usize, width as usize]);
    let (lo, hi) =
        out.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let range = hi - lo;
    for v in &mut out {
        *v = if range > f32::EPSILON { (*v - lo) / range } else { 0.0 };
    }
    out
}

/// Reads a `[batch, h, w]` map tensor's values (for callers that may read synchronously).
#[cfg(feature = "burn")]
pub fn maps_from_data(data: TensorData) -> Result<Vec<Vec<f32>>, String> {
    let plane = data.shape().iter().skip(1).product::<usize>().max(1);
    let values: Vec<f32> = data.try_into_vec().map_err(|e| format!("{e:?}"))?;
    Ok(values.chunks(plane).map(<[f32]>::to_vec).collect())
}

#[cfg(test)]
#[cfg(feature = "burn")]
mod tests {
    use burn::module::{Module, Param};
    use burn::nn::conv::{Conv2d, Conv2dConfig};
    use burn::nn::{LinearConfig, PaddingConfig2d};
    use burn::optim::{AdamConfig, GradientsParams};
    use burn::tensor::{Device, Int, TensorData};

    use super::*;
    use crate::efficientnet::pool;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    /// The closed form against the definition: the gradient taken by
    /// burn's autodiff through the pooled linear head.
    #[test]
    fn grad_cam_equals_the_autodiff_definition() {
        let device = Device::flex().autodiff();
        let (c, h, w, k) = (16, 5, 6, 4);
        // Fixed values, not the device's random generator: other tests running
        // at the same time draw from it, and some draws leave a class's map all
        // zero, which would make the comparison empty.
        let mut head = LinearConfig::new(c, k).init(&device);
        let weights: Vec<f32> =
            (0..c * k).map(|i| ((i * 7 + i / k * 3) % 11) as f32 / 5.0 - 1.0).collect();
        head.weight = burn::module::Param::from_tensor(Tensor::from_data(
            TensorData::new(weights, [c, k]),
            &device,
        ));
        let maps: Vec<f32> =
            (0..2 * c * h * w).map(|i| ((i * 13 + i / (h * w) * 5) % 17) as f32 / 3.0).collect();
        let features = Tensor::<4>::from_data(TensorData::new(maps, [2, c, h, w]), &device);
        let mut worst = 0.0f32;
        for class in 0..k {
            let ours = values(grad_cams(&head, features.clone()).narrow(1, class, 1));
            let leaf = features.clone().require_grad();
            let score = head.forward(pool(leaf.clone())).slice([0..2, class..class + 1]).sum();
            let gradient = leaf.grad(&score.backward()).unwrap();
            let channel_weights = gradient.mean_dim(3).mean_dim(2);
            let defined = (features.clone().without_autodiff() * channel_weights)
                .sum_dim(1)
                .squeeze_dim::<3>(1);
            let defined = values(burn::tensor::activation::relu(defined));
            for (a, b) in ours.iter().zip(&defined) {
                worst = worst.max((a - b).abs());
            }
            assert!(ours.iter().any(|&v| v > 0.0));
        }
        println!("Grad-CAM closed form vs autodiff: max abs difference {worst:e}");
        assert!(worst < 1e-5, "the closed form differs from autodiff's by {worst}");
    }

    #[test]
    fn upsampling_keeps_the_peak_and_normalises() {
        // A 2x2 map with its peak top left.
        let map = [4.0, 1.0, 1.0, 0.0];
        let up = upsample(&map, [2, 2], 8, 6);
        assert_eq!(up.len(), 48);
        assert_eq!(up[0], 1.0);
        assert_eq!(up[47], 0.0);
        assert!(up.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(upsample(&[2.0; 4], [2, 2], 3, 3).iter().all(|&v| v == 0.0));
    }

    /// A tiny network: one convolution (the "last feature map") and a pooled linear head.
    #[derive(Module, Debug)]
    struct Tiny {
        conv: Conv2d,
        head: Linear,
    }

    impl Tiny {
        fn features(&self, x: Tensor<4>) -> Tensor<4> {
            burn::tensor::activation::relu(self.conv.forward(x))
        }
        fn forward(&self, x: Tensor<4>) -> Tensor<2> {
            self.head.forward(pool(self.features(x)))
        }
    }

    /// Values in [0, 1) from `seed`: burn's generator is one per device,
    /// shared with the tests running beside this one, so a seeded draw
    /// there would depend on what they draw.
    fn uniform(n: usize, seed: u64) -> Vec<f32> {
        (0..n as u64)
            .map(|i| {
                let h = (i ^ (seed << 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
                (h.wrapping_mul(0xBF58_476D_1CE4_E5B9) >> 40) as f32 / (1u64 << 24) as f32
            })
            .collect()
    }

    /// `values` as a tensor of `shape` on `device`.
    fn tensor<const D: usize>(values: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    /// Images of noise; class 1 has a bright cross in the top-left quadrant.
    fn synthetic(n: usize, seed: u64, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
        let size = 16;
        let noise: Vec<f32> = uniform(n * size * size, seed).iter().map(|v| v * 0.5).collect();
        let noise = tensor(noise, [n, 1, size, size], device);
        let mut mark = vec![0.0f32; n * size * size];
        let labels: Vec<i64> = (0..n).map(|i| (i % 2) as i64).collect();
        for i in (1..n).step_by(2) {
            // The mark moves around inside the quadrant so that position within it does not matter.
            let (cy, cx) = (2 + (i * 3) % 4, 2 + (i * 5) % 4);
            for d in 0..3 {
                mark[i * size * size + (cy + d - 1) * size + cx] = 1.0;
                mark[i * size * size + cy * size + cx + d - 1] = 1.0;
            }
        }
        let mark = Tensor::<4>::from_data(TensorData::new(mark, [n, 1, size, size]), device);
        (noise + mark, Tensor::from_data(TensorData::new(labels, [n]), device))
    }

    #[test]
    fn a_trained_models_map_peaks_where_the_evidence_is() {
        let device = Device::flex().autodiff();
        let mut model = Tiny {
            conv: Conv2dConfig::new([1, 8], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(&device),
            head: LinearConfig::new(8, 2).init(&device),
        };
        // Initial weights of the same scale as burn's, but its own draw.
        let centred = |n: usize, seed: u64, scale: f32| -> Vec<f32> {
            uniform(n, seed).iter().map(|v| (v * 2.0 - 1.0) * scale).collect()
        };
        model.conv.weight = Param::from_tensor(tensor(centred(72, 1, 0.47), [8, 1, 3, 3], &device));
        model.head.weight = Param::from_tensor(tensor(centred(16, 2, 0.35), [8, 2], &device));
        let mut optimizer = AdamConfig::new().init();
        let (x, y) = synthetic(64, 3, &device);
        for _ in 0..150 {
            let loss = burn::nn::loss::CrossEntropyLossConfig::new()
                .init(&device)
                .forward(model.forward(x.clone()), y.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(0.05, model, grads);
        }
        let model = model.valid();
        let plain = Device::flex();
        let (x, y) = synthetic(20, 4, &plain);
        let accuracy = {
            let predicted = model.forward(x.clone()).argmax(1).flatten::<1>(0, 1);
            values(predicted.equal(y).int().float()).iter().sum::<f32>() / 20.0
        };
        assert!(accuracy >= 0.9, "the tiny model did not learn the task: accuracy {accuracy}");
        let maps = grad_cams(&model.head, model.features(x)).narrow(1, 1, 1);
        let maps = maps_from_data(maps.into_data()).unwrap();
        let mut least = 1.0f32;
        for (i, map) in maps.iter().enumerate().filter(|(i, _)| i % 2 == 1) {
            let peak = crate::ensemble::argmax(map);
            let (row, col) = (peak / 16, peak % 16);
            assert!(
                row < 8 && col < 8,
                "image {i}: the map peaks at ({row}, {col}), outside the top-left quadrant"
            );
            let quadrant: f32 =
                (0..8).flat_map(|r| (0..8).map(move |c| r * 16 + c)).map(|j| map[j]).sum();
            let total: f32 = map.iter().sum();
            // A map spread evenly would hold a quarter; across draws of the
            // data and the initial weights the least share seen was 0.49.
            assert!(
                quadrant > 0.4 * total,
                "image {i}: only {:.2} of the map in the quadrant",
                quadrant / total
            );
            least = least.min(quadrant / total);
        }
        println!("accuracy {accuracy}; the least share of a map in the quadrant: {least:.2}");
    }
}
