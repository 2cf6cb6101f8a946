//! Messages between the page and the inference worker. Each message is a
//! JavaScript object `{ json, bytes? }`: the JSON of a [`Request`] or
//! [`Reply`], and for photos their raw bytes as a transferred `Uint8Array`
//! (never copied, never sent anywhere else).

use model::analysis::Analysis;
use model::classes::LesionClass;
use model::crop::Crop;
use model::ensemble::Thresholds;
use model::guidance::Guidance;
use model::metadata::Metadata;
use serde::{Deserialize, Serialize};

/// Where the model files live, relative to the worker script (and so to the page).
pub const MODEL_DIR: &str = "model/";
/// Longest side of the photo the worker sends back for display.
pub const DISPLAY_SIDE: u32 = 640;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// WebGPU when the browser has a hardware adapter, else the CPU: a
    /// software WebGPU adapter is far slower than the CPU backend.
    Auto,
    /// WebGPU on any adapter, software ones included.
    Webgpu,
    Cpu,
}

impl BackendChoice {
    /// From the page address: `?backend=cpu` or `?backend=webgpu`.
    pub fn from_query(search: &str) -> Self {
        let wanted = search
            .trim_start_matches('?')
            .split('&')
            .find_map(|pair| pair.strip_prefix("backend="));
        match wanted {
            Some("cpu") => Self::Cpu,
            Some("webgpu") => Self::Webgpu,
            _ => Self::Auto,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Request {
    /// Choose the backend, fetch and verify the bundle, warm up.
    Load { backend: BackendChoice },
    /// Analyse the photo sent as `bytes`, or only its `crop`; `id` comes
    /// back with the answer.
    Analyse {
        id: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        crop: Option<Crop>,
        /// The person's age, sex and body site, if they gave any (used when
        /// the bundle has a metadata prior; never stored).
        #[serde(default, skip_serializing_if = "Metadata::is_empty")]
        metadata: Metadata,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reply {
    /// The worker's code runs and listens: requests sent before this would be lost.
    Listening,
    Progress {
        loaded: u64,
        total: u64,
    },
    Ready {
        backend: String,
        load_ms: f64,
        classes: Vec<LesionClass>,
        model: ModelInfo,
        /// The bundle's thresholds behind "uncertain" and "not like the training photos".
        thresholds: Thresholds,
    },
    LoadFailed {
        message: String,
    },
    /// The photo as decoded and oriented, at most [`DISPLAY_SIDE`], is sent as RGBA `bytes`.
    Analysed {
        id: u32,
        result: Box<AnalysisReply>,
    },
    Failed {
        id: u32,
        message: String,
    },
}

/// What the page says about the model it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The members' names, in bundle order.
    pub members: Vec<String>,
    /// The bundle format version.
    pub format_version: u32,
    /// A short checksum of what the manifest says about the model: two
    /// bundles with the same id are the same model.
    pub id: String,
    /// Where the model comes from and under which terms (the manifest's `provenance`).
    pub provenance: String,
    /// The networks' input sizes, `[height, width]`, one per member.
    pub inputs: Vec<[u32; 2]>,
    /// The body sites the bundle's age, sex and site prior knows; empty
    /// when it has none (the page then does not ask).
    #[serde(default)]
    pub sites: Vec<String>,
}

/// Where the model card lives, relative to the page.
pub const MODEL_CARD: &str = "model/MODEL_CARD.md";

/// Prefix of the Cache Storage caches holding verified weight files; the
/// rest of the name is [`model_cache_name`]'s digest of the manifest.
pub const MODEL_CACHE_PREFIX: &str = "dermlens-model-";

/// The cache for the weights of the bundle whose manifest has `manifest_sha256`.
pub fn model_cache_name(manifest_sha256: &str) -> String {
    format!("{MODEL_CACHE_PREFIX}{}", &manifest_sha256[..manifest_sha256.len().min(16)])
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnalysisReply {
    pub analysis: Analysis,
    pub guidance: Guidance,
    /// The age, sex and site prior was applied (the person gave some and
    /// the bundle has one).
    #[serde(default)]
    pub with_metadata: bool,
    pub backend: String,
    /// From the worker receiving the photo to the answer: decoding, checks, every member, Grad-CAM.
    pub elapsed_ms: f64,
    pub width: u32,
    pub height: u32,
}

/// Display size of a `width` x `height` photo: the same aspect, longest side at most [`DISPLAY_SIDE`].
pub fn display_size(width: u32, height: u32) -> (u32, u32) {
    let longest = width.max(height).max(1);
    if longest <= DISPLAY_SIDE {
        return (width.max(1), height.max(1));
    }
    let scale = DISPLAY_SIDE as f64 / longest as f64;
    (
        ((width as f64 * scale).round() as u32).max(1),
        ((height as f64 * scale).round() as u32).max(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_as_json() {
        let r = Request::Load { backend: BackendChoice::Cpu };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(text, r#"{"kind":"load","backend":"cpu"}"#);
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), r);
        let whole = Request::Analyse { id: 3, crop: None, metadata: Metadata::default() };
        assert_eq!(serde_json::to_string(&whole).unwrap(), r#"{"kind":"analyse","id":3}"#);
        let part = Request::Analyse {
            id: 4,
            crop: Some(Crop::square(0.5, 0.5, 0.4, 400, 300)),
            metadata: Metadata::parse("45", "female", "back"),
        };
        let text = serde_json::to_string(&part).unwrap();
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), part);
    }

    #[test]
    fn backend_comes_from_the_query() {
        assert_eq!(BackendChoice::from_query(""), BackendChoice::Auto);
        assert_eq!(BackendChoice::from_query("?backend=cpu"), BackendChoice::Cpu);
        assert_eq!(BackendChoice::from_query("?x=1&backend=webgpu"), BackendChoice::Webgpu);
        assert_eq!(BackendChoice::from_query("?backend=quantum"), BackendChoice::Auto);
        assert_eq!(BackendChoice::from_query("?notbackend=cpu"), BackendChoice::Auto);
    }

    #[test]
    fn model_caches_are_named_after_the_manifest() {
        assert_eq!(model_cache_name("0123456789abcdef0123"), "dermlens-model-0123456789abcdef");
        assert_eq!(model_cache_name("ab"), "dermlens-model-ab");
    }

    #[test]
    fn display_size_keeps_aspect_and_bounds() {
        assert_eq!(display_size(4000, 3000), (640, 480));
        assert_eq!(display_size(150, 200), (150, 200));
        assert_eq!(display_size(3000, 4000), (480, 640));
        assert_eq!(display_size(0, 0), (1, 1));
    }
}
