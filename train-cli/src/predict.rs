//! `dermlens predict`: one CSV row per image with the ensemble's
//! probabilities, loading the model once for any number of images.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use burn::tensor::Device;
use model::analysis;

use crate::data::images_under;
use crate::infer::{self, Inputs};

/// Image files named directly or found (recursively, sorted) in folders.
pub fn collect_images(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            images_under(p, &mut out)?;
        } else if p.exists() {
            out.push(p.clone());
        } else {
            bail!("{} does not exist", p.display());
        }
    }
    Ok(out)
}

pub fn run(paths: &[PathBuf], bundle: &Path, out: &Path) -> Result<()> {
    let device = Device::flex();
    let loaded = crate::bundle_dir::load(bundle, &device)?;
    let manifest = &loaded.manifest;
    let files = collect_images(paths)?;
    if files.is_empty() {
        bail!("no images found in {}", paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "));
    }
    let inputs = Inputs::of(manifest);
    let results = infer::outputs_for_files(&loaded.members, &files, &inputs, &device)?;

    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["image".to_string()];
    header.extend(manifest.classes.iter().map(|c| c.code.clone()));
    header.extend(["prediction", "uncertain", "not_a_lesion"].map(String::from));
    writer.write_record(&header)?;
    let mut failed = Vec::new();
    for (path, result) in files.iter().zip(results) {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        match result {
            Ok(outputs) => {
                let p = analysis::predict(&loaded, &outputs.logits, &outputs.features);
                let mut row = vec![name];
                row.extend(p.probabilities.iter().map(|v| format!("{v:.6}")));
                row.push(manifest.classes[p.top].code.clone());
                row.push(p.uncertain.to_string());
                row.push(p.out_of_distribution.to_string());
                writer.write_record(&row)?;
            }
            Err(reason) => failed.push(format!("{}: {reason}", path.display())),
        }
    }
    let bytes = writer.into_inner().map_err(|e| anyhow::anyhow!("cannot encode the CSV: {e}"))?;
    crate::files::write_atomic(out, &bytes)?;
    println!("{} images predicted into {}", files.len() - failed.len(), out.display());
    if !failed.is_empty() {
        for f in failed.iter().take(10) {
            eprintln!("unreadable: {f}");
        }
        bail!("{} of {} images could not be read", failed.len(), files.len());
    }
    Ok(())
}
