//! What the model's outputs mean to a person: the lesion classes of
//! HAM10000 / ISIC, their plain names and whether they are malignant.
//! A bundle declares its own class list; this table fills it in for the
//! class codes the public datasets use.

use serde::{Deserialize, Serialize};

/// One output class of a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LesionClass {
    /// Short code as the datasets spell it, e.g. `mel`.
    pub code: String,
    /// Medical name.
    pub name: String,
    /// Name a patient understands.
    pub plain: String,
    /// Malignant or pre-malignant: a likely result means "see a dermatologist".
    pub malignant: bool,
}

struct Known {
    codes: &'static [&'static str],
    name: &'static str,
    plain: &'static str,
    malignant: bool,
}

const KNOWN: [Known; 8] = [
    Known {
        codes: &["akiec", "ak"],
        name: "Actinic keratosis / Bowen's disease",
        plain: "sun-damage patch that can turn cancerous",
        malignant: true,
    },
    Known {
        codes: &["bcc"],
        name: "Basal cell carcinoma",
        plain: "a common, slow-growing skin cancer",
        malignant: true,
    },
    Known {
        codes: &["bkl"],
        name: "Benign keratosis",
        plain: "harmless growth such as a seborrhoeic keratosis or age spot",
        malignant: false,
    },
    Known {
        codes: &["df"],
        name: "Dermatofibroma",
        plain: "harmless firm bump in the skin",
        malignant: false,
    },
    Known {
        codes: &["mel"],
        name: "Melanoma",
        plain: "the most dangerous skin cancer",
        malignant: true,
    },
    Known { codes: &["nv"], name: "Melanocytic nevus", plain: "common mole", malignant: false },
    Known {
        codes: &["vasc"],
        name: "Vascular lesion",
        plain: "harmless blood-vessel spot such as a cherry angioma",
        malignant: false,
    },
    Known {
        codes: &["scc"],
        name: "Squamous cell carcinoma",
        plain: "a skin cancer that should be treated early",
        malignant: true,
    },
];

/// HAM10000 / ISIC 2018 classes in the order the project uses them.
pub const HAM10000: [&str; 7] = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"];
/// ISIC 2019 classes, in its ground-truth column order (UNK excluded).
pub const ISIC2019: [&str; 8] = ["mel", "nv", "bcc", "ak", "bkl", "df", "vasc", "scc"];

impl LesionClass {
    /// The class for a dataset code. Unknown codes (a researcher's own
    /// folder names) get the code as their name and count as benign unless
    /// `malignant` says otherwise.
    pub fn from_code(code: &str, malignant: Option<bool>) -> Self {
        let lower = code.to_ascii_lowercase();
        match KNOWN.iter().find(|k| k.codes.contains(&lower.as_str())) {
            Some(k) => Self {
                code: lower,
                name: k.name.into(),
                plain: k.plain.into(),
                malignant: malignant.unwrap_or(k.malignant),
            },
            None => Self {
                code: code.into(),
                name: code.into(),
                plain: code.into(),
                malignant: malignant.unwrap_or(false),
            },
        }
    }

    /// Classes for a list of codes.
    pub fn list(codes: &[&str]) -> Vec<Self> {
        codes.iter().map(|c| Self::from_code(c, None)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malignant_classes_are_mel_bcc_akiec_and_scc() {
        let malignant: Vec<String> = LesionClass::list(&HAM10000)
            .into_iter()
            .filter(|c| c.malignant)
            .map(|c| c.code)
            .collect();
        assert_eq!(malignant, ["akiec", "bcc", "mel"]);
        assert!(LesionClass::from_code("SCC", None).malignant);
        assert!(LesionClass::from_code("AK", None).malignant);
        assert!(!LesionClass::from_code("freckle", None).malignant);
        assert!(LesionClass::from_code("freckle", Some(true)).malignant);
        assert_eq!(LesionClass::from_code("nv", None).plain, "common mole");
    }
}
