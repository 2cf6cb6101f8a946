//! `dermlens degrade`: one photo spoilt the way the robustness benchmark
//! and training's augmentation spoil photos (`model::degrade`), written as a
//! PNG, to see what a degradation and severity mean.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use model::degrade::{Degradation, Kind, Severity};

use crate::context::Context;

/// Write a photo spoilt as a phone photo is (one degradation of the
/// robustness benchmark at one severity or strength), as PNG.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The photo.
    pub photo: PathBuf,
    /// The degradation: warm-light, cool-light, dim, overexposed, noise,
    /// jpeg, defocus, motion, low-resolution, distance or combined.
    #[arg(long, value_parser = super::robustness::parse_kind)]
    pub kind: Kind,
    /// mild, moderate or severe.
    #[arg(long, value_parser = super::robustness::parse_severity, default_value = "moderate")]
    pub severity: Severity,
    /// A strength in [0, 1] instead of a severity (1 is severe).
    #[arg(long)]
    pub strength: Option<f32>,
    /// Seed of whatever is random (noise, a motion's direction).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The PNG to write.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: Args, _ctx: &Context) -> Result<()> {
    crate::files::check_output(&args.out, &[&args.photo])?;
    let out = crate::files::AtomicFile::create(&args.out)?;
    let bytes = crate::files::read_limited(&args.photo, crate::files::MAX_PHOTO_BYTES)?;
    let photo = model::preprocess::decode(&bytes)
        .with_context(|| format!("cannot read {}", args.photo.display()))?;
    let strength = args.strength.unwrap_or(args.severity.strength());
    if !(0.0..=1.0).contains(&strength) {
        anyhow::bail!("--strength must be in [0, 1], not {strength}");
    }
    let degradation = Degradation::new(args.kind, strength);
    let spoilt = degradation.apply(&photo, args.seed);
    let mut png = Vec::new();
    spoilt
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .context("cannot encode the PNG")?;
    let mut out = out;
    std::io::Write::write_all(&mut out, &png)?;
    out.finish()?;
    println!("{} ({}) written to {}", args.kind, args.kind.describe(strength), args.out.display());
    Ok(())
}
