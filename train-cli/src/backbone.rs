//! The ImageNet EfficientNet-Lite backbones: read from the reference PyTorch
//! files (for `import-backbone`), and loaded from their converted burnpack
//! copies with a fresh head (the start of every training run). The variant
//! (Lite0, Lite1, Lite2) is recognised from the tensors a file holds.

use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::store::{ModuleSnapshot, PytorchStore};
use burn::tensor::Device;
use model::classifier::Classifier;
use model::efficientnet::Variant;

/// Classes of the ImageNet head the reference weights carry.
pub const IMAGENET_CLASSES: usize = 1000;

/// Reads one variant's reference `.pth` (legacy pickle with strided views;
/// burn's reader honours strides and offsets) into a classifier with its
/// ImageNet head, if every tensor fits that variant.
fn read_pth_as(path: &Path, variant: Variant, device: &Device) -> Result<Classifier> {
    // The reference names are `_conv_stem`, `_blocks.3._expand_conv`, `_fc`...:
    // ours drop the underscores and put everything but the head under `backbone`.
    let mut store = PytorchStore::from_file(path)
        .with_key_remapping(r"^_fc\.", "head.")
        .with_key_remapping(r"^_", "backbone.")
        .with_key_remapping(r"\._", ".")
        .allow_partial(true);
    let mut classifier = Classifier::new(variant, IMAGENET_CLASSES, device);
    // The pickle reader is third-party code fed arbitrary bytes: a panic in it
    // must still end as an error message.
    let mut result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| classifier.load_from(&mut store)))
            .map_err(|_| anyhow::anyhow!("the PyTorch reader failed on this file"))
            .and_then(|r| r.map_err(|e| anyhow::anyhow!("{e}")))
            .with_context(|| format!("{} is not a readable PyTorch weight file", path.display()))?;
    // PyTorch keeps a batch counter per BatchNorm that inference never uses.
    result.unused.retain(|name| !name.ends_with("num_batches_tracked"));
    model::burnpack::check_complete(&result)?;
    Ok(classifier)
}

/// Reads a reference `.pth` of any variant; `expected` (when known from the
/// file's checksum) is tried alone.
pub fn read_pth(
    path: &Path,
    expected: Option<Variant>,
    device: &Device,
) -> Result<(Variant, Classifier)> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !meta.is_file() {
        bail!("{} is not a file", path.display());
    }
    let candidates = expected.map_or(Variant::ALL.to_vec(), |v| vec![v]);
    let mut last = None;
    for variant in candidates {
        match read_pth_as(path, variant, device) {
            Ok(classifier) => return Ok((variant, classifier)),
            Err(e) => last = Some(e),
        }
    }
    let error = last.unwrap_or_else(|| anyhow::anyhow!("no variant to try"));
    Err(error.context(format!(
        "{} is not an EfficientNet-Lite0, -Lite1 or -Lite2 weight file",
        path.display()
    )))
}

/// An imported backbone: its variant and the ImageNet classifier, recognised
/// by which variant its tensors fit.
pub fn load_imported(backbone: &Path, device: &Device) -> Result<(Variant, Classifier)> {
    let bytes = std::fs::read(backbone)
        .with_context(|| format!("cannot read the backbone {}", backbone.display()))?;
    let mut last = None;
    for variant in Variant::ALL {
        let empty = Classifier::new(variant, IMAGENET_CLASSES, device);
        match model::burnpack::load(empty, bytes.clone()) {
            Ok(classifier) => return Ok((variant, classifier)),
            Err(e) => last = Some(e),
        }
    }
    let reason = last.map(|e| e.to_string()).unwrap_or_default();
    bail!(
        "{} is not an imported EfficientNet-Lite backbone (run `dermlens import-backbone` on the .pth): {reason}",
        backbone.display()
    )
}

/// Loads the imported backbone into a classifier with a fresh, random head of `num_classes`.
pub fn initial_classifier(
    backbone: &Path,
    num_classes: usize,
    device: &Device,
) -> Result<(Variant, Classifier)> {
    let (variant, imagenet) = load_imported(backbone, device)?;
    let fresh = Classifier::with_backbone(imagenet.backbone, num_classes, device);
    Ok((variant, model::burnpack::with_stable_ids(fresh)))
}
