//! One photo through a whole bundle: image quality, the calibrated
//! ensemble prediction, and a Grad-CAM map for every class. Shared by the
//! CLI's `explain` and the browser, so every tensor is read asynchronously
//! (WebGPU cannot read synchronously).

use burn::tensor::{Device, Tensor};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::bundle::LoadedBundle;
use crate::efficientnet::pool;
use crate::ensemble::{self, Prediction};
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
    Tensor::cat(vec![images.clone(), images.clone().flip([3]), images.clone().flip([2]), images.flip([2, 3])], 0)
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

/// Analyses one decoded photo with every member of `bundle` on `device`.
pub async fn analyse(bundle: &LoadedBundle, photo: &RgbImage, device: &Device) -> Result<Analysis, ReadError> {
    let manifest = &bundle.manifest;
    let (measures, issues) = quality::assess(photo, &QualityThresholds::DEFAULT);
    let [h, w] = manifest.input;
    let chw = preprocess::to_chw(&preprocess::resize(photo, w, h), &manifest.normalization);
    let input = views(preprocess::batch(&[chw], [h as usize, w as usize], device), manifest.flip_tta);
    let k = manifest.classes.len();
    let mut member_logits = Vec::with_capacity(bundle.members.len());
    let mut member_maps: Vec<Vec<Vec<f32>>> = vec![Vec::new(); k];
    let mut cam_size = [0, 0];
    for member in &bundle.members {
        let features = member.backbone.feature_map(input.clone());
        let [_, _, fh, fw] = features.dims();
        cam_size = [fh, fw];
        let logits = mean_views(member.head.forward(pool(features.clone())), view_count(manifest.flip_tta));
        member_logits.push(read(logits.unsqueeze_dim(0)).await?);
        // Grad-CAM on the photo as it is, not its flips.
        let plain = features.slice([0..1]);
        for (class, maps) in member_maps.iter_mut().enumerate() {
            maps.push(read(gradcam::grad_cam(&member.head, plain.clone(), class)).await?);
        }
    }
    let temperatures: Vec<f32> = manifest.members.iter().map(|m| m.temperature).collect();
    let prediction = ensemble::combine(&member_logits, &temperatures, &manifest.classes, &manifest.thresholds);
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
        let x = Tensor::<4>::from_data(TensorData::new((0..8).map(|v| v as f32).collect::<Vec<_>>(), [2, 1, 2, 2]), &device);
        let v = views(x, true);
        assert_eq!(v.dims(), [8, 1, 2, 2]);
        // Flipping the first image horizontally swaps its columns.
        let first_flipped: Vec<f32> = v.clone().slice([2..3]).into_data().try_into_vec().unwrap();
        assert_eq!(first_flipped, vec![1.0, 0.0, 3.0, 2.0]);
        let logits = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [4, 2]), &device);
        let mean: Vec<f32> = mean_views(logits, 2).into_data().try_into_vec().unwrap();
        assert_eq!(mean, vec![3.0, 4.0, 5.0, 6.0]);
    }
}
