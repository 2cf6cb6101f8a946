//! The loaded ensemble on its device: backend choice, bundle download with
//! checksum verification, warm-up, and the analysis of one photo.

use std::collections::HashMap;

use burn::tensor::Device;
use image::{RgbImage, imageops};
use model::bundle::{self, LoadedBundle};
use model::crop::Crop;
use model::metadata::Metadata;
use model::preprocess;
use wasm_bindgen::{JsCast, JsValue};

use app::protocol::{
    AnalysisReply, BackendChoice, MODEL_DIR, ModelInfo, display_size, model_cache_name,
};

use super::cache::{WeightCache, evict_other_models};
use super::fetch::fetch_bytes;

pub struct Engine {
    pub bundle: LoadedBundle,
    pub device: Device,
    pub backend: String,
    /// The name of the cache holding this model's weights.
    pub cache_name: String,
}

fn get(object: &JsValue, key: &str) -> Option<JsValue> {
    js_sys::Reflect::get(object, &key.into()).ok().filter(|v| !v.is_undefined() && !v.is_null())
}

/// `navigator.gpu`, when this browser has WebGPU.
fn webgpu() -> Option<JsValue> {
    get(&js_sys::global(), "navigator").and_then(|navigator| get(&navigator, "gpu"))
}

/// Whether the default WebGPU adapter renders in software (such as
/// SwiftShader), where the CPU backend is many times faster.
async fn software_adapter(gpu: &JsValue) -> bool {
    let Some(request) =
        get(gpu, "requestAdapter").and_then(|f| f.dyn_into::<js_sys::Function>().ok())
    else {
        return false;
    };
    let Ok(promise) = request.call0(gpu).and_then(|p| p.dyn_into::<js_sys::Promise>()) else {
        return false;
    };
    let Some(adapter) = wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .ok()
        .filter(|a| !a.is_null() && !a.is_undefined())
    else {
        return false;
    };
    let info = get(&adapter, "info");
    let fallback = |object: &Option<JsValue>| {
        object.as_ref().and_then(|o| get(o, "isFallbackAdapter")).and_then(|v| v.as_bool())
    };
    if fallback(&info).or_else(|| fallback(&Some(adapter.clone()))) == Some(true) {
        return true;
    }
    let text: String = ["vendor", "architecture", "device", "description"]
        .iter()
        .filter_map(|key| info.as_ref().and_then(|i| get(i, key)).and_then(|v| v.as_string()))
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    ["swiftshader", "llvmpipe", "lavapipe", "software"].iter().any(|name| text.contains(name))
}

/// WebGPU when asked for and worthwhile, else burn's CPU backend in this worker.
async fn choose_device(choice: BackendChoice) -> (Device, String) {
    let use_gpu = match (choice, webgpu()) {
        (BackendChoice::Cpu, _) | (_, None) => false,
        (BackendChoice::Webgpu, Some(_)) => true,
        (BackendChoice::Auto, Some(gpu)) => {
            let software = software_adapter(&gpu).await;
            if software {
                web_sys::console::info_1(
                    &"The WebGPU adapter renders in software; the CPU backend is faster here."
                        .into(),
                );
            }
            !software
        }
    };
    if use_gpu {
        match Device::wgpu_options().init_async().await {
            Ok(device) => return (device, "WebGPU".into()),
            // A browser without a WebGPU adapter is no fault: the CPU backend
            // answers, and the page says which one ran.
            Err(e) => web_sys::console::info_1(
                &format!("WebGPU is not usable here ({e}); using the CPU").into(),
            ),
        }
    }
    (Device::flex(), "CPU (WebAssembly)".into())
}

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

impl Engine {
    /// Downloads and verifies the bundle; `progress(loaded, total)` follows the download.
    pub async fn load(
        choice: BackendChoice,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Engine, String> {
        let (device, backend) = choose_device(choice).await;
        let manifest_url = format!("{MODEL_DIR}{}", bundle::MANIFEST);
        let manifest_bytes =
            fetch_bytes(&manifest_url, bundle::MAX_MANIFEST_BYTES, &mut |_| {}).await?;
        let manifest_text =
            String::from_utf8(manifest_bytes).map_err(|_| format!("{manifest_url} is not text"))?;
        let manifest = bundle::Manifest::from_json(&manifest_text).map_err(|e| e.to_string())?;
        let cache_name = model_cache_name(&bundle::sha256_hex(manifest_text.as_bytes()));
        let cache = WeightCache::open(&cache_name).await;
        let total: u64 = manifest.files().iter().map(|f| f.bytes).sum();
        let mut loaded = 0u64;
        progress(0, total);
        let mut files = HashMap::new();
        for file in manifest.files() {
            let url = format!("{MODEL_DIR}{}", file.file);
            let intact = |bytes: &[u8]| {
                bytes.len() as u64 == file.bytes && bundle::sha256_hex(bytes) == file.sha256
            };
            // A kept copy is used only if it is still exactly what the manifest names.
            let kept = match cache.get(&url).await {
                Some(bytes) if intact(&bytes) => Some(bytes),
                Some(_) => {
                    web_sys::console::warn_1(
                        &format!("dermlens: the kept copy of {url} is damaged; fetching it again")
                            .into(),
                    );
                    cache.delete(&url).await;
                    None
                }
                None => None,
            };
            let bytes = match kept {
                Some(bytes) => {
                    loaded += bytes.len() as u64;
                    progress(loaded, total);
                    bytes
                }
                None => {
                    let bytes = fetch_bytes(&url, file.bytes, &mut |n| {
                        loaded += n;
                        progress(loaded, total);
                    })
                    .await?;
                    if intact(&bytes) {
                        cache.put(&url, &bytes).await;
                    }
                    bytes
                }
            };
            files.insert(file.file.clone(), bytes);
        }
        let bundle = bundle::load(
            &manifest_text,
            |name| files.remove(name).ok_or_else(|| format!("{name} was not fetched")),
            &device,
        )
        .map_err(|e| format!("the model files are damaged: {e}"))?;
        let engine = Engine { bundle, device, backend, cache_name };
        // The first run compiles the GPU kernels; do it now rather than on the person's photo.
        engine.analyse_photo(&RgbImage::from_pixel(64, 48, image::Rgb([180, 140, 120]))).await?;
        // The model loaded: the weights of earlier models are no longer needed.
        evict_other_models(&engine.cache_name).await;
        Ok(engine)
    }

    /// What the page shows about the model.
    pub fn info(&self) -> ModelInfo {
        let manifest = &self.bundle.manifest;
        ModelInfo {
            members: manifest.members.iter().map(|m| m.name.clone()).collect(),
            format_version: manifest.version,
            id: manifest.binding().chars().take(12).collect(),
            provenance: manifest.provenance.clone(),
            inputs: manifest.members.iter().map(|m| m.input).collect(),
            sites: manifest.metadata.as_ref().map(|m| m.sites.clone()).unwrap_or_default(),
        }
    }

    async fn analyse_photo(&self, photo: &RgbImage) -> Result<model::analysis::Analysis, String> {
        model::analysis::analyse(&self.bundle, photo, &self.device).await.map_err(|e| e.to_string())
    }

    /// Decodes and analyses one photo, or the `crop` of it the person chose,
    /// with the bundle's age, sex and site prior where `metadata` says
    /// something; returns the reply and the display-sized photo (or part) as RGBA.
    pub async fn analyse(
        &self,
        bytes: &[u8],
        crop: Option<Crop>,
        metadata: &Metadata,
    ) -> Result<(AnalysisReply, Vec<u8>), String> {
        let started = now_ms();
        let photo = preprocess::decode(bytes).map_err(|e| e.to_string())?;
        // Cropped at full resolution: the display copy would throw pixels away.
        let photo = match crop {
            Some(crop) => crop.apply(&photo),
            None => photo,
        };
        let mut analysis = self.analyse_photo(&photo).await?;
        let manifest = &self.bundle.manifest;
        let with_metadata = manifest.metadata.is_some() && !metadata.is_empty();
        let thresholds = match &manifest.metadata {
            Some(prior) => {
                let (prediction, thresholds) = prior.adjust(
                    analysis.prediction,
                    metadata,
                    &manifest.classes,
                    &manifest.thresholds,
                );
                analysis.prediction = prediction;
                thresholds
            }
            None => manifest.thresholds.clone(),
        };
        let guidance =
            model::guidance::assess(&analysis.prediction, &manifest.classes, Some(&thresholds));
        let (width, height) = display_size(photo.width(), photo.height());
        // The page shows the photo at display size: so are the heat map's bounds.
        analysis.cam_region = manifest.geometry.region(width, height);
        let shown = if (width, height) == photo.dimensions() {
            photo
        } else {
            imageops::thumbnail(&photo, width, height)
        };
        let rgba = image::DynamicImage::ImageRgb8(shown).into_rgba8().into_raw();
        let reply = AnalysisReply {
            analysis,
            guidance,
            with_metadata,
            backend: self.backend.clone(),
            elapsed_ms: now_ms() - started,
            width,
            height,
        };
        Ok((reply, rgba))
    }
}
