//! `dermlens predict`: one CSV row per image with the ensemble's
//! probabilities, loading the model once for any number of images.

use std::path::PathBuf;

use anyhow::{Result, bail};
use model::analysis;

use crate::context::Context;
use crate::data::images::{collect_images, print_unreadable};
use model::inference::Looking;

use crate::infer;

/// Predict image files or folders into a CSV: image, one probability per class, prediction.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Images, or folders searched recursively.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Bundle folder written by `dermlens export`.
    #[arg(long, default_value = "public/model")]
    pub model: PathBuf,
    /// The CSV to write.
    #[arg(long, default_value = "predictions.csv")]
    pub out: PathBuf,
}

pub fn run(args: Args, ctx: &Context) -> Result<()> {
    let device = &ctx.device;
    let loaded = crate::bundle_dir::load(&args.model, device)?;
    let manifest = &loaded.manifest;
    let files = collect_images(&args.paths)?;
    if files.is_empty() {
        bail!(
            "no images found in {}",
            args.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    let results = infer::outputs_for_files(&loaded.members, &files, &Looking::of(&loaded), device)?;

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
                row.push(p.unfamiliar.to_string());
                writer.write_record(&row)?;
            }
            Err(reason) => failed.push(format!("{}: {reason}", path.display())),
        }
    }
    let bytes = writer.into_inner().map_err(|e| anyhow::anyhow!("cannot encode the CSV: {e}"))?;
    crate::files::write_atomic(&args.out, &bytes)?;
    println!("{} images predicted into {}", files.len() - failed.len(), args.out.display());
    if !failed.is_empty() {
        print_unreadable(&failed);
        bail!("{} of {} images could not be read", failed.len(), files.len());
    }
    Ok(())
}
