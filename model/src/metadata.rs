//! Age, sex and body site, optional: a small prior on top of the image
//! model. Each class's score moves by a linear function of the metadata
//! (`log p'(c) = log p(c) + bias(c) + w(c) . x`, renormalised), fitted on
//! the validation part with the image model's probabilities kept as they
//! are, so the photo still decides and the metadata only tips the balance
//! (HAM10000 studies use the same fields; `benches/metadata.py` measured it
//! before it was built). Given nothing, nothing changes.

use serde::{Deserialize, Serialize};

use crate::calibration::softmax;
use crate::classes::LesionClass;
use crate::ensemble::{Prediction, Thresholds};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Female,
    Male,
}

impl Sex {
    /// "female" or "male" (any case); anything else is unknown.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "female" | "f" => Some(Sex::Female),
            "male" | "m" => Some(Sex::Male),
            _ => None,
        }
    }
}

/// What a person may tell about the lesion's owner; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// Years.
    pub age: Option<f32>,
    pub sex: Option<Sex>,
    /// A body site as the prior names them (e.g. "back", "face").
    pub site: Option<String>,
}

impl Metadata {
    /// Reads the three fields as HAM10000's metadata writes them: an age in
    /// years (empty or "nan": unknown), "male"/"female", a site ("unknown").
    pub fn parse(age: &str, sex: &str, site: &str) -> Self {
        let age =
            age.trim().parse::<f32>().ok().filter(|a| a.is_finite() && (0.0..=130.0).contains(a));
        let site = site.trim().to_ascii_lowercase();
        let site = (!site.is_empty() && site != "unknown").then_some(site);
        Self { age, sex: Sex::parse(sex), site }
    }

    pub fn is_empty(&self) -> bool {
        self.age.is_none() && self.sex.is_none() && self.site.is_none()
    }
}

/// Age is centred and scaled so the fit's step size suits every feature.
const AGE_CENTRE: f32 = 50.0;
const AGE_SCALE: f32 = 20.0;
/// Most body sites a prior may name (HAM10000 has 14).
pub const MAX_SITES: usize = 64;

/// The fitted prior, stored in the bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetadataPrior {
    /// The body sites it knows, in feature order.
    pub sites: Vec<String>,
    /// Per feature (age, age unknown, female, male, then each site), one
    /// weight per class.
    pub weights: Vec<Vec<f32>>,
    /// One per class.
    pub bias: Vec<f32>,
    /// The referral threshold when the prior is used (chosen on validation
    /// for the same share of malignant lesions as the bundle's own).
    pub referral: f32,
}

impl MetadataPrior {
    fn feature_count(sites: usize) -> usize {
        4 + sites
    }

    /// The features of `m` for a prior knowing `sites`.
    pub fn features_for(sites: &[String], m: &Metadata) -> Vec<f32> {
        let mut x = vec![0.0; Self::feature_count(sites.len())];
        match m.age {
            Some(age) => x[0] = (age - AGE_CENTRE) / AGE_SCALE,
            None => x[1] = 1.0,
        }
        match m.sex {
            Some(Sex::Female) => x[2] = 1.0,
            Some(Sex::Male) => x[3] = 1.0,
            None => {}
        }
        if let Some(i) = m.site.as_ref().and_then(|s| sites.iter().position(|k| k == s)) {
            x[4 + i] = 1.0;
        }
        x
    }

    /// Why the prior cannot be used with `classes` classes, if it cannot.
    pub fn problem(&self, classes: usize) -> Option<String> {
        let features = Self::feature_count(self.sites.len());
        if self.sites.len() > MAX_SITES {
            return Some(format!("it names more than {MAX_SITES} body sites"));
        }
        if self.bias.len() != classes
            || self.weights.len() != features
            || self.weights.iter().any(|w| w.len() != classes)
        {
            return Some("its weights do not match the classes and sites".into());
        }
        let values = self.weights.iter().flatten().chain(&self.bias);
        if values.chain([&self.referral]).any(|v| !v.is_finite())
            || !(0.0..=1.0).contains(&self.referral)
        {
            return Some("it holds a value that is not a number or out of range".into());
        }
        None
    }

    /// Each class's score shift for `m`.
    pub fn shift(&self, m: &Metadata) -> Vec<f32> {
        let x = Self::features_for(&self.sites, m);
        let mut out = self.bias.clone();
        for (xf, w) in x.iter().zip(&self.weights) {
            for (o, wc) in out.iter_mut().zip(w) {
                *o += xf * wc;
            }
        }
        out
    }

    /// The image model's `probabilities` with the prior for `m` applied;
    /// unchanged when `m` says nothing.
    pub fn apply(&self, probabilities: &[f32], m: &Metadata) -> Vec<f32> {
        if m.is_empty() {
            return probabilities.to_vec();
        }
        let shift = self.shift(m);
        let scores: Vec<f32> =
            probabilities.iter().zip(&shift).map(|(p, s)| p.max(1e-6).ln() + s).collect();
        softmax(&scores, 1.0)
    }

    /// `prediction` with the prior for `m` applied, and the thresholds that
    /// then hold (the prior's own referral threshold); both unchanged when
    /// `m` says nothing.
    pub fn adjust(
        &self,
        prediction: Prediction,
        m: &Metadata,
        classes: &[LesionClass],
        thresholds: &Thresholds,
    ) -> (Prediction, Thresholds) {
        if m.is_empty() {
            return (prediction, thresholds.clone());
        }
        let probabilities = self.apply(&prediction.probabilities, m);
        let thresholds = Thresholds { referral: self.referral, ..thresholds.clone() };
        (prediction.with_probabilities(probabilities, classes, &thresholds), thresholds)
    }

    /// Fits the prior on the image model's `probabilities` of labelled
    /// photos with their metadata: full-batch gradient descent on the
    /// class-balanced cross-entropy, L2 `l2` on the weights (not the bias).
    /// Deterministic. `referral` is set by the caller.
    pub fn fit(
        probabilities: &[Vec<f32>],
        metadata: &[Metadata],
        labels: &[usize],
        sites: Vec<String>,
        l2: f32,
    ) -> Self {
        let k = probabilities.first().map_or(0, Vec::len);
        let n = labels.len().max(1);
        let xs: Vec<Vec<f32>> = metadata.iter().map(|m| Self::features_for(&sites, m)).collect();
        let offsets: Vec<Vec<f32>> =
            probabilities.iter().map(|p| p.iter().map(|v| v.max(1e-6).ln()).collect()).collect();
        let mut counts = vec![0usize; k];
        for &y in labels {
            counts[y] += 1;
        }
        let class_weight: Vec<f32> =
            counts.iter().map(|&c| n as f32 / (k as f32 * c.max(1) as f32)).collect();
        let d = Self::feature_count(sites.len());
        let mut prior =
            Self { sites, weights: vec![vec![0.0; k]; d], bias: vec![0.0; k], referral: 1.0 };
        const STEPS: usize = 3000;
        const RATE: f32 = 0.5;
        for _ in 0..STEPS {
            let mut grad_w = vec![vec![0.0f32; k]; d];
            let mut grad_b = vec![0.0f32; k];
            for ((x, offset), &y) in xs.iter().zip(&offsets).zip(labels) {
                let mut scores = offset.clone();
                for (xf, w) in x.iter().zip(&prior.weights) {
                    for (s, wc) in scores.iter_mut().zip(w) {
                        *s += xf * wc;
                    }
                }
                for (s, b) in scores.iter_mut().zip(&prior.bias) {
                    *s += b;
                }
                let p = softmax(&scores, 1.0);
                for c in 0..k {
                    let g = (p[c] - if c == y { 1.0 } else { 0.0 }) * class_weight[y] / n as f32;
                    grad_b[c] += g;
                    for (f, xf) in x.iter().enumerate() {
                        grad_w[f][c] += g * xf;
                    }
                }
            }
            for (w, g) in prior.weights.iter_mut().zip(&grad_w) {
                for (wc, gc) in w.iter_mut().zip(g) {
                    *wc -= RATE * (gc + l2 * *wc);
                }
            }
            for (b, g) in prior.bias.iter_mut().zip(&grad_b) {
                *b -= RATE * g;
            }
        }
        prior
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sites() -> Vec<String> {
        vec!["back".into(), "face".into()]
    }

    #[test]
    fn nothing_given_changes_nothing() {
        let prior = MetadataPrior {
            sites: sites(),
            weights: vec![vec![1.0, -1.0]; 6],
            bias: vec![0.5, -0.5],
            referral: 0.3,
        };
        let p = vec![0.3, 0.7];
        assert_eq!(prior.apply(&p, &Metadata::default()), p);
        let moved = prior.apply(&p, &Metadata { site: Some("face".into()), ..Metadata::default() });
        assert!(moved[0] > 0.3 && (moved.iter().sum::<f32>() - 1.0).abs() < 1e-6, "{moved:?}");
        assert!(prior.problem(2).is_none());
        assert!(prior.problem(3).is_some());
        let broken = MetadataPrior { referral: f32::NAN, ..prior };
        assert!(broken.problem(2).is_some());
    }

    #[test]
    fn the_fit_learns_what_the_photo_cannot_tell() {
        // The image model is unsure (50/50); class 1 is on the face, class 0
        // on the back, and age says nothing.
        let mut probabilities = Vec::new();
        let mut metadata = Vec::new();
        let mut labels = Vec::new();
        for i in 0..200 {
            let y = i % 2;
            probabilities.push(vec![0.5, 0.5]);
            let site = if y == 1 { "face" } else { "back" };
            metadata.push(Metadata::parse(&format!("{}", 30 + i % 40), "male", site));
            labels.push(y);
        }
        let prior = MetadataPrior::fit(&probabilities, &metadata, &labels, sites(), 0.01);
        let face = prior.apply(&[0.5, 0.5], &Metadata::parse("40", "", "face"));
        let back = prior.apply(&[0.5, 0.5], &Metadata::parse("40", "", "back"));
        assert!(face[1] > 0.7 && back[0] > 0.7, "{face:?} {back:?}");
    }

    #[test]
    fn parsing_follows_ham10000s_metadata() {
        let m = Metadata::parse("45.0", "female", "Lower Extremity");
        assert_eq!(m.age, Some(45.0));
        assert_eq!(m.sex, Some(Sex::Female));
        assert_eq!(m.site.as_deref(), Some("lower extremity"));
        assert!(Metadata::parse("nan", "unknown", "unknown").is_empty());
        assert_eq!(Metadata::parse("-3", "", "").age, None);
    }
}
