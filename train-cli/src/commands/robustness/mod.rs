//! `dermlens robustness`: the bundle on a split part as it is and spoilt the
//! ways phone photos differ from dermatoscope images (`model::degrade`, the
//! same definitions training's augmentation draws from), each at graded
//! severities. Per condition: balanced accuracy, melanoma recall, how many
//! malignant lesions and nevi the page's advice sends to a dermatologist,
//! how many it marks uncertain and how many the photo checks send back.

mod conditions;
mod report;

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use model::degrade::{Kind, Severity};

use crate::context::Context;
use crate::data::split::{self, Part};

use crate::degraded::{self, Condition};
pub use conditions::{Outcome, Tally};

/// Measure a bundle on a split part with phone-like degradations (colour of
/// the light, exposure, noise, JPEG, blur, resolution, distance) at graded
/// severities: accuracy, melanoma recall, referrals, uncertainty and retakes.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Split CSV written by `dermlens split`.
    pub split: PathBuf,
    /// The part to measure on.
    #[arg(long, default_value = "test")]
    pub part: Part,
    /// Bundle folder written by `dermlens export`.
    #[arg(long, default_value = "public/model")]
    pub model: PathBuf,
    /// Degradations, comma-separated (default: all): warm-light, cool-light,
    /// dim, overexposed, noise, jpeg, defocus, motion, low-resolution,
    /// distance, combined.
    #[arg(long, value_delimiter = ',', value_parser = parse_kind)]
    pub kinds: Vec<Kind>,
    /// Severities, comma-separated: mild, moderate, severe.
    #[arg(long, value_delimiter = ',', value_parser = parse_severity, default_value = "mild,moderate,severe")]
    pub severities: Vec<Severity>,
    /// At most this many photos of the part, the same share of each class (0: all).
    #[arg(long, default_value_t = 0)]
    pub limit: usize,
    /// The Markdown report; a CSV of its table, one of every photo's
    /// outcome (`-photos.csv`) and the SVG plot go beside it.
    #[arg(long, default_value = "robustness.md")]
    pub out: PathBuf,
}

pub fn parse_kind(name: &str) -> Result<Kind, String> {
    Kind::parse(name).ok_or_else(|| {
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        format!("unknown degradation '{name}' (expected one of {})", names.join(", "))
    })
}

pub fn parse_severity(name: &str) -> Result<Severity, String> {
    Severity::parse(name)
        .ok_or_else(|| format!("unknown severity '{name}' (expected mild, moderate or severe)"))
}

pub fn run(args: Args, ctx: &Context) -> Result<()> {
    for file in report::files(&args.out) {
        crate::files::check_output(&file, &[&args.split])?;
    }
    let out = crate::files::AtomicFile::create(&args.out)?;
    let bundle = crate::bundle_dir::load(&args.model, &ctx.device)?;
    let split = split::load(&args.split)?;
    let samples = degraded::sample(&split.part(args.part), &split.classes, args.limit);
    if samples.is_empty() {
        bail!("the {} part of {} has no photos", args.part, args.split.display());
    }
    let labels = conditions::bundle_labels(&samples, &split.classes, &bundle.manifest)
        .with_context(|| {
            format!("{} and {} do not fit", args.split.display(), args.model.display())
        })?;
    let photos = degraded::decode(&samples)?;
    let kinds = if args.kinds.is_empty() { Kind::ALL.to_vec() } else { args.kinds.clone() };
    let list = Condition::list(&kinds, &args.severities);
    let bar = crate::progress::bar((list.len() * photos.len()) as u64, "degrading and predicting");
    let mut results = Vec::with_capacity(list.len());
    for condition in &list {
        let outcomes = conditions::measure(&bundle, &photos, &samples, condition, ctx, &bar)?;
        let tally = Tally::of(condition, &outcomes, &labels, &bundle.manifest);
        results.push((*condition, tally, outcomes));
    }
    bar.finish_and_clear();
    let what = format!("{} ({} part, {} photos)", args.split.display(), args.part, photos.len());
    report::write_photos(&args.out, &results, &samples, &labels, &bundle.manifest.classes)?;
    report::write(out, &args.out, &args.model, &what, &results)
}
