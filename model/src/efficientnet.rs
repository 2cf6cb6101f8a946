//! EfficientNet-Lite0, -Lite1 and -Lite2: the backbones, as Google's "lite"
//! family defines them (ReLU6, no squeeze-excitation, TensorFlow "SAME"
//! padding, BatchNorm eps 1e-3, stem and head channels not scaled).
//!
//! Field names mirror the reference PyTorch implementation with the leading
//! underscore dropped, so importing its weights is a plain prefix rename.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::store::{ModuleSnapshot, bridge};
use burn::tensor::module::adaptive_avg_pool2d;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::ops::{batch_norm as norm, conv_bias, convolution, relu6};

/// BatchNorm epsilon of the TensorFlow original.
const BN_EPS: f64 = 1e-3;
/// PyTorch momentum 0.01 means the running mean moves 1% per batch.
const BN_MOMENTUM: f64 = 0.01;

/// Channels of the stem convolution.
pub const STEM_CHANNELS: usize = 32;
/// Channels of the last feature map (the head 1x1 convolution).
pub const FEATURE_CHANNELS: usize = 1280;

/// One MBConv block of the architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockSpec {
    pub expand: usize,
    pub kernel: usize,
    pub stride: usize,
    pub input: usize,
    pub output: usize,
}

impl BlockSpec {
    pub fn residual(&self) -> bool {
        self.stride == 1 && self.input == self.output
    }
}

/// Lite0's 16 MBConv blocks, stage by stage:
/// (expansion, kernel, stride, output channels, repeats). The larger
/// variants scale the channels and the repeats of the middle stages.
const STAGES: [(usize, usize, usize, usize, usize); 7] = [
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
];

/// Which member of the family a backbone is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    #[default]
    Lite0,
    Lite1,
    Lite2,
}

impl Variant {
    pub const ALL: [Variant; 3] = [Variant::Lite0, Variant::Lite1, Variant::Lite2];

    /// The lowercase name used in manifests and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Lite0 => "lite0",
            Variant::Lite1 => "lite1",
            Variant::Lite2 => "lite2",
        }
    }

    /// The variant called `name` ("lite1" or "efficientnet-lite1").
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.trim().to_ascii_lowercase();
        let name = name.strip_prefix("efficientnet-").unwrap_or(&name);
        Self::ALL.into_iter().find(|v| v.name() == name)
    }

    /// (width, depth) multipliers against Lite0.
    fn scaling(self) -> (f64, f64) {
        match self {
            Variant::Lite0 => (1.0, 1.0),
            Variant::Lite1 => (1.0, 1.1),
            Variant::Lite2 => (1.1, 1.2),
        }
    }

    /// The input side the ImageNet weights were trained at.
    pub fn native_input(self) -> usize {
        match self {
            Variant::Lite0 => 224,
            Variant::Lite1 => 240,
            Variant::Lite2 => 260,
        }
    }

    /// Channels scaled by the width multiplier, rounded to a multiple of 8
    /// but never more than 10% down (the reference's rule).
    fn channels(self, base: usize) -> usize {
        let scaled = base as f64 * self.scaling().0;
        let rounded = (((scaled + 4.0) as usize) / 8 * 8).max(8);
        if (rounded as f64) < 0.9 * scaled { rounded + 8 } else { rounded }
    }

    /// Every block in order; the first of each stage carries the stride.
    /// The first and last stages keep Lite0's repeats (the "lite" rule).
    pub fn blocks(self) -> Vec<BlockSpec> {
        let mut blocks = Vec::new();
        let mut input = STEM_CHANNELS;
        for (stage, (expand, kernel, stride, output, repeats)) in STAGES.into_iter().enumerate() {
            let fixed = stage == 0 || stage == STAGES.len() - 1;
            let repeats =
                if fixed { repeats } else { (repeats as f64 * self.scaling().1).ceil() as usize };
            let output = self.channels(output);
            for r in 0..repeats {
                blocks.push(BlockSpec {
                    expand,
                    kernel,
                    stride: if r == 0 { stride } else { 1 },
                    input,
                    output,
                });
                input = output;
            }
        }
        blocks
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn conv(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    groups: usize,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_groups(groups)
        .with_padding(PaddingConfig2d::Same)
        .with_bias(false)
        .init(device)
}

fn batch_norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels).with_epsilon(BN_EPS).with_momentum(BN_MOMENTUM).init(device)
}

/// Inverted residual block: 1x1 expand, depthwise kxk, 1x1 project.
#[derive(Module, Debug)]
pub struct MbConv {
    pub expand_conv: Option<Conv2d>,
    pub bn0: Option<BatchNorm>,
    pub depthwise_conv: Conv2d,
    pub bn1: Option<BatchNorm>,
    pub project_conv: Conv2d,
    pub bn2: Option<BatchNorm>,
    pub residual: bool,
}

/// `conv`, its BatchNorm (or the bias it was folded into) and, if
/// `activate`, ReLU6.
fn conv_norm(conv: &Conv2d, bn: &Option<BatchNorm>, x: Tensor<4>, activate: bool) -> Tensor<4> {
    match bn {
        Some(bn) => {
            let y = convolution(conv, x);
            let y = norm(bn, y);
            if activate { relu6(y) } else { y }
        }
        None => conv_bias(conv, x, activate),
    }
}

/// `conv` followed by `bn` (in inference), as one convolution with a bias:
/// each output channel's filter scaled by `gamma / sqrt(var + eps)`, and the
/// bias `beta - mean * scale`.
fn fold(mut conv: Conv2d, bn: Option<BatchNorm>) -> Conv2d {
    let Some(bn) = bn else { return conv };
    let scale = bn.gamma.val() / (bn.running_var.value() + BN_EPS).sqrt();
    let shift = bn.beta.val() - bn.running_mean.value() * scale.clone();
    let [out, ..] = conv.weight.dims();
    let bias = match &conv.bias {
        Some(bias) => bias.val() * scale.clone() + shift,
        None => shift,
    };
    conv.weight =
        burn::module::Param::from_tensor(conv.weight.val() * scale.reshape([out, 1, 1, 1]));
    conv.bias = Some(burn::module::Param::from_tensor(bias));
    conv
}

impl MbConv {
    pub fn new(spec: &BlockSpec, device: &Device) -> Self {
        let hidden = spec.input * spec.expand;
        let (expand_conv, bn0) = if spec.expand != 1 {
            (Some(conv([spec.input, hidden], 1, 1, 1, device)), Some(batch_norm(hidden, device)))
        } else {
            (None, None)
        };
        Self {
            expand_conv,
            bn0,
            depthwise_conv: conv([hidden, hidden], spec.kernel, spec.stride, hidden, device),
            bn1: Some(batch_norm(hidden, device)),
            project_conv: conv([hidden, spec.output], 1, 1, 1, device),
            bn2: Some(batch_norm(spec.output, device)),
            residual: spec.residual(),
        }
    }

    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let mut x = input.clone();
        if let Some(expand) = &self.expand_conv {
            x = conv_norm(expand, &self.bn0, x, true);
        }
        x = conv_norm(&self.depthwise_conv, &self.bn1, x, true);
        // No activation after the projection: a linear bottleneck.
        x = conv_norm(&self.project_conv, &self.bn2, x, false);
        if self.residual { x + input } else { x }
    }

    /// The block with its BatchNorms folded into its convolutions (for inference).
    pub fn folded(self) -> Self {
        Self {
            expand_conv: self.expand_conv.map(|c| fold(c, self.bn0)),
            bn0: None,
            depthwise_conv: fold(self.depthwise_conv, self.bn1),
            bn1: None,
            project_conv: fold(self.project_conv, self.bn2),
            bn2: None,
            residual: self.residual,
        }
    }
}

/// An EfficientNet-Lite feature extractor (everything but the classifier).
/// Accepts any input size; see [`Variant::native_input`] for the reference's.
#[derive(Module, Debug)]
pub struct EfficientNetLite {
    pub conv_stem: Conv2d,
    pub bn0: Option<BatchNorm>,
    pub blocks: Vec<MbConv>,
    pub conv_head: Conv2d,
    pub bn1: Option<BatchNorm>,
}

impl EfficientNetLite {
    /// A randomly initialised network; load weights into it afterwards.
    pub fn new(variant: Variant, device: &Device) -> Self {
        let blocks = variant.blocks();
        let top = blocks.last().map_or(STEM_CHANNELS, |b| b.output);
        Self {
            conv_stem: conv([3, STEM_CHANNELS], 3, 2, 1, device),
            bn0: Some(batch_norm(STEM_CHANNELS, device)),
            blocks: blocks.iter().map(|s| MbConv::new(s, device)).collect(),
            conv_head: conv([top, FEATURE_CHANNELS], 1, 1, 1, device),
            bn1: Some(batch_norm(FEATURE_CHANNELS, device)),
        }
    }

    /// The network with every BatchNorm folded into the convolution before
    /// it: the same outputs in inference, one pass fewer per layer, and no
    /// BatchNorm statistics to store. Not for training.
    pub fn folded(self) -> Self {
        Self {
            conv_stem: fold(self.conv_stem, self.bn0),
            bn0: None,
            blocks: self.blocks.into_iter().map(MbConv::folded).collect(),
            conv_head: fold(self.conv_head, self.bn1),
            bn1: None,
        }
    }

    /// Which variant this network was built as (read from its shape).
    pub fn variant(&self) -> Variant {
        let top = self.conv_head.weight.dims()[1];
        Variant::ALL
            .into_iter()
            .find(|v| {
                let blocks = v.blocks();
                blocks.len() == self.blocks.len() && blocks.last().map(|b| b.output) == Some(top)
            })
            .unwrap_or_default()
    }

    /// Whether the BatchNorms are folded in.
    pub fn is_folded(&self) -> bool {
        self.bn0.is_none()
    }

    pub fn num_blocks(&self) -> usize {
        self.blocks.len()
    }

    /// The stem and blocks `[0, cut)`: the part that stays frozen when only the
    /// top blocks are fine-tuned, so its output can be cached.
    pub fn forward_lower(&self, images: Tensor<4>, cut: usize) -> Tensor<4> {
        let mut x = conv_norm(&self.conv_stem, &self.bn0, images, true);
        for block in &self.blocks[..cut.min(self.blocks.len())] {
            x = block.forward(x);
        }
        x
    }

    /// Blocks `[cut, end)` and the head convolution: the last feature map
    /// `[batch, 1280, h/32, w/32]` (the Grad-CAM target layer).
    pub fn forward_upper(&self, lower: Tensor<4>, cut: usize) -> Tensor<4> {
        let mut x = lower;
        for block in &self.blocks[cut.min(self.blocks.len())..] {
            x = block.forward(x);
        }
        conv_norm(&self.conv_head, &self.bn1, x, true)
    }

    /// The last convolutional feature map for normalised images `[batch, 3, h, w]`.
    pub fn feature_map(&self, images: Tensor<4>) -> Tensor<4> {
        self.forward_upper(self.forward_lower(images, 0), 0)
    }

    /// Global-average-pooled features `[batch, 1280]`.
    pub fn embed(&self, images: Tensor<4>) -> Tensor<2> {
        pool(self.feature_map(images))
    }
}

/// Whether two modules hold the same tensors, value for value.
fn same_weights<M: Module>(a: &M, b: &M) -> bool {
    let values = |m: &M| -> Vec<(String, Option<burn::tensor::TensorData>)> {
        m.collect(None, None, false)
            .into_iter()
            .map(|t| (t.name.clone(), bridge::into_data(t).ok()))
            .collect()
    };
    values(a) == values(b)
}

/// How many leading blocks, counted from the stem, hold identical weights in
/// every backbone: those run once per image for a whole ensemble. 0 when
/// the stems differ or there is only one backbone.
pub fn identical_lower_blocks(backbones: &[&EfficientNetLite]) -> usize {
    let Some((first, rest)) = backbones.split_first() else { return 0 };
    if rest.is_empty()
        || !rest.iter().all(|b| {
            same_weights(&first.conv_stem, &b.conv_stem) && same_weights(&first.bn0, &b.bn0)
        })
    {
        return 0;
    }
    (0..first.blocks.len())
        .take_while(|&i| rest.iter().all(|b| same_weights(&first.blocks[i], &b.blocks[i])))
        .count()
}

/// Global average pooling of a feature map to `[batch, channels]`.
pub fn pool(features: Tensor<4>) -> Tensor<2> {
    adaptive_avg_pool2d(features, [1, 1]).flatten(1, 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architecture_matches_the_reference_table() {
        let blocks = Variant::Lite0.blocks();
        assert_eq!(blocks.len(), 16);
        let residual: Vec<usize> = (0..16).filter(|&i| blocks[i].residual()).collect();
        assert_eq!(residual, vec![2, 4, 6, 7, 9, 10, 12, 13, 14]);
        assert_eq!(blocks[8].input, 80);
        assert_eq!(blocks[8].output, 112);
        assert_eq!(blocks[15].output, 320);
    }

    #[test]
    fn larger_variants_scale_the_middle_stages() {
        // The reference files hold 21 blocks for both; Lite2 is 10% wider.
        let lite1 = Variant::Lite1.blocks();
        assert_eq!(lite1.len(), 21);
        assert_eq!(lite1.last().map(|b| b.output), Some(320));
        let lite2 = Variant::Lite2.blocks();
        assert_eq!(lite2.len(), 21);
        let outputs: Vec<usize> = lite2.iter().map(|b| b.output).collect();
        for expected in [16, 24, 48, 88, 120, 208, 352] {
            assert!(outputs.contains(&expected), "{expected} in {outputs:?}");
        }
        assert_eq!(Variant::from_name("EfficientNet-Lite2"), Some(Variant::Lite2));
        assert_eq!(Variant::from_name("lite3"), None);
    }

    #[test]
    fn parameter_count_is_lite0s() {
        let model = EfficientNetLite::new(Variant::Lite0, &Device::flex());
        // The reference has 4,652,008 learnable parameters, 1,281,000 of them in
        // the ImageNet classifier; burn also counts the BatchNorm running mean
        // and variance (42,016 values, as many as the BatchNorm gammas and betas).
        assert_eq!(model.num_params(), 4_652_008 - 1_281_000 + 42_016);
    }

    #[test]
    fn identical_lower_blocks_are_counted() {
        let device = Device::flex();
        let a = EfficientNetLite::new(Variant::Lite0, &device);
        let mut b = a.clone();
        b.blocks[5] = MbConv::new(&Variant::Lite0.blocks()[5], &device);
        assert_eq!(identical_lower_blocks(&[&a, &b]), 5);
        assert_eq!(identical_lower_blocks(&[&a, &a.clone()]), 16);
        assert_eq!(identical_lower_blocks(&[&a]), 0, "one backbone shares nothing");
        let other = EfficientNetLite::new(Variant::Lite0, &device);
        assert_eq!(identical_lower_blocks(&[&a, &other]), 0, "different stems");
    }

    #[test]
    fn folding_the_batch_norms_changes_no_output() {
        let device = Device::flex();
        let mut model = EfficientNetLite::new(Variant::Lite0, &device);
        // BatchNorms that do something: random statistics and affine parameters.
        let random = |n: usize, lo: f64, hi: f64| {
            Tensor::<1>::random([n], burn::tensor::Distribution::Uniform(lo, hi), &device)
        };
        for block in &mut model.blocks {
            if let Some(bn) = &mut block.bn1 {
                let n = bn.gamma.dims()[0];
                bn.gamma = burn::module::Param::from_tensor(random(n, 0.5, 1.5));
                bn.beta = burn::module::Param::from_tensor(random(n, -0.5, 0.5));
                bn.running_mean = burn::module::RunningState::new(random(n, -0.2, 0.2));
                bn.running_var = burn::module::RunningState::new(random(n, 0.5, 2.0));
            }
        }
        let x = Tensor::<4>::random([2, 3, 64, 64], burn::tensor::Distribution::Default, &device);
        let plain: Vec<f32> = model.feature_map(x.clone()).into_data().try_to_vec().unwrap();
        let folded = model.folded();
        assert!(folded.is_folded());
        let fast: Vec<f32> = folded.feature_map(x).into_data().try_to_vec().unwrap();
        let worst = plain.iter().zip(&fast).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(worst < 1e-4, "{worst}");
    }

    #[test]
    fn any_input_size_gives_a_feature_map() {
        let device = Device::flex();
        let model = EfficientNetLite::new(Variant::Lite0, &device);
        for (h, w) in [(64usize, 64usize), (75, 100), (33, 47)] {
            let x = Tensor::<4>::zeros([1, 3, h, w], &device);
            let y = model.feature_map(x);
            assert_eq!(y.dims(), [1, FEATURE_CHANNELS, h.div_ceil(32), w.div_ceil(32)]);
        }
    }
}
