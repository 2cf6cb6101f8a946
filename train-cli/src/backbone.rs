//! The ImageNet EfficientNet-Lite0 backbone: read from the reference PyTorch
//! file (for `import-backbone`), and loaded from its converted burnpack copy
//! with a fresh head (the start of every training run).

use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::store::{ModuleSnapshot, PytorchStore};
use burn::tensor::Device;
use model::classifier::Classifier;

/// Classes of the ImageNet head the reference weights carry.
pub const IMAGENET_CLASSES: usize = 1000;

/// Reads the reference `.pth` (legacy pickle with strided views; burn's
/// reader honours strides and offsets) into a classifier with its ImageNet head.
pub fn read_pth(path: &Path, device: &Device) -> Result<Classifier> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !meta.is_file() {
        bail!("{} is not a file", path.display());
    }
    // The reference names are `_conv_stem`, `_blocks.3._expand_conv`, `_fc`...:
    // ours drop the underscores and put everything but the head under `backbone`.
    let mut store = PytorchStore::from_file(path)
        .with_key_remapping(r"^_fc\.", "head.")
        .with_key_remapping(r"^_", "backbone.")
        .with_key_remapping(r"\._", ".")
        .allow_partial(true);
    let mut classifier = Classifier::new(IMAGENET_CLASSES, device);
    // The pickle reader is third-party code fed arbitrary bytes: a panic in it
    // must still end as an error message.
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| classifier.load_from(&mut store)))
            .map_err(|_| anyhow::anyhow!("the PyTorch reader failed on this file"))
            .and_then(|r| r.map_err(|e| anyhow::anyhow!("{e}")))
            .with_context(|| format!("{} is not a readable PyTorch weight file", path.display()))?;
    let mut result = result;
    // PyTorch keeps a batch counter per BatchNorm that inference never uses.
    result.unused.retain(|name| !name.ends_with("num_batches_tracked"));
    model::burnpack::check_complete(&result)
        .with_context(|| format!("{} is not the EfficientNet-Lite0 weight file", path.display()))?;
    Ok(classifier)
}

/// Loads the imported backbone into a classifier with a fresh, random head of `num_classes`.
pub fn initial_classifier(
    backbone: &Path,
    num_classes: usize,
    device: &Device,
) -> Result<Classifier> {
    let bytes = std::fs::read(backbone)
        .with_context(|| format!("cannot read the backbone {}", backbone.display()))?;
    let imagenet = model::burnpack::load(Classifier::new(IMAGENET_CLASSES, device), bytes)
        .with_context(|| {
            format!("{} is not an imported EfficientNet-Lite0 backbone", backbone.display())
        })?;
    Ok(model::burnpack::with_stable_ids(Classifier::with_backbone(
        imagenet.backbone,
        num_classes,
        device,
    )))
}
