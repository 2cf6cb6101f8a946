//! `dermlens predict`: one CSV row per image with the ensemble's
//! probabilities, loading the model once for any number of images. Rows are
//! written as they come to a temporary file that replaces `--out` only when
//! every input has its row, so a killed run never leaves a complete-looking
//! CSV behind.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use model::analysis;
use model::bundle::{LoadedBundle, Manifest};
use model::classes::LesionClass;
use model::ensemble::{Prediction, Thresholds};
use model::guidance::{self, Advice};
use model::inference::Looking;
use model::metadata::{Metadata, MetadataPrior};

use crate::context::Context;
use crate::data::images::{collect_images, print_unreadable};
use crate::files::{AtomicFile, spreadsheet_safe};
use crate::infer;

/// Predict image files or folders into a CSV: image, one probability per
/// class, prediction, flags, the advice, the photo checks' reasons to
/// retake it and a status (ok, or why the image was not read).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Images, or folders searched recursively (links to folders are not followed).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Bundle folder written by `dermlens export`.
    #[arg(long, default_value = "public/model")]
    pub model: PathBuf,
    /// The CSV to write.
    #[arg(long, default_value = "predictions.csv")]
    pub out: PathBuf,
    /// The photos' age, sex and body site (a CSV with image_id, age, sex,
    /// localization), matched by file name without extension: the bundle's
    /// metadata prior is applied where a photo has some.
    #[arg(long, value_name = "CSV")]
    pub metadata: Option<PathBuf>,
}

/// What `--metadata` gives: the bundle's prior and every photo's metadata.
struct Known<'a> {
    prior: &'a MetadataPrior,
    metadata: HashMap<String, Metadata>,
}

impl<'a> Known<'a> {
    fn load(file: Option<&Path>, bundle: &'a LoadedBundle) -> Result<Option<Self>> {
        let Some(file) = file else { return Ok(None) };
        let Some(prior) = &bundle.manifest.metadata else {
            bail!("this bundle has no age, sex and body-site prior: leave out --metadata")
        };
        Ok(Some(Self { prior, metadata: crate::data::metadata::read(file)? }))
    }

    /// The prediction for the photo at `path` and the thresholds that hold for it.
    fn adjust(
        known: Option<&Self>,
        path: &Path,
        p: Prediction,
        manifest: &Manifest,
    ) -> (Prediction, Thresholds) {
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        match known.and_then(|k| k.metadata.get(&stem).map(|m| (k.prior, m))) {
            Some((prior, m)) => prior.adjust(p, m, &manifest.classes, &manifest.thresholds),
            None => (p, manifest.thresholds.clone()),
        }
    }
}

/// The first rows, printed as a short table: what a person running
/// `predict` on a few photos wants to see without opening the CSV.
#[derive(Default)]
struct Preview {
    rows: Vec<[String; 4]>,
    more: usize,
}

impl Preview {
    const ROWS: usize = 10;

    fn add(&mut self, name: &str, top: &LesionClass, p: f32, advice: &Advice, retake: &[&str]) {
        if self.rows.len() == Self::ROWS {
            self.more += 1;
            return;
        }
        let advice = match advice {
            Advice::MalignantLikely => "see a dermatologist: a malignant class is likely",
            Advice::Uncertain => "see a dermatologist: the model is unsure",
            Advice::Unfamiliar => "see a dermatologist: not like a lesion photo",
            Advice::Reassuring => "nothing suggests a malignant class",
        };
        let retake = if retake.is_empty() {
            String::new()
        } else {
            format!("retake: {}", retake.join(", "))
        };
        let share = model::guidance::Percent::of(p);
        self.rows.push([name.to_string(), format!("{} {share}", top.plain), advice.into(), retake]);
    }

    fn print(&self) {
        if self.rows.is_empty() {
            return;
        }
        let header = ["image", "most like", "advice", "photo"];
        let width = |c: usize| {
            self.rows
                .iter()
                .map(|r| r[c].chars().count())
                .chain([header[c].len()])
                .max()
                .unwrap_or(0)
        };
        let widths = [width(0), width(1), width(2)];
        let line = |cells: [&str; 4]| {
            let padded: Vec<String> =
                (0..3).map(|c| format!("{:w$}", cells[c], w = widths[c])).collect();
            println!("{}  {}", padded.join("  "), cells[3]);
        };
        line(header);
        for row in &self.rows {
            line([&row[0], &row[1], &row[2], &row[3]]);
        }
        if self.more > 0 {
            println!("({} more in the CSV)", self.more);
        }
    }
}

/// Photos per batch of rows written.
const CHUNK: usize = 64;

pub fn run(args: Args, ctx: &Context) -> Result<()> {
    // Where the rows go is checked before any work.
    let inputs: Vec<&std::path::Path> = args.paths.iter().map(PathBuf::as_path).collect();
    crate::files::check_output(&args.out, &inputs)?;
    let out = AtomicFile::create(&args.out)?;
    let device = &ctx.device;
    let loaded = crate::bundle_dir::load(&args.model, device)?;
    let manifest = &loaded.manifest;
    let known = Known::load(args.metadata.as_deref(), &loaded)?;
    let walk = collect_images(&args.paths)?;
    if walk.files.is_empty() && walk.problems.is_empty() {
        let given: Vec<String> = args.paths.iter().map(|p| p.display().to_string()).collect();
        bail!("no images found in {}", given.join(", "));
    }
    let mut writer = csv::Writer::from_writer(out);
    let mut header = vec!["image".to_string()];
    header.extend(manifest.classes.iter().map(|c| spreadsheet_safe(&c.code)));
    header.extend(
        ["prediction", "uncertain", "not_a_lesion", "advice", "retake", "status"].map(String::from),
    );
    writer.write_record(&header)?;
    let blank = |name: String, status: String| {
        let mut row = vec![name];
        row.extend(std::iter::repeat_n(String::new(), manifest.classes.len() + 5));
        row.push(status);
        row
    };
    let mut failed: Vec<String> = Vec::new();
    for skipped in &walk.problems {
        writer.write_record(blank(
            spreadsheet_safe(&crate::data::images::display_name(&skipped.path)),
            skipped.why.clone(),
        ))?;
        failed.push(skipped.to_string());
    }
    let looking = Looking::of(&loaded);
    let mut preview = Preview::default();
    let bar = crate::progress::bar(walk.files.len() as u64, "predicting");
    for chunk in walk.files.chunks(CHUNK) {
        let paths: Vec<PathBuf> = chunk.iter().map(|f| f.path.clone()).collect();
        let results = infer::outputs_for_files(&loaded.members, &paths, &looking, device)?;
        for (found, result) in chunk.iter().zip(results) {
            // A result that is not a number is no answer: a row saying so.
            let result = result.and_then(|outputs| {
                let p = analysis::predict(&loaded, &outputs.logits, &outputs.features);
                if p.is_finite() {
                    Ok((outputs, p))
                } else {
                    Err("the model's result is not a number (the bundle is broken)".to_string())
                }
            });
            match result {
                Ok((outputs, p)) => {
                    let (p, thresholds) = Known::adjust(known.as_ref(), &found.path, p, manifest);
                    let advice = guidance::assess(&p, &manifest.classes, Some(&thresholds));
                    let retake: Vec<&str> = outputs.issues.iter().map(|i| i.code()).collect();
                    let top = &manifest.classes[p.top];
                    preview.add(&found.name, top, p.probabilities[p.top], &advice.advice, &retake);
                    let mut row = vec![spreadsheet_safe(&found.name)];
                    row.extend(p.probabilities.iter().map(|v| format!("{v:.6}")));
                    row.push(spreadsheet_safe(&top.code));
                    row.push(p.uncertain.to_string());
                    row.push(p.unfamiliar.to_string());
                    row.push(advice.advice.code().into());
                    row.push(retake.join(" "));
                    row.push("ok".into());
                    writer.write_record(&row)?;
                }
                Err(reason) => {
                    writer.write_record(blank(spreadsheet_safe(&found.name), reason.clone()))?;
                    failed.push(format!("{}: {reason}", found.path.display()));
                }
            }
        }
        writer.flush()?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let mut out = writer.into_inner().map_err(|e| anyhow::anyhow!("cannot write the CSV: {e}"))?;
    out.flush()?;
    out.finish()?;
    let total = walk.files.len() + walk.problems.len();
    preview.print();
    println!("{} of {total} images predicted into {}", total - failed.len(), args.out.display());
    if !failed.is_empty() {
        print_unreadable(&failed);
        bail!("{} of {total} images could not be read (their rows say why)", failed.len());
    }
    Ok(())
}
