//! The loaded ensemble on its device: backend choice, bundle download with
//! checksum verification, warm-up, and the analysis of one photo.

use std::collections::HashMap;

use burn::tensor::Device;
use image::{RgbImage, imageops};
use model::bundle::{self, LoadedBundle};
use model::preprocess;

use crate::protocol::{AnalysisReply, BackendChoice, MODEL_DIR, display_size};

use super::fetch::{fetch_bytes, fetch_text};

pub struct Engine {
    pub bundle: LoadedBundle,
    pub device: Device,
    pub backend: String,
}

fn has_webgpu() -> bool {
    let global = js_sys::global();
    js_sys::Reflect::get(&global, &"navigator".into())
        .ok()
        .filter(|n| !n.is_undefined())
        .and_then(|n| js_sys::Reflect::get(&n, &"gpu".into()).ok())
        .is_some_and(|gpu| !gpu.is_undefined() && !gpu.is_null())
}

/// WebGPU when asked for and available, else burn's CPU backend in this worker.
async fn choose_device(choice: BackendChoice) -> (Device, String) {
    if choice == BackendChoice::Auto && has_webgpu() {
        match Device::wgpu_options().init_async().await {
            Ok(device) => return (device, "WebGPU".into()),
            Err(e) => web_sys::console::warn_1(&format!("WebGPU is not usable here ({e}); using the CPU").into()),
        }
    }
    (Device::flex(), "CPU (WebAssembly)".into())
}

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

impl Engine {
    /// Downloads and verifies the bundle; `progress(loaded, total)` follows the download.
    pub async fn load(choice: BackendChoice, progress: &mut dyn FnMut(u64, u64)) -> Result<Engine, String> {
        let (device, backend) = choose_device(choice).await;
        let manifest_text = fetch_text(&format!("{MODEL_DIR}{}", bundle::MANIFEST)).await?;
        let manifest = bundle::Manifest::from_json(&manifest_text).map_err(|e| e.to_string())?;
        let total: u64 = manifest.files().iter().map(|f| f.bytes).sum();
        let mut loaded = 0u64;
        progress(0, total);
        let mut files = HashMap::new();
        for file in manifest.files() {
            let bytes = fetch_bytes(&format!("{MODEL_DIR}{}", file.file), &mut |n| {
                loaded += n;
                progress(loaded, total);
            })
            .await?;
            files.insert(file.file.clone(), bytes);
        }
        let bundle = bundle::load(&manifest_text, |name| files.remove(name).ok_or_else(|| format!("{name} was not fetched")), &device)
            .map_err(|e| format!("the model files are damaged: {e}"))?;
        let engine = Engine { bundle, device, backend };
        // The first run compiles the GPU kernels; do it now rather than on the person's photo.
        engine.analyse_photo(&RgbImage::from_pixel(64, 48, image::Rgb([180, 140, 120]))).await?;
        Ok(engine)
    }

    async fn analyse_photo(&self, photo: &RgbImage) -> Result<model::analysis::Analysis, String> {
        model::analysis::analyse(&self.bundle, photo, &self.device).await.map_err(|e| e.to_string())
    }

    /// Decodes and analyses one photo; returns the reply and the display-sized photo as RGBA.
    pub async fn analyse(&self, bytes: &[u8]) -> Result<(AnalysisReply, Vec<u8>), String> {
        let started = now_ms();
        let photo = preprocess::decode(bytes).map_err(|e| e.to_string())?;
        let analysis = self.analyse_photo(&photo).await?;
        let guidance = model::guidance::guidance(&analysis.prediction, &self.bundle.manifest.classes);
        let (width, height) = display_size(photo.width(), photo.height());
        let shown = if (width, height) == photo.dimensions() { photo } else { imageops::thumbnail(&photo, width, height) };
        let rgba = image::DynamicImage::ImageRgb8(shown).into_rgba8().into_raw();
        let reply = AnalysisReply { analysis, guidance, backend: self.backend.clone(), elapsed_ms: now_ms() - started, width, height };
        Ok((reply, rgba))
    }
}
