//! The bundle on one condition's photos (the page's advice, the photo
//! checks) and the figures of one condition.

use anyhow::{Result, bail};
use image::RgbImage;
use indicatif::ProgressBar;
use model::analysis;
use model::bundle::{LoadedBundle, Manifest};
use model::guidance;
use model::inference::Looking;
use model::quality::{QualityIssue, QualityMeasures};
use serde::Serialize;

use crate::context::Context;
use crate::data::Sample;
use crate::degraded::{self, Condition};
use crate::metrics;

/// What the bundle and the photo checks made of one photo.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub probabilities: Vec<f32>,
    pub top: usize,
    /// The page's advice is to see a dermatologist.
    pub referred: bool,
    pub uncertain: bool,
    pub unfamiliar: bool,
    /// The photo checks' reasons to retake the photo; empty when none.
    pub retake: Vec<QualityIssue>,
    pub measures: QualityMeasures,
}

/// Each sample's class as an index into the bundle's classes.
pub fn bundle_labels(
    samples: &[Sample],
    classes: &[String],
    manifest: &Manifest,
) -> Result<Vec<usize>> {
    samples
        .iter()
        .map(|s| {
            let code = classes.get(s.label).map(String::as_str).unwrap_or("?");
            match manifest.classes.iter().position(|c| c.code == code) {
                Some(i) => Ok(i),
                None => bail!("the split's class '{code}' is not one of the bundle's classes"),
            }
        })
        .collect()
}

/// The bundle's outcome on every photo under `condition`.
pub fn measure(
    bundle: &LoadedBundle,
    photos: &[RgbImage],
    samples: &[Sample],
    condition: &Condition,
    ctx: &Context,
    bar: &ProgressBar,
) -> Result<Vec<Outcome>> {
    let looking = Looking::of(bundle);
    let outputs =
        degraded::outputs(&bundle.members, &looking, photos, samples, condition, &ctx.device, bar)?;
    let classes = &bundle.manifest.classes;
    Ok(outputs
        .into_iter()
        .map(|o| {
            let p = analysis::predict(bundle, &o.logits, &o.features);
            let advice = guidance::assess(&p, classes, Some(&bundle.manifest.thresholds));
            Outcome {
                top: p.top,
                referred: advice.see_doctor,
                uncertain: p.uncertain,
                unfamiliar: p.unfamiliar,
                probabilities: p.probabilities,
                retake: o.issues,
                measures: o.measures,
            }
        })
        .collect())
}

/// The figures of one condition.
#[derive(Debug, Clone, Serialize)]
pub struct Tally {
    pub kind: String,
    pub severity: String,
    pub description: String,
    pub n: usize,
    pub balanced_accuracy: f64,
    /// `None` without melanomas.
    pub melanoma_recall: Option<f64>,
    /// Shares of the malignant lesions: the advice says to see a
    /// dermatologist; that, or the photo checks ask for a retake.
    pub malignant_referred: f64,
    pub malignant_caught: f64,
    /// Share of nevi the advice sends to a dermatologist.
    pub nevi_referred: f64,
    pub uncertain: f64,
    pub retake: f64,
}

fn share(flags: impl Iterator<Item = bool>) -> f64 {
    let (hits, n) = flags.fold((0usize, 0usize), |(h, n), f| (h + usize::from(f), n + 1));
    if n == 0 { f64::NAN } else { hits as f64 / n as f64 }
}

impl Tally {
    pub fn of(
        condition: &Condition,
        outcomes: &[Outcome],
        labels: &[usize],
        manifest: &Manifest,
    ) -> Self {
        let classes = &manifest.classes;
        let malignant: Vec<bool> = classes.iter().map(|c| c.malignant).collect();
        let probs: Vec<Vec<f32>> = outcomes.iter().map(|o| o.probabilities.clone()).collect();
        let m = metrics::compute(&probs, labels, &malignant);
        let mel = classes.iter().position(|c| c.code == "mel");
        let nv = classes.iter().position(|c| c.code == "nv");
        let pairs = || outcomes.iter().zip(labels);
        let of_malignant = || pairs().filter(|(_, l)| malignant[**l]);
        Self {
            kind: condition.kind().into(),
            severity: condition.severity().into(),
            description: condition.describe(),
            n: outcomes.len(),
            balanced_accuracy: m.balanced_accuracy,
            melanoma_recall: mel
                .filter(|&c| m.per_class[c].support > 0)
                .map(|c| m.per_class[c].recall),
            malignant_referred: share(of_malignant().map(|(o, _)| o.referred)),
            malignant_caught: share(
                of_malignant().map(|(o, _)| o.referred || !o.retake.is_empty()),
            ),
            nevi_referred: share(pairs().filter(|(_, l)| Some(**l) == nv).map(|(o, _)| o.referred)),
            uncertain: share(outcomes.iter().map(|o| o.uncertain)),
            retake: share(outcomes.iter().map(|o| !o.retake.is_empty())),
        }
    }
}
