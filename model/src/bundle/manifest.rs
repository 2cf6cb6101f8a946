//! The bundle's manifest: what the model is (classes, input, normalisation,
//! members, thresholds, provenance) and which weight files it needs, with
//! the checks a manifest must pass before any weight is read.

use serde::{Deserialize, Serialize};

use super::BundleError;
use crate::classes::LesionClass;
use crate::ensemble::{Scaling, Thresholds};
use crate::preprocess::{Geometry, Normalization, Preparation};
use crate::tta::Tta;

/// Identifies the manifest format.
pub const FORMAT: &str = "dermlens-bundle";
/// Bumped on any incompatible change of the manifest or weight files.
pub const VERSION: u32 = 3;
/// File name of the manifest inside a bundle folder.
pub const MANIFEST: &str = "manifest.json";
/// Largest input side a bundle may declare.
pub const MAX_INPUT: u32 = 1024;
/// Largest manifest read (a real one is a few kB): checked before parsing.
pub const MAX_MANIFEST_BYTES: u64 = 1_000_000;
/// Largest weight file a manifest may declare: readers fetch at most the
/// declared size, so this bounds what a hostile manifest can make them hold
/// (Lite2 in f32 is 24 MB).
pub const MAX_WEIGHT_BYTES: u64 = 400_000_000;

/// How weights of convolutions and linear layers are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    F32,
    F16,
    Int8,
}

/// One weight file of the bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightFile {
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
}

/// One ensemble member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    /// Network input `[height, width]` (members may differ).
    pub input: [u32; 2],
    pub weights: WeightFile,
    /// The member's backbone (members may differ; Lite0 when absent). Not
    /// written for Lite0, so bundles exported before keep their binding.
    #[serde(default, skip_serializing_if = "is_lite0")]
    pub backbone: crate::efficientnet::Variant,
    /// Logits are divided by this before the softmax (fitted on validation data).
    pub temperature: f32,
}

fn is_lite0(variant: &crate::efficientnet::Variant) -> bool {
    *variant == crate::efficientnet::Variant::Lite0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub classes: Vec<LesionClass>,
    /// How a photo becomes the square input (crop or stretch).
    pub geometry: Geometry,
    pub normalization: Normalization,
    /// Shades-of-grey colour constancy before the network.
    #[serde(default)]
    pub colour_constancy: bool,
    pub encoding: Encoding,
    /// The backbones' BatchNorms are folded into their convolutions.
    #[serde(default)]
    pub folded: bool,
    /// Tensors every member shares, if any.
    pub shared: Option<WeightFile>,
    /// The backbone blocks below this index are identical in every member,
    /// so they can run once per image for the whole ensemble (0: none).
    #[serde(default)]
    pub shared_blocks: usize,
    pub members: Vec<Member>,
    /// Added to every member's temperature-scaled logits, one per class
    /// (the melanoma operating point); empty for none.
    #[serde(default)]
    pub offsets: Vec<f32>,
    pub thresholds: Thresholds,
    /// The test-time views each member is averaged over.
    pub tta: Tta,
    /// The age, sex and body-site prior, if the bundle was calibrated with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<crate::metadata::MetadataPrior>,
    /// Where the model comes from and under which terms.
    pub provenance: String,
}

impl Manifest {
    pub fn from_json(text: &str) -> Result<Self, BundleError> {
        let manifest: Manifest =
            serde_json::from_str(text).map_err(|e| BundleError::Manifest(e.to_string()))?;
        if manifest.format != FORMAT {
            return Err(BundleError::Manifest(format!(
                "format is '{}', not '{FORMAT}'",
                manifest.format
            )));
        }
        if manifest.version != VERSION {
            return Err(BundleError::Version { found: manifest.version });
        }
        if manifest.classes.len() < 2 || manifest.members.is_empty() {
            return Err(BundleError::Manifest(
                "it needs at least two classes and one member".into(),
            ));
        }
        let codes: std::collections::HashSet<&str> =
            manifest.classes.iter().map(|c| c.code.as_str()).collect();
        if codes.len() != manifest.classes.len() {
            return Err(BundleError::Manifest("two classes have the same code".into()));
        }
        if manifest.members.iter().flat_map(|m| m.input).any(|side| side == 0 || side > MAX_INPUT) {
            return Err(BundleError::Manifest(format!(
                "the input size must be 1 to {MAX_INPUT} pixels a side"
            )));
        }
        if manifest
            .normalization
            .std
            .iter()
            .chain(&manifest.normalization.mean)
            .any(|v| !v.is_finite())
            || manifest.normalization.std.contains(&0.0)
        {
            return Err(BundleError::Manifest("the normalisation constants are not usable".into()));
        }
        if !(manifest.offsets.is_empty() || manifest.offsets.len() == manifest.classes.len())
            || manifest.offsets.iter().any(|v| !v.is_finite())
        {
            return Err(BundleError::Manifest(
                "there must be one finite offset per class, or none".into(),
            ));
        }
        let t = &manifest.thresholds;
        let unit = |v: f32| (0.0..=1.0).contains(&v);
        // NaN fails every comparison, so it is caught here too.
        let positive = t.max_familiarity_distance > 0.0;
        if !unit(t.min_agreement) || !unit(t.min_confidence) || !unit(t.referral) || !positive {
            return Err(BundleError::Manifest("a threshold is out of range".into()));
        }
        if manifest
            .members
            .iter()
            .any(|m| !(m.temperature.is_finite() && (0.01..=100.0).contains(&m.temperature)))
        {
            return Err(BundleError::Manifest(
                "a temperature is out of range (0.01 to 100)".into(),
            ));
        }
        if let Some(problem) =
            manifest.metadata.as_ref().and_then(|m| m.problem(manifest.classes.len()))
        {
            return Err(BundleError::Manifest(format!(
                "the metadata prior is not usable: {problem}"
            )));
        }
        let fewest_blocks =
            manifest.members.iter().map(|m| m.backbone.blocks().len()).min().unwrap_or(0);
        if manifest.shared_blocks > fewest_blocks {
            return Err(BundleError::Manifest("shared_blocks exceeds the network's blocks".into()));
        }
        for file in manifest.files() {
            if file.bytes > MAX_WEIGHT_BYTES {
                return Err(BundleError::Manifest(format!(
                    "'{}' is declared larger than {MAX_WEIGHT_BYTES} bytes",
                    file.file
                )));
            }
            let plain = !file.file.is_empty()
                && !file.file.starts_with('.')
                && !file.file.contains(['/', '\\', ':']);
            if !plain {
                return Err(BundleError::Manifest(format!(
                    "'{}' is not a plain file name",
                    file.file
                )));
            }
        }
        Ok(manifest)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The checksum of everything the manifest says about the model (all
    /// but the weight files' own entries). Every weight file carries it: a
    /// manifest edited after export no longer matches its weights.
    pub fn binding(&self) -> String {
        let mut meaning = self.clone();
        meaning.shared = None;
        for member in &mut meaning.members {
            member.weights = WeightFile { file: String::new(), sha256: String::new(), bytes: 0 };
        }
        super::checksum::sha256_hex(serde_json::to_string(&meaning).unwrap_or_default().as_bytes())
    }

    /// How members' logits become probabilities.
    pub fn scaling(&self) -> Scaling {
        Scaling {
            temperatures: self.members.iter().map(|m| m.temperature).collect(),
            offsets: self.offsets.clone(),
        }
    }

    /// How photos are prepared for the members.
    pub fn preparation(&self) -> Preparation {
        Preparation {
            geometry: self.geometry,
            normalization: self.normalization,
            colour_constancy: self.colour_constancy,
        }
    }

    /// Every weight file the bundle needs, shared first.
    pub fn files(&self) -> Vec<&WeightFile> {
        self.shared.iter().chain(self.members.iter().map(|m| &m.weights)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_are_checked() {
        assert!(matches!(Manifest::from_json("{"), Err(BundleError::Manifest(_))));
        let manifest = Manifest {
            format: FORMAT.into(),
            version: VERSION + 1,
            classes: LesionClass::list(&crate::classes::HAM10000),
            geometry: Geometry::Crop,
            normalization: Normalization::LITE,
            colour_constancy: false,
            encoding: Encoding::Int8,
            folded: true,
            shared: None,
            shared_blocks: 0,
            offsets: Vec::new(),
            members: vec![Member {
                name: "m".into(),
                input: [224, 224],
                weights: WeightFile { file: "m.bin".into(), sha256: String::new(), bytes: 0 },
                backbone: Default::default(),
                temperature: 1.0,
            }],
            thresholds: Thresholds::default(),
            tta: Tta::Flips,
            metadata: None,
            provenance: String::new(),
        };
        assert!(matches!(
            Manifest::from_json(&manifest.to_json()),
            Err(BundleError::Version { .. })
        ));
        let current = Manifest { version: VERSION, ..manifest };
        assert!(Manifest::from_json(&current.to_json()).is_ok());
        // A metadata prior that does not fit the classes, or holds NaN, is refused.
        let prior = crate::metadata::MetadataPrior {
            sites: vec!["back".into()],
            weights: vec![vec![0.0; 7]; 5],
            bias: vec![0.0; 7],
            referral: 0.3,
        };
        let with = |prior: crate::metadata::MetadataPrior| {
            Manifest::from_json(&Manifest { metadata: Some(prior), ..current.clone() }.to_json())
        };
        assert!(with(prior.clone()).is_ok());
        let short = crate::metadata::MetadataPrior { bias: vec![0.0; 6], ..prior.clone() };
        assert!(matches!(with(short), Err(BundleError::Manifest(m)) if m.contains("metadata")));
        let nan = crate::metadata::MetadataPrior { referral: f32::NAN, ..prior.clone() };
        assert!(with(nan).is_err());
        // Lite1 members are named; Lite0 ones are not written (the old binding).
        let mut lite1 = current.clone();
        lite1.members[0].backbone = crate::efficientnet::Variant::Lite1;
        assert!(lite1.to_json().contains("\"backbone\": \"lite1\""));
        assert!(!current.to_json().contains("backbone"));
        assert_eq!(
            Manifest::from_json(&lite1.to_json()).map(|m| m.members[0].backbone).ok(),
            Some(crate::efficientnet::Variant::Lite1)
        );
    }
}
