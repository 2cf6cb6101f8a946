//! Bundles on disk: a folder with `manifest.json` and its weight files.

use std::path::Path;

use anyhow::{Context, Result};
use burn::tensor::Device;
use model::bundle::{self, LoadedBundle, MANIFEST};

pub fn load(dir: &Path, device: &Device) -> Result<LoadedBundle> {
    let manifest_path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&manifest_path).with_context(|| {
        format!("{} is not a model bundle (cannot read {})", dir.display(), manifest_path.display())
    })?;
    bundle::load(&text, |name| std::fs::read(dir.join(name)).map_err(|e| e.to_string()), device)
        .with_context(|| format!("cannot load the bundle {}", dir.display()))
}
