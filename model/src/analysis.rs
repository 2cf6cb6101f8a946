//! One photo through a whole bundle: image quality, the calibrated
//! ensemble prediction, and a Grad-CAM map for every class. Shared by the
//! CLI's `explain` and the browser, so every tensor is read asynchronously
//! (WebGPU cannot read synchronously).

use burn::tensor::{Device, Tensor};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::bundle::LoadedBundle;
use crate::classifier::Classifier;
use crate::efficientnet::pool;
use crate::ensemble::{self, Prediction};
use crate::familiarity;
use crate::gradcam;
use crate::preprocess;
use crate::quality::{self, QualityIssue, QualityMeasures, QualityThresholds};

#[derive(Debug, thiserror::Error)]
#[error("could not read a result from the device: {0}")]
pub struct ReadError(String);

/// Everything the page and `dermlens explain` show about one photo.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Analysis {
    pub prediction: Prediction,
    pub quality: QualityMeasures,
    pub issues: Vec<QualityIssue>,
    /// Per class: the members' mean raw Grad-CAM map, row-major at `cam_size`.
    pub cams: Vec<Vec<f32>>,
    /// `[height, width]` of the last feature map.
    pub cam_size: [usize; 2],
}

/// The batch and, with `flip_tta`, its horizontal, vertical and double
/// flips stacked after it: `[views * batch, 3, h, w]`.
pub fn views(images: Tensor<4>, flip_tta: bool) -> Tensor<4> {
    if !flip_tta {
        return images;
    }
    Tensor::cat(
        vec![
            images.clone(),
            images.clone().flip([3]),
            images.clone().flip([2]),
            images.flip([2, 3]),
        ],
        0,
    )
}

/// Number of views [`views`] makes.
pub fn view_count(flip_tta: bool) -> usize {
    if flip_tta { 4 } else { 1 }
}

/// Mean over the views of `[views * batch, k]` logits: `[batch, k]`.
pub fn mean_views(logits: Tensor<2>, views: usize) -> Tensor<2> {
    let [n, k] = logits.dims();
    logits.reshape([views, n / views, k]).mean_dim(0).reshape([n / views, k])
}

async fn read(tensor: Tensor<3>) -> Result<Vec<f32>, ReadError> {
    let data = tensor.into_data_async().await.map_err(|e| ReadError(format!("{e:?}")))?;
    data.try_into_vec::<f32>().map_err(|e| ReadError(format!("{e:?}")))
}

/// Each member's last feature maps for `input`. The first `shared_blocks`
/// blocks (and the stem), identical in every member, run once for all.
pub fn member_feature_maps(
    members: &[Classifier],
    input: Tensor<4>,
    shared_blocks: usize,
) -> Vec<Tensor<4>> {
    match members.first() {
        Some(first) if shared_blocks > 0 && members.len() > 1 => {
            let lower = first.backbone.forward_lower(input, shared_blocks);
            members.iter().map(|m| m.backbone.forward_upper(lower.clone(), shared_blocks)).collect()
        }
        _ => members.iter().map(|m| m.backbone.feature_map(input.clone())).collect(),
    }
}

/// Pooled features averaged over the views: `[batch, channels]`. The head
/// is linear, so its logits on these equal the mean of its logits per view.
pub fn pooled_mean(features: Tensor<4>, views: usize) -> Tensor<2> {
    mean_views(pool(features), views)
}

/// The bundle's calibrated ensemble prediction from every member's logits
/// and pooled features for one image (flips averaged).
pub fn predict(
    bundle: &LoadedBundle,
    member_logits: &[Vec<f32>],
    member_features: &[Vec<f32>],
) -> Prediction {
    let manifest = &bundle.manifest;
    let temperatures: Vec<f32> = manifest.members.iter().map(|m| m.temperature).collect();
    let distance = familiarity::ensemble_distance(&bundle.familiarity(), member_features);
    ensemble::combine(
        member_logits,
        &temperatures,
        &manifest.classes,
        &manifest.thresholds,
        distance,
    )
}

/// Analyses one decoded photo with every member of `bundle` on `device`.
pub async fn analyse(
    bundle: &LoadedBundle,
    photo: &RgbImage,
    device: &Device,
) -> Result<Analysis, ReadError> {
    let manifest = &bundle.manifest;
    let (measures, issues) = quality::assess(photo, &QualityThresholds::DEFAULT);
    let [h, w] = manifest.input;
    let chw = preprocess::to_chw(&preprocess::resize(photo, w, h), &manifest.normalization);
    let input =
        views(preprocess::batch(&[chw], [h as usize, w as usize], device), manifest.flip_tta);
    let k = manifest.classes.len();
    let mut member_logits = Vec::with_capacity(bundle.members.len());
    let mut member_features = Vec::with_capacity(bundle.members.len());
    let mut member_maps: Vec<Vec<Vec<f32>>> = vec![Vec::new(); k];
    let mut cam_size = [0, 0];
    let maps = member_feature_maps(&bundle.members, input, manifest.shared_blocks);
    for (member, features) in bundle.members.iter().zip(maps) {
        let [_, _, fh, fw] = features.dims();
        cam_size = [fh, fw];
        let pooled = pooled_mean(features.clone(), view_count(manifest.flip_tta));
        member_logits.push(read(member.head.forward(pooled.clone()).unsqueeze_dim(0)).await?);
        member_features.push(read(pooled.unsqueeze_dim(0)).await?);
        // Grad-CAM on the photo as it is, not its flips.
        let plain = features.narrow(0, 0, 1);
        for (class, maps) in member_maps.iter_mut().enumerate() {
            maps.push(read(gradcam::grad_cam(&member.head, plain.clone(), class)).await?);
        }
    }
    let prediction = predict(bundle, &member_logits, &member_features);
    let cams = member_maps.iter().map(|maps| gradcam::mean_map(maps)).collect();
    Ok(Analysis { prediction, quality: measures, issues, cams, cam_size })
}

/// Polls a future that never waits on anything outside this thread (every
/// read on a CPU backend) to completion.
#[cfg(not(target_arch = "wasm32"))]
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(value) = future.as_mut().poll(&mut context) {
            return value;
        }
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn views_and_their_mean() {
        let device = Device::flex();
        let x = Tensor::<4>::from_data(
            TensorData::new((0..8).map(|v| v as f32).collect::<Vec<_>>(), [2, 1, 2, 2]),
            &device,
        );
        let v = views(x, true);
        assert_eq!(v.dims(), [8, 1, 2, 2]);
        // Flipping the first image horizontally swaps its columns.
        let first_flipped: Vec<f32> = v.clone().narrow(0, 2, 1).into_data().try_into_vec().unwrap();
        assert_eq!(first_flipped, vec![1.0, 0.0, 3.0, 2.0]);
        let logits = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [4, 2]),
            &device,
        );
        let mean: Vec<f32> = mean_views(logits, 2).into_data().try_into_vec().unwrap();
        assert_eq!(mean, vec![3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn running_shared_blocks_once_changes_nothing() {
        let device = Device::flex();
        let first = Classifier::new(3, &device);
        // A second member with the same backbone and a head of its own.
        let mut second = first.clone();
        second.head =
            burn::nn::LinearConfig::new(crate::efficientnet::FEATURE_CHANNELS, 3).init(&device);
        let members = [first, second];
        let input =
            Tensor::<4>::random([2, 3, 32, 32], burn::tensor::Distribution::Default, &device);
        let separate = member_feature_maps(&members, input.clone(), 0);
        let shared = member_feature_maps(&members, input, 5);
        for (a, b) in separate.into_iter().zip(shared) {
            let a: Vec<f32> = a.into_data().try_into_vec().unwrap();
            let b: Vec<f32> = b.into_data().try_into_vec().unwrap();
            let diff = a.iter().zip(&b).fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
            assert!(diff < 1e-5, "{diff}");
        }
    }
}
