//! Loading a bundle from its manifest text and its weight files' bytes,
//! checking every file against its checksum: the same code natively and in
//! the browser.

use burn::store::{ModuleSnapshot, bridge};
use burn::tensor::{Device, TensorData};

use super::BundleError;
use super::codec::{NamedTensor, decode, verify};
use super::familiarity;
use super::manifest::{Manifest, WeightFile};
use crate::classifier::Classifier;
use crate::efficientnet::Variant;
use crate::familiarity::Familiarity;

/// A loaded bundle: its manifest and one classifier per member, with the
/// member's familiarity statistics when the bundle has them.
pub struct LoadedBundle {
    pub manifest: Manifest,
    pub members: Vec<Classifier>,
    pub familiarity: Vec<Option<Familiarity>>,
}

impl LoadedBundle {
    pub fn familiarity(&self) -> Vec<Option<&Familiarity>> {
        self.familiarity.iter().map(Option::as_ref).collect()
    }
}

/// Builds one member's classifier from its tensors (plus the shared ones);
/// `folded` for a backbone whose BatchNorms are folded into its convolutions.
pub fn classifier_from(
    variant: Variant,
    num_classes: usize,
    tensors: Vec<NamedTensor>,
    folded: bool,
    device: &Device,
) -> Result<Classifier, BundleError> {
    let mut classifier = Classifier::new(variant, num_classes, device);
    if folded {
        classifier = classifier.folded();
    }
    let packed = tensors
        .into_iter()
        .map(|t| bridge::from_data(TensorData::new(t.values, t.shape), t.name, None))
        .collect();
    let result = classifier.apply(packed, None, None, false);
    crate::burnpack::check_complete(&result)?;
    Ok(classifier)
}

/// Loads a bundle from its manifest text and a way to fetch each weight
/// file's bytes by name; every file is checked against its checksum.
pub fn load(
    manifest_json: &str,
    mut fetch: impl FnMut(&str) -> Result<Vec<u8>, String>,
    device: &Device,
) -> Result<LoadedBundle, BundleError> {
    let manifest = Manifest::from_json(manifest_json)?;
    let binding = manifest.binding();
    let mut read = |file: &WeightFile| -> Result<Vec<NamedTensor>, BundleError> {
        let bytes = fetch(&file.file)
            .map_err(|reason| BundleError::Weights { file: file.file.clone(), reason })?;
        if bytes.len() as u64 != file.bytes {
            return Err(BundleError::Weights {
                file: file.file.clone(),
                reason: format!("it has {} bytes, the manifest says {}", bytes.len(), file.bytes),
            });
        }
        verify(file, &bytes)?;
        let decoded = decode(&bytes, &file.file)?;
        if decoded.binding != binding {
            return Err(BundleError::Manifest(format!(
                "it does not belong to {} (was it edited after export?)",
                file.file
            )));
        }
        Ok(decoded.tensors)
    };
    let shared = match &manifest.shared {
        Some(file) => read(file)?,
        None => Vec::new(),
    };
    let mut members = Vec::with_capacity(manifest.members.len());
    let mut familiarities = Vec::with_capacity(manifest.members.len());
    for member in &manifest.members {
        let mut own = read(&member.weights)?;
        familiarities.push(familiarity::take_from(&mut own).map_err(|source| {
            BundleError::Familiarity { file: member.weights.file.clone(), source }
        })?);
        let mut tensors = shared.clone();
        tensors.extend(own);
        members.push(classifier_from(
            member.backbone,
            manifest.classes.len(),
            tensors,
            manifest.folded,
            device,
        )?);
    }
    // Members run their shared blocks once: they must really be the same.
    let backbones: Vec<&crate::efficientnet::EfficientNetLite> =
        members.iter().map(|m| &m.backbone).collect();
    if manifest.shared_blocks > 0
        && crate::efficientnet::identical_lower_blocks(&backbones) < manifest.shared_blocks
    {
        return Err(BundleError::Manifest(format!(
            "it says the members share {} blocks, but their weights differ there",
            manifest.shared_blocks
        )));
    }
    Ok(LoadedBundle { manifest, members, familiarity: familiarities })
}
