//! What to tell a person about a prediction: the class it most resembles,
//! the malignant risk, when to see a dermatologist and why a result is
//! uncertain. Never a diagnosis.
//!
//! Everything here is a value, not a sentence: the page words it in the
//! person's language. [`std::fmt::Display`] renders the English wording
//! (what `dermlens explain` prints).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::classes::LesionClass;
use crate::ensemble::{Prediction, Thresholds};

/// At or above this total probability of the malignant classes, the advice
/// is to see a dermatologist, unless the bundle's thresholds carry their own
/// (chosen on validation for a share of malignant lesions referred).
/// Deliberately low: a missed melanoma costs far more than an unnecessary visit.
pub const SEE_DOCTOR_RISK: f32 = crate::ensemble::DEFAULT_REFERRAL;

/// Shown with every result (the English wording; the page has its own per language).
pub const NOT_A_DIAGNOSIS: &str = "This is not a diagnosis. It compares your photo with a research dataset of dermatoscope images and can be wrong. If a spot is new, changing, itching or bleeding, see a doctor whatever this page says.";

/// A probability as a person should read it: whole percents, and never
/// "0%" or "100%", which a model of this kind cannot honestly claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Percent {
    /// Below 0.5%.
    Under1,
    /// 1 to 99.
    Whole(u8),
    /// 99.5% or more.
    Over99,
}

impl Percent {
    /// `p` (0..1) rounded to a whole percent.
    pub fn of(p: f32) -> Self {
        let v = (p * 100.0).round();
        if v.is_nan() || v < 1.0 {
            // Also NaN: never claim a share we cannot read.
            Self::Under1
        } else if v >= 100.0 {
            Self::Over99
        } else {
            Self::Whole(v as u8)
        }
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Under1 => f.write_str("under 1%"),
            Self::Whole(v) => write!(f, "{v}%"),
            Self::Over99 => f.write_str("over 99%"),
        }
    }
}

/// The class the photo most resembles, and the malignant share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Index of the top class in the bundle's class list.
    pub class: usize,
    /// Its code (`nv`), for wording it in another language.
    pub code: String,
    /// Its English names, from the bundle.
    pub name: String,
    pub plain: String,
    /// The ensemble's probability of the top class.
    pub probability: Percent,
    /// Total probability of the malignant classes.
    pub malignant: Percent,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Most similar to {} ({}), {}; {} chance of a malignant class.",
            with_article(&self.name.to_lowercase()),
            self.plain,
            self.probability,
            self.malignant
        )
    }
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Advice {
    /// The malignant share is at least the referral threshold: see a dermatologist soon.
    MalignantLikely,
    /// The ensemble is unsure: have a dermatologist look.
    Uncertain,
    /// The photo is unlike the training images: the answer means little.
    Unfamiliar,
    /// Nothing suggests a malignant class; watch the spot for changes.
    Reassuring,
}

impl Advice {
    /// The advice's name in files (`malignant_likely`, `uncertain`,
    /// `unfamiliar`, `reassuring`), as serde writes it.
    pub fn code(self) -> &'static str {
        match self {
            Self::MalignantLikely => "malignant_likely",
            Self::Uncertain => "uncertain",
            Self::Unfamiliar => "unfamiliar",
            Self::Reassuring => "reassuring",
        }
    }

    /// Whether the advice is to see a dermatologist.
    pub fn see_doctor(self) -> bool {
        self != Self::Reassuring
    }
}

impl fmt::Display for Advice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MalignantLikely => {
                "A malignant class is likely enough that you should show this spot to a dermatologist soon."
            }
            Self::Uncertain => {
                "The models are unsure about this photo. Have a dermatologist look at the spot."
            }
            Self::Unfamiliar => {
                "This photo is unlike the images the model learned from, so its answer means little. If you are worried about the spot, see a dermatologist."
            }
            Self::Reassuring => {
                "Nothing here suggests a malignant class, but keep an eye on the spot and see a doctor if it changes."
            }
        })
    }
}

/// Why a result should be read with care (the reasons behind "uncertain"
/// and the not-a-lesion warning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Caution {
    /// Too few members vote for the top class.
    Disagreement { agreeing: usize, members: usize },
    /// The top class's probability is below the level under which
    /// validation predictions were right less than half the time.
    LowConfidence { top: Percent, needed: Percent },
    /// The photo is not like the training photos.
    Unfamiliar,
    /// Uncertain, for a reason the thresholds were not given to tell.
    Unsure,
}

impl fmt::Display for Caution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Disagreement { agreeing, members } => {
                write!(f, "The networks disagree: only {agreeing} of {members} pick the top class.")
            }
            Self::LowConfidence { top, needed } => write!(
                f,
                "Low confidence: the top class has {top}; below {needed} such answers were wrong more often than right."
            ),
            Self::Unfamiliar => f.write_str("The photo is not like the training photos."),
            Self::Unsure => f.write_str("The networks are unsure."),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guidance {
    /// e.g. "Most similar to a melanocytic nevus (common mole), 82%; 8% chance of a malignant class."
    pub summary: Summary,
    /// What to do next.
    pub advice: Advice,
    /// True when the advice is to see a dermatologist.
    pub see_doctor: bool,
    /// Why to read the result with care; empty when there is nothing to say.
    pub cautions: Vec<Caution>,
    /// Per class, the lowest and highest probability any member gives it.
    pub ranges: Vec<[f32; 2]>,
}

impl Guidance {
    /// The summary and the advice in English.
    pub fn english(&self) -> String {
        format!("{} {}", self.summary, self.advice)
    }
}

/// The guidance for `prediction` over `classes`. Without the bundle's
/// thresholds an uncertain result's reason is [`Caution::Unsure`]; use
/// [`assess`] to name it.
pub fn guidance(prediction: &Prediction, classes: &[LesionClass]) -> Guidance {
    assess(prediction, classes, None)
}

/// The guidance for `prediction`, with the reasons for uncertainty taken
/// from the bundle's `thresholds`.
pub fn assess(
    prediction: &Prediction,
    classes: &[LesionClass],
    thresholds: Option<&Thresholds>,
) -> Guidance {
    let fallback = LesionClass::from_code("?", None);
    let top = classes.get(prediction.top).unwrap_or(&fallback);
    let top_p = prediction.probabilities.get(prediction.top).copied().unwrap_or(0.0);
    let summary = Summary {
        class: prediction.top,
        code: top.code.clone(),
        name: top.name.clone(),
        plain: top.plain.clone(),
        probability: Percent::of(top_p),
        malignant: Percent::of(prediction.malignant),
    };
    let referral = thresholds.map_or(SEE_DOCTOR_RISK, |t| t.referral);
    let advice = if prediction.malignant >= referral {
        Advice::MalignantLikely
    } else if prediction.uncertain {
        Advice::Uncertain
    } else if prediction.unfamiliar {
        Advice::Unfamiliar
    } else {
        Advice::Reassuring
    };
    let members = prediction.members.len();
    let mut cautions = Vec::new();
    if let Some(t) = thresholds {
        if prediction.agreement < t.min_agreement {
            let agreeing = (prediction.agreement * members as f32).round() as usize;
            cautions.push(Caution::Disagreement { agreeing, members });
        }
        if top_p < t.min_confidence {
            cautions.push(Caution::LowConfidence {
                top: Percent::of(top_p),
                needed: Percent::of(t.min_confidence),
            });
        }
    }
    if prediction.uncertain && cautions.is_empty() {
        cautions.push(Caution::Unsure);
    }
    if prediction.unfamiliar {
        cautions.push(Caution::Unfamiliar);
    }
    let ranges = (0..prediction.probabilities.len())
        .map(|c| {
            let values = prediction.members.iter().filter_map(|m| m.get(c).copied());
            let (lo, hi) = values
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
            if lo.is_finite() { [lo, hi] } else { [prediction.probabilities[c]; 2] }
        })
        .collect();
    Guidance { summary, see_doctor: advice.see_doctor(), advice, cautions, ranges }
}

fn with_article(noun: &str) -> String {
    let vowel = noun.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {noun}", if vowel { "an" } else { "a" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classes::HAM10000;
    use crate::ensemble::{Scaling, combine};

    const THRESHOLDS: Thresholds = Thresholds {
        min_agreement: 0.5,
        min_confidence: 0.5,
        max_familiarity_distance: f32::MAX,
        referral: SEE_DOCTOR_RISK,
    };

    fn predict_members(members: &[(usize, f32)]) -> Prediction {
        let classes = LesionClass::list(&HAM10000);
        let logits: Vec<Vec<f32>> = members
            .iter()
            .map(|&(top, strength)| {
                let mut l = vec![0.0f32; 7];
                l[top] = strength;
                l
            })
            .collect();
        combine(
            &logits,
            &Scaling::temperatures(vec![1.0; members.len()]),
            &classes,
            &THRESHOLDS,
            None,
        )
    }

    fn predict(top: usize, strength: f32) -> Prediction {
        predict_members(&[(top, strength), (top, strength)])
    }

    #[test]
    fn percents_are_whole_and_never_zero_or_a_hundred() {
        assert_eq!(Percent::of(0.0), Percent::Under1);
        assert_eq!(Percent::of(0.004), Percent::Under1);
        assert_eq!(Percent::of(0.005), Percent::Whole(1));
        assert_eq!(Percent::of(0.824), Percent::Whole(82));
        assert_eq!(Percent::of(0.994), Percent::Whole(99));
        assert_eq!(Percent::of(0.995), Percent::Over99);
        assert_eq!(Percent::of(1.0), Percent::Over99);
        assert_eq!(Percent::of(f32::NAN), Percent::Under1);
        assert_eq!(Percent::Over99.to_string(), "over 99%");
        assert_eq!(Percent::Under1.to_string(), "under 1%");
        assert_eq!(Percent::Whole(7).to_string(), "7%");
    }

    #[test]
    fn a_confident_mole_is_reassuring_but_not_a_diagnosis() {
        let classes = LesionClass::list(&HAM10000);
        let g = assess(&predict(5, 9.0), &classes, Some(&THRESHOLDS));
        let summary = g.summary.to_string();
        assert!(
            summary.starts_with("Most similar to a melanocytic nevus (common mole), over 99%"),
            "{summary}"
        );
        assert_eq!(g.summary.code, "nv");
        assert_eq!(g.advice, Advice::Reassuring);
        assert!(!g.see_doctor && g.cautions.is_empty());
        assert!(g.english().contains("keep an eye on the spot"));
    }

    #[test]
    fn likely_melanoma_or_an_unsure_ensemble_means_see_a_dermatologist() {
        let classes = LesionClass::list(&HAM10000);
        let g = guidance(&predict(4, 5.0), &classes);
        assert!(g.see_doctor && g.advice.to_string().contains("dermatologist"));
        assert_eq!(g.advice, Advice::MalignantLikely);
        // Torn between two benign classes (40% each, 12% malignant): unsure.
        let torn = predict_members(&[(5, 3.0), (2, 3.0)]);
        let unsure = assess(&torn, &classes, Some(&THRESHOLDS));
        assert!(unsure.see_doctor, "an unsure prediction sends to a dermatologist");
        assert_eq!(unsure.advice, Advice::Uncertain);
        assert!(
            matches!(
                unsure.cautions[..],
                [Caution::LowConfidence { needed: Percent::Whole(50), .. }]
            ),
            "{:?}",
            unsure.cautions
        );
        // Without the thresholds the reason cannot be named.
        assert_eq!(guidance(&torn, &classes).cautions, [Caution::Unsure]);
        // A flat prediction carries a malignant share above the advice's bar.
        let flat = assess(&predict(5, 0.5), &classes, Some(&THRESHOLDS));
        assert_eq!(flat.advice, Advice::MalignantLikely);
    }

    #[test]
    fn disagreement_is_named_and_ranges_span_the_members() {
        let classes = LesionClass::list(&HAM10000);
        // Three members: two say bkl (2), one df (3).
        let p = predict_members(&[(2, 6.0), (2, 6.0), (3, 6.0)]);
        let strict = Thresholds { min_agreement: 0.75, ..THRESHOLDS };
        let g = assess(&p, &classes, Some(&strict));
        assert!(g.cautions.contains(&Caution::Disagreement { agreeing: 2, members: 3 }));
        assert_eq!(g.ranges.len(), 7);
        let [lo, hi] = g.ranges[3];
        assert!(lo < 0.01 && hi > 0.9, "df ranges from one member's near 0 to another's near 1");
        for (c, [lo, hi]) in g.ranges.iter().enumerate() {
            assert!(lo <= &p.probabilities[c] && &p.probabilities[c] <= hi);
        }
    }
}
