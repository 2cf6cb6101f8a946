//! One photo through a whole bundle: image quality, the calibrated
//! ensemble prediction, and a Grad-CAM map for every class. Shared by the
//! CLI's `explain` and the browser, so every tensor is read asynchronously
//! (WebGPU cannot read synchronously).

use burn::tensor::{Device, Tensor};
use image::RgbImage;

use super::Analysis;
use crate::bundle::LoadedBundle;
use crate::ensemble::{self, Prediction};
use crate::familiarity;
use crate::gradcam;
use crate::inference::{self, Looking};
use crate::quality::{self, QualityThresholds};

#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error("could not read a result from the device: {0}")]
    Read(String),
    /// NaN or infinity came out: never shown as an answer.
    #[error("the model's result is not a number (the bundle or the device is broken)")]
    NotANumber,
}

async fn read<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, AnalysisError> {
    let data = tensor.into_data_async().await.map_err(|e| AnalysisError::Read(format!("{e:?}")))?;
    data.try_into_vec::<f32>().map_err(|e| AnalysisError::Read(format!("{e:?}")))
}

/// The bundle's calibrated ensemble prediction from every member's logits
/// and pooled features for one image (test-time views averaged).
pub fn predict(
    bundle: &LoadedBundle,
    member_logits: &[Vec<f32>],
    member_features: &[Vec<f32>],
) -> Prediction {
    let manifest = &bundle.manifest;
    let distance = familiarity::ensemble_distance(&bundle.familiarity(), member_features);
    ensemble::combine(
        member_logits,
        &manifest.scaling(),
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
) -> Result<Analysis, AnalysisError> {
    let manifest = &bundle.manifest;
    let (measures, issues) = quality::assess(photo, &QualityThresholds::DEFAULT);
    let outputs =
        inference::run(&bundle.members, &Looking::of(bundle), std::slice::from_ref(photo), device);
    // Members of different input sizes have maps of different sizes: their
    // Grad-CAM maps are averaged on the largest grid.
    let cam_size =
        outputs.iter().map(|o| [o.maps.dims()[2], o.maps.dims()[3]]).max().unwrap_or([1, 1]);
    let k = manifest.classes.len();
    let mut member_logits = Vec::with_capacity(outputs.len());
    let mut member_features = Vec::with_capacity(outputs.len());
    let mut member_maps: Vec<Vec<Vec<f32>>> = vec![Vec::new(); k];
    for (member, output) in bundle.members.iter().zip(outputs) {
        let [_, _, fh, fw] = output.maps.dims();
        member_logits.push(read(output.logits).await?);
        member_features.push(read(output.pooled).await?);
        // Grad-CAM on the photo as it is, not its other views.
        let plain = output.maps.narrow(0, 0, 1);
        let all = read(gradcam::grad_cams(&member.head, plain)).await?;
        for (maps, map) in member_maps.iter_mut().zip(all.chunks(fh * fw)) {
            maps.push(gradcam::resample(map, [fh, fw], cam_size));
        }
    }
    let prediction = predict(bundle, &member_logits, &member_features);
    if !prediction.is_finite() {
        return Err(AnalysisError::NotANumber);
    }
    let cams = member_maps.iter().map(|maps| gradcam::mean_map(maps)).collect();
    let cam_region = manifest.geometry.region(photo.width(), photo.height());
    Ok(Analysis { prediction, quality: measures, issues, cams, cam_size, cam_region })
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
