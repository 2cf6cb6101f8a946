//! `dermlens calibrate`: one temperature per member and the ensemble's
//! decision thresholds, fitted on the validation part, and each member's
//! familiarity statistics, fitted on (a class-capped sample of) the train part.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use model::calibration;
use model::ensemble::{self, Thresholds};
use model::familiarity::Familiarity;

use crate::context::Context;
use crate::data::Sample;
use crate::data::split::{self, Part};
use crate::infer::{Inputs, sample_outputs};
use crate::rng::Rng;
use crate::run_dir::RunDir;
use crate::run_dir::calibration::Calibration;
use crate::stats::quantile;

/// Fit one temperature per member and the ensemble's thresholds on the
/// validation part, and the not-a-lesion statistics on the train part.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run folder written by `dermlens train`.
    pub run: PathBuf,
    /// Do not average each member over flipped copies of the image.
    #[arg(long)]
    pub no_tta: bool,
    /// Train images per class (at most) for the not-a-lesion statistics.
    #[arg(long, default_value_t = 400)]
    pub familiarity_per_class: usize,
    /// Principal directions the not-a-lesion statistics keep.
    #[arg(long, default_value_t = 32)]
    pub familiarity_rank: usize,
}

/// At most `per_class` samples of each class, chosen with a fixed seed.
fn capped_per_class(mut samples: Vec<Sample>, per_class: usize) -> Vec<Sample> {
    Rng::new(2026).shuffle(&mut samples);
    let mut taken = std::collections::HashMap::new();
    samples.retain(|s| {
        let n = taken.entry(s.label).or_insert(0usize);
        *n += 1;
        *n <= per_class
    });
    samples
}

pub fn run(args: Args, ctx: &Context) -> Result<()> {
    let dir = RunDir::new(&args.run);
    let run = dir.load()?;
    let device = &ctx.device;
    let members = dir.load_members(&run, device)?;
    let flip_tta = !args.no_tta;
    let inputs = Inputs::of_run(&run, flip_tta);

    let split = split::load(&run.options.split)?;
    let train = capped_per_class(split.part(Part::Train), args.familiarity_per_class);
    if train.is_empty() {
        bail!("the train part is empty");
    }
    println!("fitting familiarity statistics on {} train images", train.len());
    let seen = sample_outputs(&members, &train, &inputs, device)?;
    let familiarity: Vec<Familiarity> = seen
        .features
        .iter()
        .enumerate()
        .map(|(m, f)| {
            crate::familiarity_fit::fit(f, &seen.labels, args.familiarity_rank)
                .with_context(|| format!("fitting member {m}'s familiarity statistics"))
        })
        .collect::<Result<_>>()?;

    let val = sample_outputs(&members, &split.part(Part::Val), &inputs, device)?;
    let (logits, labels) = (&val.logits, &val.labels);
    if labels.is_empty() {
        bail!("the validation part is empty");
    }
    let temperatures: Vec<f32> =
        logits.iter().map(|l| calibration::fit_temperature(l, labels)).collect();

    // Combine on validation to place the thresholds.
    let unset =
        Thresholds { min_agreement: 0.0, min_confidence: 0.0, max_familiarity_distance: f32::MAX };
    let predictions: Vec<ensemble::Prediction> = (0..labels.len())
        .map(|i| {
            ensemble::combine(
                &val.sample_logits(i),
                &temperatures,
                &run.classes,
                &unset,
                val.distance(&familiarity, i),
            )
        })
        .collect();
    // Lesion photos like the training ones: flag at most 1% of them as unfamiliar.
    let mut distances: Vec<f32> =
        predictions.iter().filter_map(|p| p.familiarity_distance).collect();
    let max_familiarity_distance = quantile(&mut distances, 0.99);
    // "Uncertain" below the confidence where validation predictions are right
    // less than half the time.
    let mut by_confidence: Vec<(f32, bool)> = predictions
        .iter()
        .zip(labels)
        .map(|(p, &y)| (p.probabilities[p.top], p.top == y))
        .collect();
    by_confidence.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut min_confidence = 0.0;
    let mut right = 0usize;
    for (k, (confidence, ok)) in by_confidence.iter().enumerate() {
        right += usize::from(*ok);
        if (right as f32) / ((k + 1) as f32) < 0.5 {
            min_confidence = *confidence;
        }
    }
    let thresholds = Thresholds {
        // A majority of members must agree (always met by a single member).
        min_agreement: if members.len() > 1 { 0.5 + 0.5 / members.len() as f32 } else { 0.0 },
        min_confidence,
        max_familiarity_distance,
    };
    let calibration = Calibration { temperatures, thresholds, flip_tta, familiarity };
    dir.save_calibration(&calibration)?;
    for (m, t) in calibration.temperatures.iter().enumerate() {
        let before = calibration::nll(&logits[m], labels, 1.0);
        let after = calibration::nll(&logits[m], labels, *t);
        println!("member {m}: temperature {t:.3} (validation NLL {before:.4} -> {after:.4})");
    }
    let mut seen_distances: Vec<f32> =
        (0..seen.labels.len()).filter_map(|i| seen.distance(&calibration.familiarity, i)).collect();
    println!(
        "thresholds: agreement >= {:.2}, confidence >= {:.3}, familiarity distance <= {:.3} (train images: median {:.3})",
        calibration.thresholds.min_agreement,
        calibration.thresholds.min_confidence,
        calibration.thresholds.max_familiarity_distance,
        quantile(&mut seen_distances, 0.5)
    );
    Ok(())
}
