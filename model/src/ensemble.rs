//! Soft voting over temperature-scaled members, with the measures of
//! (dis)agreement a person needs to weigh the answer.

use serde::{Deserialize, Serialize};

use crate::calibration::softmax;
use crate::classes::LesionClass;

/// Decision thresholds chosen on validation data (stored in the bundle).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Below this share of members voting for the top class, the result is "uncertain".
    pub min_agreement: f32,
    /// Below this ensemble probability of the top class, the result is "uncertain".
    pub min_confidence: f32,
    /// Above this familiarity distance (see [`crate::familiarity`]), the image does not look like a lesion.
    pub max_familiarity_distance: f32,
    /// At or above this total probability of the malignant classes the
    /// advice is to see a dermatologist: chosen on validation for a target
    /// share of malignant lesions referred (bundles before it: 0.2).
    // Left out at its default, so bundles made before it keep the binding
    // (a hash of the manifest) their weight files carry.
    #[serde(default = "default_referral", skip_serializing_if = "is_default_referral")]
    pub referral: f32,
}

/// The referral threshold of bundles that do not carry their own.
pub const DEFAULT_REFERRAL: f32 = 0.2;

fn default_referral() -> f32 {
    DEFAULT_REFERRAL
}

fn is_default_referral(referral: &f32) -> bool {
    *referral == DEFAULT_REFERRAL
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            min_agreement: 0.5,
            min_confidence: 0.0,
            max_familiarity_distance: f32::MAX,
            referral: DEFAULT_REFERRAL,
        }
    }
}

/// The ensemble's answer for one image.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Prediction {
    /// Each member's calibrated probabilities.
    pub members: Vec<Vec<f32>>,
    /// Their mean: the ensemble's probabilities.
    pub probabilities: Vec<f32>,
    pub top: usize,
    /// Share of members whose own top class is the ensemble's.
    pub agreement: f32,
    /// Entropy of the mean, in nats.
    pub entropy: f32,
    /// Total probability of the malignant classes.
    pub malignant: f32,
    /// Energy score of the mean logits (lower is more confident); reported,
    /// not used for the not-a-lesion flag: it does not separate unrelated pictures.
    pub energy: f32,
    /// The members' mean familiarity distance, when the bundle has the statistics.
    pub familiarity_distance: Option<f32>,
    pub uncertain: bool,
    pub unfamiliar: bool,
}

impl Prediction {
    /// Whether every probability (the members' and the ensemble's) is a
    /// number: a broken bundle gives NaN, which must never read as an answer.
    pub fn is_finite(&self) -> bool {
        self.probabilities.iter().chain(self.members.iter().flatten()).all(|v| v.is_finite())
            && self.malignant.is_finite()
    }
}

pub fn argmax(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |b, (i, &v)| if v > b.1 { (i, v) } else { b })
        .0
}

/// `-log sum exp(logits)`: an out-of-distribution score (lower is more familiar).
pub fn energy(logits: &[f32]) -> f32 {
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    -(max + logits.iter().map(|&v| (v - max).exp()).sum::<f32>().ln())
}

/// How each member's logits become probabilities: divided by the member's
/// temperature, then shifted by one offset per class (the melanoma
/// operating point), fitted on validation data.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Scaling {
    pub temperatures: Vec<f32>,
    /// Added to every member's scaled logits; empty for none.
    #[serde(default)]
    pub offsets: Vec<f32>,
}

impl Scaling {
    /// Temperatures alone.
    pub fn temperatures(temperatures: Vec<f32>) -> Self {
        Self { temperatures, offsets: Vec::new() }
    }

    /// Member `m`'s probabilities for its `logits`.
    pub fn probabilities(&self, m: usize, logits: &[f32]) -> Vec<f32> {
        let t = self.temperatures.get(m).copied().unwrap_or(1.0).max(1e-3);
        let scaled: Vec<f32> = logits
            .iter()
            .enumerate()
            .map(|(c, &v)| v / t + self.offsets.get(c).copied().unwrap_or(0.0))
            .collect();
        softmax(&scaled, 1.0)
    }
}

/// Combines member logits (already averaged over test-time views) and the
/// ensemble's familiarity distance for one image.
pub fn combine(
    member_logits: &[Vec<f32>],
    scaling: &Scaling,
    classes: &[LesionClass],
    thresholds: &Thresholds,
    distance: Option<f32>,
) -> Prediction {
    let members: Vec<Vec<f32>> =
        member_logits.iter().enumerate().map(|(m, l)| scaling.probabilities(m, l)).collect();
    let k = classes.len();
    let n = members.len().max(1) as f32;
    let probabilities: Vec<f32> =
        (0..k).map(|c| members.iter().map(|p| p[c]).sum::<f32>() / n).collect();
    let mean_logits: Vec<f32> =
        (0..k).map(|c| member_logits.iter().map(|l| l[c]).sum::<f32>() / n).collect();
    let prediction = Prediction {
        uncertain: false,
        unfamiliar: distance.is_some_and(|d| d > thresholds.max_familiarity_distance),
        members,
        probabilities: Vec::new(),
        top: 0,
        agreement: 0.0,
        entropy: 0.0,
        malignant: 0.0,
        energy: energy(&mean_logits),
        familiarity_distance: distance,
    };
    prediction.with_probabilities(probabilities, classes, thresholds)
}

impl Prediction {
    /// The prediction with the ensemble's probabilities replaced (e.g. by
    /// the metadata prior) and everything derived from them recomputed.
    pub fn with_probabilities(
        mut self,
        probabilities: Vec<f32>,
        classes: &[LesionClass],
        thresholds: &Thresholds,
    ) -> Self {
        let top = argmax(&probabilities);
        let n = self.members.len().max(1) as f32;
        self.agreement = self.members.iter().filter(|p| argmax(p) == top).count() as f32 / n;
        self.entropy =
            -probabilities.iter().filter(|&&p| p > 0.0).map(|&p| p * p.ln()).sum::<f32>();
        self.malignant =
            probabilities.iter().zip(classes).filter(|(_, c)| c.malignant).map(|(p, _)| p).sum();
        self.uncertain = self.agreement < thresholds.min_agreement
            || probabilities[top] < thresholds.min_confidence;
        self.top = top;
        self.probabilities = probabilities;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_without_a_referral_serialise_as_before_it_existed() {
        let text = serde_json::to_string(&Thresholds::default()).unwrap();
        assert!(!text.contains("referral"), "{text}");
        let back: Thresholds = serde_json::from_str(&text).unwrap();
        assert_eq!(back.referral, DEFAULT_REFERRAL);
        let own = Thresholds { referral: 0.07, ..Thresholds::default() };
        let text = serde_json::to_string(&own).unwrap();
        assert_eq!(serde_json::from_str::<Thresholds>(&text).unwrap(), own);
    }
    use crate::classes::{HAM10000, LesionClass};

    #[test]
    fn soft_voting_agreement_and_risk() {
        let classes = LesionClass::list(&HAM10000);
        let thresholds = Thresholds {
            min_agreement: 0.75,
            max_familiarity_distance: 3.0,
            ..Thresholds::default()
        };
        // Two members favour nv (index 5), one mel (index 4).
        let mut a = vec![0.0f32; 7];
        a[5] = 4.0;
        let mut b = a.clone();
        b[4] = 3.0;
        let mut c = vec![0.0f32; 7];
        c[4] = 5.0;
        let p = combine(
            &[a, b, c],
            &Scaling::temperatures(vec![1.0; 3]),
            &classes,
            &thresholds,
            Some(1.0),
        );
        assert_eq!(p.top, 5);
        assert!((p.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!((p.agreement - 2.0 / 3.0).abs() < 1e-6);
        assert!(p.uncertain, "two of three is below the 0.75 bar");
        let expected_malignant: f32 = [0usize, 1, 4].iter().map(|&i| p.probabilities[i]).sum();
        assert!((p.malignant - expected_malignant).abs() < 1e-6);
        assert!(p.entropy > 0.0);
        assert!(!p.unfamiliar);
    }

    #[test]
    fn unfamiliar_features_flag_the_image() {
        let classes = LesionClass::list(&HAM10000);
        let thresholds = Thresholds { max_familiarity_distance: 3.0, ..Thresholds::default() };
        let logits = vec![vec![1.0f32; 7]];
        assert!(
            combine(&logits, &Scaling::temperatures(vec![1.0]), &classes, &thresholds, Some(3.5))
                .unfamiliar
        );
        assert!(
            !combine(&logits, &Scaling::temperatures(vec![1.0]), &classes, &thresholds, Some(2.5))
                .unfamiliar
        );
        assert!(
            !combine(&logits, &Scaling::temperatures(vec![1.0]), &classes, &thresholds, None)
                .unfamiliar,
            "no statistics, no flag"
        );
    }

    #[test]
    fn energy_is_lower_for_confident_logits() {
        assert!(energy(&[10.0, 0.0, 0.0]) < energy(&[0.1, 0.0, 0.0]));
    }
}
