//! Running members over image files: batched, with optional flip
//! test-time augmentation (the mean of the logits over the image and its
//! horizontal, vertical and double flips).

use std::path::PathBuf;

use anyhow::Result;
use burn::tensor::{Device, Tensor};
use model::analysis;
use model::bundle::Manifest;
use model::classifier::Classifier;
use model::preprocess::{self, Normalization, PreprocessError};

use crate::progress;

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

fn rows(values: Tensor<2>) -> Result<Vec<Vec<f32>>> {
    let [n, k] = values.dims();
    let values: Vec<f32> = values.into_data().try_into_vec().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok((0..n).map(|r| values[r * k..(r + 1) * k].to_vec()).collect())
}

/// For each prepared image (network input, CHW): every member's logits and features.
pub fn prepared_outputs(members: &[Classifier], prepared: &[Vec<f32>], inputs: &Inputs, device: &Device) -> Result<Vec<ImageOutputs>> {
    let [h, w] = inputs.input;
    let batch = preprocess::batch(prepared, [h as usize, w as usize], device);
    let views = analysis::view_count(inputs.flip_tta);
    let maps = analysis::member_feature_maps(members, analysis::views(batch, inputs.flip_tta), inputs.shared_blocks);
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
            let result = std::fs::read(path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| preprocess::prepare(&bytes, [h, w], &inputs.normalization).map_err(|e: PreprocessError| e.to_string()));
            match result {
                Ok(p) => {
                    slots.push(Ok(prepared.len()));
                    prepared.push(p);
                }
                Err(e) => slots.push(Err(e)),
            }
        }
        let per_image = if prepared.is_empty() { Vec::new() } else { prepared_outputs(members, &prepared, inputs, device)? };
        for slot in slots {
            out.push(slot.map(|k| per_image[k].clone()));
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(out)
}
