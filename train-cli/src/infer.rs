//! Running members over image files: batched, with optional flip
//! test-time augmentation (the mean of the logits over the image and its
//! horizontal, vertical and double flips).

use std::path::PathBuf;

use anyhow::Result;
use burn::tensor::Device;
use model::analysis;
use model::bundle::Manifest;
use model::classifier::Classifier;
use model::familiarity::{self, Familiarity};
use model::preprocess::{self, Normalization, PreprocessError};

use crate::data::Sample;
use crate::progress;
use crate::run_dir::Run;
use crate::tensors::rows;

/// Images per forward pass.
const BATCH: usize = 16;

pub struct Inputs {
    pub input: [u32; 2],
    pub normalization: Normalization,
    pub flip_tta: bool,
    /// The members share (frozen, identical) blocks below this index: they
    /// run once per batch instead of once per member. 0: nothing shared.
    pub shared_blocks: usize,
}

impl Inputs {
    /// What a run prescribes (its members share the frozen blocks below the cut).
    pub fn of_run(run: &Run, flip_tta: bool) -> Self {
        Self {
            input: run.input(),
            normalization: run.normalization,
            flip_tta,
            shared_blocks: run.options.cut,
        }
    }

    /// What a bundle's manifest prescribes.
    pub fn of(manifest: &Manifest) -> Self {
        Self {
            input: manifest.input,
            normalization: manifest.normalization,
            flip_tta: manifest.flip_tta,
            shared_blocks: manifest.shared_blocks,
        }
    }
}

/// What the members make of one image (flips averaged).
#[derive(Debug, Clone)]
pub struct ImageOutputs {
    /// `[member][class]`.
    pub logits: Vec<Vec<f32>>,
    /// Pooled backbone features, `[member][channel]`.
    pub features: Vec<Vec<f32>>,
}

/// For each prepared image (network input, CHW): every member's logits and features.
pub fn prepared_outputs(
    members: &[Classifier],
    prepared: &[Vec<f32>],
    inputs: &Inputs,
    device: &Device,
) -> Result<Vec<ImageOutputs>> {
    let [h, w] = inputs.input;
    let batch = preprocess::batch(prepared, [h as usize, w as usize], device);
    let views = analysis::view_count(inputs.flip_tta);
    let maps = analysis::member_feature_maps(
        members,
        analysis::views(batch, inputs.flip_tta),
        inputs.shared_blocks,
    );
    let mut logits = Vec::with_capacity(members.len());
    let mut features = Vec::with_capacity(members.len());
    for (member, map) in members.iter().zip(maps) {
        let pooled = analysis::pooled_mean(map, views);
        logits.push(rows(member.head.forward(pooled.clone()))?);
        features.push(rows(pooled)?);
    }
    Ok((0..prepared.len())
        .map(|k| ImageOutputs {
            logits: logits.iter().map(|m| m[k].clone()).collect(),
            features: features.iter().map(|m| m[k].clone()).collect(),
        })
        .collect())
}

/// For each image: every member's outputs, or why the image could not be read.
pub fn outputs_for_files(
    members: &[Classifier],
    files: &[PathBuf],
    inputs: &Inputs,
    device: &Device,
) -> Result<Vec<Result<ImageOutputs, String>>> {
    let [h, w] = inputs.input;
    let bar = progress::bar(files.len() as u64, "predicting");
    let mut out: Vec<Result<ImageOutputs, String>> = Vec::with_capacity(files.len());
    for chunk in files.chunks(BATCH) {
        let mut prepared = Vec::new();
        let mut slots = Vec::new();
        for path in chunk {
            let result = std::fs::read(path).map_err(|e| e.to_string()).and_then(|bytes| {
                preprocess::prepare(&bytes, [h, w], &inputs.normalization)
                    .map_err(|e: PreprocessError| e.to_string())
            });
            match result {
                Ok(p) => {
                    slots.push(Ok(prepared.len()));
                    prepared.push(p);
                }
                Err(e) => slots.push(Err(e)),
            }
        }
        let per_image = if prepared.is_empty() {
            Vec::new()
        } else {
            prepared_outputs(members, &prepared, inputs, device)?
        };
        for slot in slots {
            out.push(slot.map(|k| per_image[k].clone()));
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
}

/// Runs every member over labelled `samples`; an unreadable image is an error.
pub fn sample_outputs(
    members: &[Classifier],
    samples: &[Sample],
    inputs: &Inputs,
    device: &Device,
) -> Result<SampleOutputs> {
    let files: Vec<PathBuf> = samples.iter().map(|s| s.path.clone()).collect();
    let results = outputs_for_files(members, &files, inputs, device)?;
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
