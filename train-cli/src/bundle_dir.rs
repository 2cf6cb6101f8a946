//! Bundles on disk: a folder with `manifest.json` and its weight files.
//! Nothing is read beyond the size it should have: the manifest a megabyte
//! at most, each weight file the bytes its manifest entry declares.

use std::path::Path;

use anyhow::{Context, Result};
use burn::tensor::Device;
use model::bundle::{self, LoadedBundle, MANIFEST, MAX_MANIFEST_BYTES, Manifest};

use crate::files::read_limited;

pub fn load(dir: &Path, device: &Device) -> Result<LoadedBundle> {
    let manifest_path = dir.join(MANIFEST);
    let bytes = read_limited(&manifest_path, MAX_MANIFEST_BYTES)
        .with_context(|| format!("{} is not a model bundle", dir.display()))?;
    let text = String::from_utf8(bytes)
        .with_context(|| format!("{} is not text", manifest_path.display()))?;
    // The declared sizes cap each read.
    let declared = Manifest::from_json(&text)
        .map(|m| m.files().iter().map(|f| (f.file.clone(), f.bytes)).collect::<Vec<_>>())
        .unwrap_or_default();
    let fetch = |name: &str| {
        let cap = declared.iter().find(|(f, _)| f == name).map_or(0, |(_, b)| *b);
        read_limited(&dir.join(name), cap).map_err(|e| format!("{e:#}"))
    };
    bundle::load(&text, fetch, device)
        .with_context(|| format!("cannot load the bundle {}", dir.display()))
}
