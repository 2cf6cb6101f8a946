//! The training and validation photos, decoded once and kept in memory, so
//! that every epoch can draw fresh views without reading files again.

use anyhow::{Context, Result};
use image::RgbImage;
use model::preprocess::{self, Preparation};
use rayon::prelude::*;

use crate::data::Sample;
use crate::progress;

pub struct Photos {
    pub images: Vec<RgbImage>,
    pub labels: Vec<usize>,
}

impl Photos {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Reads and decodes `samples`. Photos whose shorter side exceeds
/// `max_side` are shrunk to it (no training view needs more); their colours
/// are corrected when the preparation says so.
pub fn load(
    samples: &[Sample],
    max_side: u32,
    preparation: &Preparation,
    what: &str,
) -> Result<Photos> {
    let bar = progress::bar(samples.len() as u64, what);
    let images = samples
        .par_iter()
        .map(|sample| {
            let bytes = crate::files::read_limited(&sample.path, crate::files::MAX_PHOTO_BYTES)
                .with_context(|| format!("cannot read {}", sample.path.display()))?;
            let mut image =
                preprocess::decode(&bytes).with_context(|| format!("{}", sample.path.display()))?;
            let short = image.width().min(image.height());
            if short > max_side {
                let scale = max_side as f32 / short as f32;
                let (w, h) = (
                    (image.width() as f32 * scale).round() as u32,
                    (image.height() as f32 * scale).round() as u32,
                );
                image = preprocess::resize(&image, w.max(1), h.max(1));
            }
            if preparation.colour_constancy {
                // Corrected once here, as `Preparation::input` corrects each view.
                let gains = preparation.gains(&image);
                preprocess::apply_gains(&mut image, gains);
            }
            bar.inc(1);
            Ok(image)
        })
        .collect::<Result<Vec<_>>>()?;
    bar.finish_and_clear();
    Ok(Photos { images, labels: samples.iter().map(|s| s.label).collect() })
}
