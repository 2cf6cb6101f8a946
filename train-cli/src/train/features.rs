//! The frozen ImageNet backbone's pooled features of every photo's plain
//! view, for the head's warm start: computed once per input size and kept
//! in a cache folder that runs (and sweep trials) share. A cache file is
//! named after everything its values depend on and closed by its sha256.

use std::path::Path;

use anyhow::{Result, bail};
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use model::efficientnet::{EfficientNetLite, FEATURE_CHANNELS};
use model::preprocess::{self, Preparation};
use sha2::{Digest, Sha256};

use super::images::Photos;
use crate::progress;
use crate::tensors::values;

/// Images per forward pass.
const BATCH: usize = 32;
const MAGIC: &[u8; 8] = b"DLPOOL01";

/// `[photos][FEATURE_CHANNELS]`, row-major.
pub struct Pooled {
    pub values: Vec<f32>,
}

impl Pooled {
    pub fn len(&self) -> usize {
        self.values.len() / FEATURE_CHANNELS
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The rows of `picks` as a batch on `device`.
    pub fn batch(&self, picks: &[usize], device: &Device) -> Tensor<2> {
        let mut flat = Vec::with_capacity(picks.len() * FEATURE_CHANNELS);
        for &i in picks {
            flat.extend_from_slice(&self.values[i * FEATURE_CHANNELS..(i + 1) * FEATURE_CHANNELS]);
        }
        Tensor::from_data(TensorData::new(flat, [picks.len(), FEATURE_CHANNELS]), device)
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        self.values.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
        let digest = Sha256::digest(&out);
        out.extend_from_slice(&digest);
        out
    }

    fn from_bytes(bytes: &[u8], rows: usize) -> Option<Self> {
        let (body, digest) = bytes.split_at_checked(bytes.len().checked_sub(32)?)?;
        if !body.starts_with(MAGIC)
            || Sha256::digest(body).as_slice() != digest
            || body.len() != MAGIC.len() + rows * FEATURE_CHANNELS * 4
        {
            return None;
        }
        Some(Self {
            values: body[MAGIC.len()..]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        })
    }
}

/// The pooled features of `photos` (already colour-corrected, if the
/// recipe says so) at input `size`, from the cache file `path` when it
/// holds them, else computed and saved there.
pub fn load_or_compute(
    backbone: &EfficientNetLite,
    photos: &Photos,
    size: u32,
    preparation: &Preparation,
    path: &Path,
    device: &Device,
) -> Result<Pooled> {
    if let Ok(bytes) = std::fs::read(path) {
        if let Some(pooled) = Pooled::from_bytes(&bytes, photos.len()) {
            return Ok(pooled);
        }
        eprintln!("{} is damaged or stale: computing it again", path.display());
    }
    let backbone = backbone.valid();
    let plain = Preparation { colour_constancy: false, ..*preparation };
    let bar = progress::bar(photos.len() as u64, &format!("features {size}px"));
    let mut out = Vec::with_capacity(photos.len() * FEATURE_CHANNELS);
    for chunk in photos.images.chunks(BATCH) {
        let inputs: Vec<Vec<f32>> = chunk.iter().map(|p| plain.input(p, [size, size])).collect();
        let batch = preprocess::batch(&inputs, [size as usize, size as usize], device);
        out.extend(values(backbone.embed(batch))?);
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    if out.len() != photos.len() * FEATURE_CHANNELS {
        bail!("internal: {} feature values for {} photos", out.len(), photos.len());
    }
    let pooled = Pooled { values: out };
    crate::files::write_atomic(path, &pooled.to_bytes())?;
    Ok(pooled)
}

/// A cache file name for features of one part, from everything they depend on.
pub fn cache_name(part: &str, key: &[&str]) -> String {
    let digest = Sha256::digest(key.join("\n").as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("pooled-{part}-{hex}.bin")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_features_round_trip_and_damage_is_refused() {
        let pooled = Pooled { values: (0..2 * FEATURE_CHANNELS).map(|v| v as f32).collect() };
        let bytes = pooled.to_bytes();
        assert_eq!(Pooled::from_bytes(&bytes, 2).unwrap().values, pooled.values);
        assert!(Pooled::from_bytes(&bytes, 3).is_none(), "another row count is stale");
        let mut flipped = bytes.clone();
        flipped[100] ^= 4;
        assert!(Pooled::from_bytes(&flipped, 2).is_none());
        assert!(Pooled::from_bytes(&bytes[..10], 2).is_none());
        assert_ne!(cache_name("train", &["a", "160"]), cache_name("train", &["a", "192"]));
    }
}
