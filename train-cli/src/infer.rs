//! Running members over image files, in batches: each file read and
//! decoded, the members looking at it as `model::inference` prescribes
//! (input sizes, crop, test-time views), logits and pooled features read back.

use std::path::PathBuf;

use anyhow::Result;
use burn::tensor::Device;
use image::RgbImage;
use model::classes::LesionClass;
use model::classifier::Classifier;
use model::ensemble::{self, Prediction, Scaling, Thresholds};
use model::familiarity::{self, Familiarity};
use model::inference::{self, Looking};
use model::preprocess;
use model::quality::{self, QualityIssue, QualityMeasures, QualityThresholds};
use model::tta::Tta;
use rayon::prelude::*;

use crate::data::Sample;
use crate::progress;
use crate::run_dir::Run;
use crate::tensors::rows;

/// Photos per forward pass.
const BATCH: usize = 4;

/// How a run's members look at photos, with `tta` views.
pub fn looking_of_run(run: &Run, tta: Tta) -> Looking {
    // Fine-tuned members share no blocks.
    Looking { inputs: run.inputs(), preparation: run.preparation(), tta, shared_blocks: 0 }
}

/// What the members make of one photo (test-time views averaged).
#[derive(Debug, Clone)]
pub struct ImageOutputs {
    /// `[member][class]`.
    pub logits: Vec<Vec<f32>>,
    /// Pooled backbone features, `[member][channel]`.
    pub features: Vec<Vec<f32>>,
    /// The photo checks' measures and their reasons to retake the photo.
    pub measures: QualityMeasures,
    pub issues: Vec<QualityIssue>,
}

/// Every member's outputs for decoded photos.
pub fn photo_outputs(
    members: &[Classifier],
    looking: &Looking,
    photos: &[RgbImage],
    device: &Device,
) -> Result<Vec<ImageOutputs>> {
    let mut out: Vec<ImageOutputs> = photos
        .par_iter()
        .map(|photo| {
            let (measures, issues) = quality::assess(photo, &QualityThresholds::DEFAULT);
            ImageOutputs { logits: Vec::new(), features: Vec::new(), measures, issues }
        })
        .collect();
    for member in inference::run(members, looking, photos, device) {
        for (k, (logits, features)) in
            rows(member.logits)?.into_iter().zip(rows(member.pooled)?).enumerate()
        {
            out[k].logits.push(logits);
            out[k].features.push(features);
        }
    }
    Ok(out)
}

/// For each file: every member's outputs, or why it could not be read.
pub fn outputs_for_files(
    members: &[Classifier],
    files: &[PathBuf],
    looking: &Looking,
    device: &Device,
) -> Result<Vec<Result<ImageOutputs, String>>> {
    let bar = progress::bar(files.len() as u64, "predicting");
    let mut out: Vec<Result<ImageOutputs, String>> = Vec::with_capacity(files.len());
    for chunk in files.chunks(BATCH) {
        let decoded: Vec<Result<RgbImage, String>> = chunk
            .iter()
            .map(|path| {
                crate::files::read_limited(path, crate::files::MAX_PHOTO_BYTES)
                    .map_err(|e| format!("{e:#}"))
                    .and_then(|bytes| preprocess::decode(&bytes).map_err(|e| e.to_string()))
            })
            .collect();
        let photos: Vec<RgbImage> =
            decoded.iter().filter_map(|d| d.as_ref().ok().cloned()).collect();
        let mut outputs = if photos.is_empty() {
            Vec::new()
        } else {
            photo_outputs(members, looking, &photos, device)?
        }
        .into_iter();
        for d in decoded {
            out.push(d.map(|_| outputs.next().expect("one output per decoded photo")));
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(out)
}

/// Every member's outputs for labelled samples.
pub struct SampleOutputs {
    /// `[member][sample][class]`.
    pub logits: Vec<Vec<Vec<f32>>>,
    /// Pooled features, `[member][sample][channel]`.
    pub features: Vec<Vec<Vec<f32>>>,
    pub labels: Vec<usize>,
}

impl SampleOutputs {
    /// Every member's logits for sample `i`.
    pub fn sample_logits(&self, i: usize) -> Vec<Vec<f32>> {
        self.logits.iter().map(|l| l[i].clone()).collect()
    }

    /// The ensemble's familiarity distance for sample `i`.
    pub fn distance(&self, familiarity: &[Familiarity], i: usize) -> Option<f32> {
        let features: Vec<Vec<f32>> = self.features.iter().map(|f| f[i].clone()).collect();
        familiarity::ensemble_distance(&familiarity.iter().map(Some).collect::<Vec<_>>(), &features)
    }

    /// The ensemble's prediction for every sample, under `scaling` and `thresholds`.
    pub fn predictions(
        &self,
        familiarity: &[Familiarity],
        scaling: &Scaling,
        classes: &[LesionClass],
        thresholds: &Thresholds,
    ) -> Vec<Prediction> {
        (0..self.labels.len())
            .map(|i| {
                let distance = self.distance(familiarity, i);
                ensemble::combine(&self.sample_logits(i), scaling, classes, thresholds, distance)
            })
            .collect()
    }
}

/// Runs every member over labelled `samples`; an unreadable image is an error.
pub fn sample_outputs(
    members: &[Classifier],
    samples: &[Sample],
    looking: &Looking,
    device: &Device,
) -> Result<SampleOutputs> {
    let files: Vec<PathBuf> = samples.iter().map(|s| s.path.clone()).collect();
    let results = outputs_for_files(members, &files, looking, device)?;
    let mut out = SampleOutputs {
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
