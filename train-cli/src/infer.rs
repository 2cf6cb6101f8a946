//! Running members over image files: batched, with optional flip
//! test-time augmentation (the mean of the logits over the image and its
//! horizontal, vertical and double flips).

use std::path::PathBuf;

use anyhow::Result;
use burn::tensor::{Device, Tensor};
use model::analysis;
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

/// Logits of one member for a batch of prepared images, flips averaged
/// (all views in one forward pass).
fn member_logits(member: &Classifier, batch: Tensor<4>, flip_tta: bool) -> Tensor<2> {
    let views = analysis::view_count(flip_tta);
    analysis::mean_views(member.forward(analysis::views(batch, flip_tta)), views)
}

fn rows(logits: Tensor<2>) -> Result<Vec<Vec<f32>>> {
    let [n, k] = logits.dims();
    let values: Vec<f32> = logits.into_data().try_into_vec().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok((0..n).map(|r| values[r * k..(r + 1) * k].to_vec()).collect())
}

/// For each prepared image (network input, CHW): every member's logits.
pub fn prepared_logits(members: &[Classifier], prepared: &[Vec<f32>], inputs: &Inputs, device: &Device) -> Result<Vec<Vec<Vec<f32>>>> {
    let [h, w] = inputs.input;
    let batch = preprocess::batch(prepared, [h as usize, w as usize], device);
    let mut per_member = Vec::with_capacity(members.len());
    if inputs.shared_blocks > 0 && members.len() > 1 {
        let cut = inputs.shared_blocks;
        let views = analysis::view_count(inputs.flip_tta);
        let lower = members[0].backbone.forward_lower(analysis::views(batch, inputs.flip_tta), cut);
        for member in members {
            let features = member.backbone.forward_upper(lower.clone(), cut);
            per_member.push(rows(analysis::mean_views(member.classify_features(features), views))?);
        }
    } else {
        for member in members {
            per_member.push(rows(member_logits(member, batch.clone(), inputs.flip_tta))?);
        }
    }
    Ok((0..prepared.len()).map(|k| per_member.iter().map(|m| m[k].clone()).collect()).collect())
}

/// For each image: every member's logits, or why the image could not be read.
pub fn logits_for_files(
    members: &[Classifier],
    files: &[PathBuf],
    inputs: &Inputs,
    device: &Device,
) -> Result<Vec<Result<Vec<Vec<f32>>, String>>> {
    let [h, w] = inputs.input;
    let bar = progress::bar(files.len() as u64, "predicting");
    let mut out: Vec<Result<Vec<Vec<f32>>, String>> = Vec::with_capacity(files.len());
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
        let per_image = if prepared.is_empty() { Vec::new() } else { prepared_logits(members, &prepared, inputs, device)? };
        for slot in slots {
            out.push(slot.map(|k| per_image[k].clone()));
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(out)
}
