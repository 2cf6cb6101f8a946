//! `dermlens calibrate`: one temperature per member and the ensemble's
//! decision thresholds, fitted on the validation part.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use model::bundle::Thresholds;
use model::classifier::Classifier;
use model::{calibration, ensemble};
use serde::{Deserialize, Serialize};

use crate::data::split::{self, Part};
use crate::infer::{self, Inputs};
use crate::train::Run;

pub const CALIBRATION_FILE: &str = "calibration.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Calibration {
    pub temperatures: Vec<f32>,
    pub thresholds: Thresholds,
    pub flip_tta: bool,
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

/// Every member's logits for every sample of `part`, `[member][sample][class]`.
pub fn part_logits(
    members: &[Classifier],
    run: &Run,
    part: Part,
    flip_tta: bool,
    device: &Device,
) -> Result<(Vec<Vec<Vec<f32>>>, Vec<usize>)> {
    let split = split::load(&run.options.split)?;
    let samples = split.part(part);
    let files: Vec<PathBuf> = samples.iter().map(|s| s.path.clone()).collect();
    let inputs = Inputs { input: run.input(), normalization: run.normalization, flip_tta, shared_blocks: run.options.cut };
    let results = infer::logits_for_files(members, &files, &inputs, device)?;
    let mut per_member = vec![Vec::with_capacity(files.len()); members.len()];
    for (file, result) in files.iter().zip(results) {
        let logits = result.map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        for (m, l) in logits.into_iter().enumerate() {
            per_member[m].push(l);
        }
    }
    Ok((per_member, samples.iter().map(|s| s.label).collect()))
}

/// The `q` quantile (0..1) of `values`.
fn quantile(values: &mut [f32], q: f32) -> f32 {
    values.sort_by(f32::total_cmp);
    values[((values.len() - 1) as f32 * q).round() as usize]
}

pub fn run(run_dir: &Path, flip_tta: bool) -> Result<Calibration> {
    let run = Run::load(run_dir)?;
    let device = Device::flex();
    let members = load_members(run_dir, &run, &device)?;
    let (logits, labels) = part_logits(&members, &run, Part::Val, flip_tta, &device)?;
    if labels.is_empty() {
        bail!("the validation part is empty");
    }
    let temperatures: Vec<f32> = logits.iter().map(|l| calibration::fit_temperature(l, &labels)).collect();

    // Combine on validation to place the thresholds.
    let unset = Thresholds { min_agreement: 0.0, min_confidence: 0.0, max_energy: f32::MAX };
    let predictions: Vec<ensemble::Prediction> = (0..labels.len())
        .map(|i| {
            let per_member: Vec<Vec<f32>> = logits.iter().map(|l| l[i].clone()).collect();
            ensemble::combine(&per_member, &temperatures, &run.classes, &unset)
        })
        .collect();
    // Lesion photos like the training ones: flag at most 1% of them as unfamiliar.
    let mut energies: Vec<f32> = predictions.iter().map(|p| p.energy).collect();
    let max_energy = quantile(&mut energies, 0.99);
    // "Uncertain" below the confidence where validation predictions are right
    // less than half the time.
    let mut by_confidence: Vec<(f32, bool)> =
        predictions.iter().zip(&labels).map(|(p, &y)| (p.probabilities[p.top], p.top == y)).collect();
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
        max_energy,
    };
    let calibration = Calibration { temperatures, thresholds, flip_tta };
    crate::files::write_atomic(
        &run_dir.join(CALIBRATION_FILE),
        serde_json::to_string_pretty(&calibration)?.as_bytes(),
    )?;
    for (m, t) in calibration.temperatures.iter().enumerate() {
        let before = calibration::nll(&logits[m], &labels, 1.0);
        let after = calibration::nll(&logits[m], &labels, *t);
        println!("member {m}: temperature {t:.3} (validation NLL {before:.4} -> {after:.4})");
    }
    println!(
        "thresholds: agreement >= {:.2}, confidence >= {:.3}, energy <= {:.3}",
        calibration.thresholds.min_agreement, calibration.thresholds.min_confidence, calibration.thresholds.max_energy
    );
    Ok(calibration)
}

pub fn load(run_dir: &Path) -> Result<Calibration> {
    let path = run_dir.join(CALIBRATION_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{} is not calibrated yet: run `dermlens calibrate` first", run_dir.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is damaged", path.display()))
}
