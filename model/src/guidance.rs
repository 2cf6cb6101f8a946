//! What to tell a person about a prediction: a one-sentence summary with
//! the malignant risk, and when to see a dermatologist. Never a diagnosis.

use serde::{Deserialize, Serialize};

use crate::classes::LesionClass;
use crate::ensemble::Prediction;

/// At or above this total probability of the malignant classes, the advice
/// is to see a dermatologist. Deliberately low: a missed melanoma costs far
/// more than an unnecessary visit.
pub const SEE_DOCTOR_RISK: f32 = 0.2;

/// Shown with every result.
pub const NOT_A_DIAGNOSIS: &str = "This is not a diagnosis. It compares your photo with a research dataset of dermatoscope images and can be wrong. If a spot is new, changing, itching or bleeding, see a doctor whatever this page says.";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guidance {
    /// e.g. "Most similar to a melanocytic nevus (common mole), 82%; 8% chance of a malignant class."
    pub summary: String,
    /// What to do next.
    pub advice: String,
    /// True when the advice is to see a dermatologist.
    pub see_doctor: bool,
}

fn percent(p: f32) -> String {
    let v = (p * 100.0).round();
    if v < 1.0 && p > 0.0 { "under 1%".into() } else { format!("{v:.0}%") }
}

/// The wording for `prediction` over `classes`.
pub fn guidance(prediction: &Prediction, classes: &[LesionClass]) -> Guidance {
    let top = &classes[prediction.top];
    let summary = format!(
        "Most similar to {} ({}), {}; {} chance of a malignant class.",
        with_article(&top.name.to_lowercase()),
        top.plain,
        percent(prediction.probabilities[prediction.top]),
        percent(prediction.malignant)
    );
    let risky = prediction.malignant >= SEE_DOCTOR_RISK;
    let see_doctor = risky || prediction.uncertain || prediction.unfamiliar;
    let advice = if risky {
        "A malignant class is likely enough that you should show this spot to a dermatologist soon."
    } else if prediction.uncertain {
        "The models are unsure about this photo. Have a dermatologist look at the spot."
    } else if prediction.unfamiliar {
        "This photo is unlike the images the model learned from, so its answer means little. If you are worried about the spot, see a dermatologist."
    } else {
        "Nothing here suggests a malignant class, but keep an eye on the spot and see a doctor if it changes."
    };
    Guidance { summary, advice: advice.into(), see_doctor }
}

fn with_article(noun: &str) -> String {
    let vowel = noun.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {noun}", if vowel { "an" } else { "a" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classes::HAM10000;
    use crate::ensemble::{Scaling, Thresholds, combine};

    fn predict(top: usize, strength: f32) -> Prediction {
        let classes = LesionClass::list(&HAM10000);
        let mut logits = vec![0.0f32; 7];
        logits[top] = strength;
        combine(
            &[logits.clone(), logits],
            &Scaling::temperatures(vec![1.0, 1.0]),
            &classes,
            &Thresholds {
                min_agreement: 0.5,
                min_confidence: 0.5,
                max_familiarity_distance: f32::MAX,
            },
            None,
        )
    }

    #[test]
    fn a_confident_mole_is_reassuring_but_not_a_diagnosis() {
        let classes = LesionClass::list(&HAM10000);
        let g = guidance(&predict(5, 8.0), &classes);
        assert!(
            g.summary.starts_with("Most similar to a melanocytic nevus (common mole), 100%"),
            "{}",
            g.summary
        );
        assert!(!g.see_doctor);
    }

    #[test]
    fn likely_melanoma_or_an_unsure_ensemble_means_see_a_dermatologist() {
        let classes = LesionClass::list(&HAM10000);
        let g = guidance(&predict(4, 5.0), &classes);
        assert!(g.see_doctor && g.advice.contains("dermatologist"));
        let unsure = guidance(&predict(5, 0.5), &classes);
        assert!(unsure.see_doctor, "a flat prediction is uncertain");
    }
}
