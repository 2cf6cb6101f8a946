//! `dermlens calibrate`: one temperature per member and the ensemble's
//! decision thresholds, fitted on the validation part, and each member's
//! familiarity statistics, fitted on (a class-capped sample of) the train part.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use model::bundle::Thresholds;
use model::classifier::Classifier;
use model::familiarity::{self, Familiarity};
use model::{calibration, ensemble};
use serde::{Deserialize, Serialize};

use crate::data::Sample;
use crate::data::split::{self, Part};
use crate::infer::{self, Inputs};
use crate::rng::Rng;
use crate::train::Run;

pub const CALIBRATION_FILE: &str = "calibration.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Calibration {
    pub temperatures: Vec<f32>,
    pub thresholds: Thresholds,
    pub flip_tta: bool,
    /// One per member.
    pub familiarity: Vec<Familiarity>,
}

/// How the familiarity statistics are fitted.
#[derive(Debug, Clone, Copy)]
pub struct FamiliarityOptions {
    /// At most this many train images per class (the rare classes keep all theirs).
    pub per_class: usize,
    /// Principal directions kept.
    pub rank: usize,
}

/// The best checkpoint of every member of a run.
pub fn load_members(run_dir: &Path, run: &Run, device: &Device) -> Result<Vec<Classifier>> {
    (0..run.options.members)
        .map(|m| {
            let path = Run::member_dir(run_dir, m).join("best.bpk");
            let bytes = std::fs::read(&path).with_context(|| format!("member {m} has no checkpoint ({})", path.display()))?;
            model::weights::load(Classifier::new(run.classes.len(), device), bytes)
                .with_context(|| format!("{} does not fit the run", path.display()))
        })
        .collect()
}

/// Every member's outputs for some samples of a run's split.
pub struct PartOutputs {
    /// `[member][sample][class]`.
    pub logits: Vec<Vec<Vec<f32>>>,
    /// Pooled features, `[member][sample][channel]`.
    pub features: Vec<Vec<Vec<f32>>>,
    pub labels: Vec<usize>,
}

impl PartOutputs {
    /// Every member's logits for sample `i`.
    pub fn sample_logits(&self, i: usize) -> Vec<Vec<f32>> {
        self.logits.iter().map(|l| l[i].clone()).collect()
    }

    /// The ensemble's familiarity distance for sample `i`.
    pub fn distance(&self, familiarity: &[Familiarity], i: usize) -> Option<f32> {
        let features: Vec<Vec<f32>> = self.features.iter().map(|f| f[i].clone()).collect();
        familiarity::ensemble_distance(&familiarity.iter().map(Some).collect::<Vec<_>>(), &features)
    }
}

/// Runs every member over `samples`.
pub fn sample_outputs(members: &[Classifier], run: &Run, samples: &[Sample], flip_tta: bool, device: &Device) -> Result<PartOutputs> {
    let files: Vec<PathBuf> = samples.iter().map(|s| s.path.clone()).collect();
    let inputs = Inputs { input: run.input(), normalization: run.normalization, flip_tta, shared_blocks: run.options.cut };
    let results = infer::outputs_for_files(members, &files, &inputs, device)?;
    let mut out = PartOutputs {
        logits: vec![Vec::with_capacity(files.len()); members.len()],
        features: vec![Vec::with_capacity(files.len()); members.len()],
        labels: samples.iter().map(|s| s.label).collect(),
    };
    for (file, result) in files.iter().zip(results) {
        let outputs = result.map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        for (m, (l, f)) in outputs.logits.into_iter().zip(outputs.features).enumerate() {
            out.logits[m].push(l);
            out.features[m].push(f);
        }
    }
    Ok(out)
}

/// Runs every member over every sample of `part`.
pub fn part_outputs(members: &[Classifier], run: &Run, part: Part, flip_tta: bool, device: &Device) -> Result<PartOutputs> {
    let split = split::load(&run.options.split)?;
    sample_outputs(members, run, &split.part(part), flip_tta, device)
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

/// The `q` quantile (0..1) of `values`.
fn quantile(values: &mut [f32], q: f32) -> f32 {
    values.sort_by(f32::total_cmp);
    values[((values.len() - 1) as f32 * q).round() as usize]
}

pub fn run(run_dir: &Path, flip_tta: bool, options: FamiliarityOptions) -> Result<Calibration> {
    let run = Run::load(run_dir)?;
    let device = Device::flex();
    let members = load_members(run_dir, &run, &device)?;

    let split = split::load(&run.options.split)?;
    let train = capped_per_class(split.part(Part::Train), options.per_class);
    if train.is_empty() {
        bail!("the train part is empty");
    }
    println!("fitting familiarity statistics on {} train images", train.len());
    let seen = sample_outputs(&members, &run, &train, flip_tta, &device)?;
    let familiarity: Vec<Familiarity> = seen
        .features
        .iter()
        .enumerate()
        .map(|(m, f)| {
            crate::familiarity_fit::fit(f, &seen.labels, options.rank)
                .with_context(|| format!("fitting member {m}'s familiarity statistics"))
        })
        .collect::<Result<_>>()?;

    let val = sample_outputs(&members, &run, &split.part(Part::Val), flip_tta, &device)?;
    let (logits, labels) = (&val.logits, &val.labels);
    if labels.is_empty() {
        bail!("the validation part is empty");
    }
    let temperatures: Vec<f32> = logits.iter().map(|l| calibration::fit_temperature(l, labels)).collect();

    // Combine on validation to place the thresholds.
    let unset = Thresholds { min_agreement: 0.0, min_confidence: 0.0, max_distance: f32::MAX };
    let predictions: Vec<ensemble::Prediction> = (0..labels.len())
        .map(|i| ensemble::combine(&val.sample_logits(i), &temperatures, &run.classes, &unset, val.distance(&familiarity, i)))
        .collect();
    // Lesion photos like the training ones: flag at most 1% of them as unfamiliar.
    let mut distances: Vec<f32> = predictions.iter().filter_map(|p| p.distance).collect();
    let max_distance = quantile(&mut distances, 0.99);
    // "Uncertain" below the confidence where validation predictions are right
    // less than half the time.
    let mut by_confidence: Vec<(f32, bool)> =
        predictions.iter().zip(labels).map(|(p, &y)| (p.probabilities[p.top], p.top == y)).collect();
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
        max_distance,
    };
    let calibration = Calibration { temperatures, thresholds, flip_tta, familiarity };
    crate::files::write_atomic(
        &run_dir.join(CALIBRATION_FILE),
        serde_json::to_string_pretty(&calibration)?.as_bytes(),
    )?;
    for (m, t) in calibration.temperatures.iter().enumerate() {
        let before = calibration::nll(&logits[m], labels, 1.0);
        let after = calibration::nll(&logits[m], labels, *t);
        println!("member {m}: temperature {t:.3} (validation NLL {before:.4} -> {after:.4})");
    }
    println!(
        "thresholds: agreement >= {:.2}, confidence >= {:.3}, familiarity distance <= {:.3} (train images: median {:.3})",
        calibration.thresholds.min_agreement,
        calibration.thresholds.min_confidence,
        calibration.thresholds.max_distance,
        quantile(&mut (0..seen.labels.len()).filter_map(|i| seen.distance(&calibration.familiarity, i)).collect::<Vec<_>>(), 0.5)
    );
    Ok(calibration)
}

pub fn load(run_dir: &Path) -> Result<Calibration> {
    let path = run_dir.join(CALIBRATION_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{} is not calibrated yet: run `dermlens calibrate` first", run_dir.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is damaged", path.display()))
}
