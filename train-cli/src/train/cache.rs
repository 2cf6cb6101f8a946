//! Activations of the frozen part of the backbone, computed once per image
//! view and kept (in memory and on disk) so that training the top blocks
//! never runs the bottom ones again. Each entry holds the activation at the
//! cut and the pooled features of the whole ImageNet backbone (for training
//! the head alone).

use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::tensor::{Device, Tensor};
use half::f16;
use model::efficientnet::{EfficientNetLite0, FEATURE_CHANNELS, pool};
use model::preprocess::{self, Normalization};

use super::augment::Augment;
use crate::data::Sample;
use crate::progress;
use crate::rng::Rng;
use crate::tensors::values;

const MAGIC: &[u8; 8] = b"DLCACHE1";
/// Images per forward pass while caching.
const BATCH: usize = 16;

pub struct FeatureCache {
    /// `views` entries per sample; view 0 is the plain image.
    pub views: usize,
    /// Shape of one activation at the cut: `[channels, height, width]`.
    pub shape: [usize; 3],
    pub lower: Vec<f16>,
    pub pooled: Vec<f32>,
    pub labels: Vec<usize>,
}

impl FeatureCache {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    fn lower_size(&self) -> usize {
        self.shape.iter().product()
    }

    /// The activations of `(sample, view)` pairs as a batch on `device`.
    pub fn lower_batch(&self, picks: &[(usize, usize)], device: &Device) -> Tensor<4> {
        let size = self.lower_size();
        let mut flat = Vec::with_capacity(picks.len() * size);
        for &(i, v) in picks {
            let at = (i * self.views + v) * size;
            flat.extend(self.lower[at..at + size].iter().map(|x| x.to_f32()));
        }
        let [c, h, w] = self.shape;
        Tensor::from_data(burn::tensor::TensorData::new(flat, [picks.len(), c, h, w]), device)
    }

    /// The pooled features of `(sample, view)` pairs as a batch on `device`.
    pub fn pooled_batch(&self, picks: &[(usize, usize)], device: &Device) -> Tensor<2> {
        let mut flat = Vec::with_capacity(picks.len() * FEATURE_CHANNELS);
        for &(i, v) in picks {
            let at = (i * self.views + v) * FEATURE_CHANNELS;
            flat.extend_from_slice(&self.pooled[at..at + FEATURE_CHANNELS]);
        }
        Tensor::from_data(
            burn::tensor::TensorData::new(flat, [picks.len(), FEATURE_CHANNELS]),
            device,
        )
    }

    fn to_bytes(&self, key: &str) -> Vec<u8> {
        let header = serde_json::json!({ "key": key, "views": self.views, "shape": self.shape, "n": self.len() });
        let header = header.to_string().into_bytes();
        let mut out =
            Vec::with_capacity(16 + header.len() + self.lower.len() * 2 + self.pooled.len() * 4);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(header.len() as u64).to_le_bytes());
        out.extend_from_slice(&header);
        self.labels.iter().for_each(|&l| out.extend_from_slice(&(l as u32).to_le_bytes()));
        self.lower.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
        self.pooled.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
        out
    }

    /// Reads a cache file if it exists and was made for `key`.
    fn from_file(path: &Path, key: &str) -> Option<Self> {
        let bytes = std::fs::read(path).ok()?;
        if bytes.len() < 16 || &bytes[..8] != MAGIC {
            return None;
        }
        let header_len = u64::from_le_bytes(bytes[8..16].try_into().ok()?) as usize;
        let header: serde_json::Value =
            serde_json::from_slice(bytes.get(16..16usize.checked_add(header_len)?)?).ok()?;
        if header["key"] != key {
            return None;
        }
        let views = header["views"].as_u64()? as usize;
        let n = header["n"].as_u64()? as usize;
        let shape: [usize; 3] = serde_json::from_value(header["shape"].clone()).ok()?;
        let size: usize = shape.iter().product();
        if views == 0 {
            return None;
        }
        let entries = n.checked_mul(views)?;
        let mut at = 16usize.checked_add(header_len)?;
        let mut take = |len: Option<usize>| {
            let end = at.checked_add(len?)?;
            let slice = bytes.get(at..end);
            at = end;
            slice
        };
        let labels = take(n.checked_mul(4))?
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .collect();
        let lower = take(entries.checked_mul(size).and_then(|x| x.checked_mul(2)))?
            .chunks_exact(2)
            .map(|b| f16::from_le_bytes([b[0], b[1]]))
            .collect();
        let pooled = take(entries.checked_mul(FEATURE_CHANNELS * 4))?
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Some(Self { views, shape, lower, pooled, labels })
    }
}

pub struct CacheSpec<'a> {
    pub backbone: &'a EfficientNetLite0,
    pub cut: usize,
    pub input: [u32; 2],
    pub normalization: Normalization,
    pub views: usize,
    pub augment: Augment,
    pub seed: u64,
    pub device: &'a Device,
}

/// Loads the cache at `path` when it matches `key`, else computes and saves it.
pub fn load_or_build(
    samples: &[Sample],
    spec: &CacheSpec,
    path: &Path,
    key: &str,
    what: &str,
) -> Result<FeatureCache> {
    if let Some(cache) = FeatureCache::from_file(path, key)
        && cache.len() == samples.len()
    {
        eprintln!("{what}: reusing cached activations from {}", path.display());
        return Ok(cache);
    }
    let cache = build(samples, spec, what)?;
    crate::files::write_atomic(path, &cache.to_bytes(key))?;
    Ok(cache)
}

fn build(samples: &[Sample], spec: &CacheSpec, what: &str) -> Result<FeatureCache> {
    let device = spec.device;
    let [h, w] = spec.input;
    let total = samples.len() * spec.views;
    let bar = progress::bar(total as u64, what);
    let mut lower = Vec::new();
    let mut pooled = Vec::with_capacity(total * FEATURE_CHANNELS);
    let mut shape = [0usize; 3];
    // (sample, view) in storage order.
    let jobs: Vec<(usize, usize)> =
        (0..samples.len()).flat_map(|i| (0..spec.views).map(move |v| (i, v))).collect();
    for chunk in jobs.chunks(BATCH) {
        let mut inputs = Vec::with_capacity(chunk.len());
        let mut current: Option<(usize, image::RgbImage)> = None;
        for &(i, v) in chunk {
            if current.as_ref().is_none_or(|(k, _)| *k != i) {
                let bytes = std::fs::read(&samples[i].path)
                    .with_context(|| format!("cannot read {}", samples[i].path.display()))?;
                let decoded = preprocess::decode(&bytes)
                    .with_context(|| format!("{}", samples[i].path.display()))?;
                current = Some((i, preprocess::resize(&decoded, w, h)));
            }
            let Some((_, resized)) = &current else { bail!("internal: no image") };
            let view = if v == 0 {
                resized.clone()
            } else {
                // Each (sample, view) has its own generator: resuming a
                // half-built cache or reordering gives the same views.
                let mut rng = Rng::new(spec.seed ^ ((i as u64) << 20) ^ v as u64);
                spec.augment.view(resized, &mut rng)
            };
            inputs.push(preprocess::to_chw(&view, &spec.normalization));
        }
        let batch = preprocess::batch(&inputs, [h as usize, w as usize], device);
        let low = spec.backbone.forward_lower(batch, spec.cut);
        let [_, c, lh, lw] = low.dims();
        shape = [c, lh, lw];
        let features = pool(spec.backbone.forward_upper(low.clone(), spec.cut));
        lower.extend(values(low)?.into_iter().map(f16::from_f32));
        pooled.extend(values(features)?);
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(FeatureCache {
        views: spec.views,
        shape,
        lower,
        pooled,
        labels: samples.iter().map(|s| s.label).collect(),
    })
}
