//! Backbone plus a replaceable linear head: the ImageNet classifier the
//! weights come with, or a lesion classifier with one output per class.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use crate::efficientnet::{EfficientNetLite, FEATURE_CHANNELS, Variant, pool};

/// Dropout before the head, as in the reference training recipe.
const HEAD_DROPOUT: f64 = 0.2;

#[derive(Module, Debug)]
pub struct Classifier {
    pub backbone: EfficientNetLite,
    pub dropout: Dropout,
    pub head: Linear,
}

impl Classifier {
    /// A randomly initialised classifier on a `variant` backbone with `num_classes` outputs.
    pub fn new(variant: Variant, num_classes: usize, device: &Device) -> Self {
        Self::with_backbone(EfficientNetLite::new(variant, device), num_classes, device)
    }

    /// Puts a new, randomly initialised head with `num_classes` outputs on a backbone.
    pub fn with_backbone(backbone: EfficientNetLite, num_classes: usize, device: &Device) -> Self {
        Self {
            backbone,
            dropout: DropoutConfig::new(HEAD_DROPOUT).init(),
            head: LinearConfig::new(FEATURE_CHANNELS, num_classes).init(device),
        }
    }

    /// The classifier with its backbone's BatchNorms folded in (for inference).
    pub fn folded(self) -> Self {
        Self { backbone: self.backbone.folded(), dropout: self.dropout, head: self.head }
    }

    pub fn num_classes(&self) -> usize {
        self.head.weight.dims()[1]
    }

    /// Logits `[batch, classes]` for normalised images `[batch, 3, h, w]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.classify_features(self.backbone.feature_map(images))
    }

    /// Logits from the last feature map: the step Grad-CAM differentiates.
    pub fn classify_features(&self, features: Tensor<4>) -> Tensor<2> {
        self.classify_pooled(pool(features))
    }

    /// Logits from pooled features `[batch, 1280]`.
    pub fn classify_pooled(&self, pooled: Tensor<2>) -> Tensor<2> {
        self.head.forward(self.dropout.forward(pooled))
    }
}
