//! A split part's photos as the robustness benchmark spoils them: the
//! conditions (the clean photos, then each `model::degrade` kind at each
//! severity), a fixed class-stratified subset of a part, and every member's
//! outputs on a condition's photos. Shared by `robustness` and `sweep`.

use anyhow::{Context as _, Result};
use burn::tensor::Device;
use image::RgbImage;
use indicatif::ProgressBar;
use model::classifier::Classifier;
use model::degrade::{Degradation, Kind, Severity};
use model::inference::Looking;
use rayon::prelude::*;

use crate::data::Sample;
use crate::infer::{ImageOutputs, photo_outputs};
use crate::rng::Rng;

/// Photos per forward pass.
const BATCH: usize = 32;

/// The photos as they are, or one degradation at one severity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Condition {
    pub degradation: Option<(Degradation, Severity)>,
}

impl Condition {
    pub const CLEAN: Condition = Condition { degradation: None };

    /// The clean photos first, then every kind at every severity.
    pub fn list(kinds: &[Kind], severities: &[Severity]) -> Vec<Condition> {
        let mut out = vec![Condition::CLEAN];
        for &kind in kinds {
            for &severity in severities {
                out.push(Condition {
                    degradation: Some((Degradation::at(kind, severity), severity)),
                });
            }
        }
        out
    }

    pub fn kind(&self) -> &'static str {
        self.degradation.map_or("none", |(d, _)| d.kind.name())
    }

    pub fn severity(&self) -> &'static str {
        self.degradation.map_or("-", |(_, s)| s.name())
    }

    pub fn describe(&self) -> String {
        self.degradation
            .map_or_else(|| "the photos as they are".into(), |(d, _)| d.kind.describe(d.strength))
    }

    pub fn apply(&self, photo: &RgbImage, seed: u64) -> RgbImage {
        match self.degradation {
            None => photo.clone(),
            Some((d, _)) => d.apply(photo, seed),
        }
    }
}

/// Up to `limit` of `samples` (0: all), each class keeping its share, in
/// their original order; the choice is fixed.
pub fn sample(samples: &[Sample], classes: &[String], limit: usize) -> Vec<Sample> {
    if limit == 0 || limit >= samples.len() {
        return samples.to_vec();
    }
    let mut keep = vec![false; samples.len()];
    for class in 0..classes.len() {
        let mut members: Vec<usize> =
            (0..samples.len()).filter(|&i| samples[i].label == class).collect();
        let quota = (members.len() * limit).div_ceil(samples.len());
        Rng::new(2026 + class as u64).shuffle(&mut members);
        members.iter().take(quota).for_each(|&i| keep[i] = true);
    }
    samples.iter().zip(keep).filter(|(_, k)| *k).map(|(s, _)| s.clone()).collect()
}

/// Every sample's photo, decoded.
pub fn decode(samples: &[Sample]) -> Result<Vec<RgbImage>> {
    samples
        .par_iter()
        .map(|s| {
            let bytes = crate::files::read_limited(&s.path, crate::files::MAX_PHOTO_BYTES)?;
            model::preprocess::decode(&bytes).with_context(|| s.path.display().to_string())
        })
        .collect()
}

/// A photo's seed: from its id, so a subset of the part spoils each photo
/// as the whole part does.
fn seed(image: &str) -> u64 {
    image
        .bytes()
        .fold(0xCBF2_9CE4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3))
}

/// Every member's outputs (and the photo checks') on each photo under `condition`.
pub fn outputs(
    members: &[Classifier],
    looking: &Looking,
    photos: &[RgbImage],
    samples: &[Sample],
    condition: &Condition,
    device: &Device,
    bar: &ProgressBar,
) -> Result<Vec<ImageOutputs>> {
    let mut out = Vec::with_capacity(photos.len());
    for (chunk, names) in photos.chunks(BATCH).zip(samples.chunks(BATCH)) {
        let spoilt: Vec<RgbImage> =
            chunk.par_iter().zip(names).map(|(p, s)| condition.apply(p, seed(&s.image))).collect();
        out.extend(photo_outputs(members, looking, &spoilt, device)?);
        bar.inc(chunk.len() as u64);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(labels: &[usize]) -> Vec<Sample> {
        labels
            .iter()
            .enumerate()
            .map(|(i, &label)| Sample {
                image: format!("img{i}"),
                path: format!("img{i}.jpg").into(),
                label,
                group: format!("g{i}"),
            })
            .collect()
    }

    #[test]
    fn a_limited_sample_keeps_every_class_and_its_order() {
        let labels: Vec<usize> = (0..100)
            .map(|i| {
                if i < 80 {
                    0
                } else if i < 95 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let all = samples(&labels);
        let classes = vec!["a".to_string(), "b".into(), "c".into()];
        let some = sample(&all, &classes, 20);
        let count = |c| some.iter().filter(|s| s.label == c).count();
        assert_eq!((count(0), count(1), count(2)), (16, 3, 1));
        let positions: Vec<usize> =
            some.iter().map(|s| all.iter().position(|a| a == s).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "original order kept");
        assert_eq!(sample(&all, &classes, 20), some, "the same choice every time");
        assert_eq!(sample(&all, &classes, 0).len(), 100);
    }

    #[test]
    fn conditions_start_clean_and_name_themselves() {
        let list = Condition::list(&[Kind::Dim, Kind::Jpeg], &[Severity::Mild, Severity::Severe]);
        assert_eq!(list.len(), 5);
        assert_eq!((list[0].kind(), list[0].severity()), ("none", "-"));
        assert_eq!((list[4].kind(), list[4].severity()), ("jpeg", "severe"));
        assert_eq!(list[4].describe(), "JPEG quality 10");
    }
}
