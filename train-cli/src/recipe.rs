//! A training recipe: every choice `dermlens train` makes, as command-line
//! options and as the JSON saved in the run folder (`run.json`), so that a
//! run can be resumed, repeated (`train --config run.json`) and described.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ClassWeights {
    None,
    Inverse,
    Sqrt,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Decay {
    Cosine,
    /// Divide by 10 at 60% and again at 85% of training.
    Step,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum LossKind {
    CrossEntropy,
    Focal,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Sampling {
    /// Every sample once per epoch.
    Natural,
    /// Each class drawn equally often (with replacement).
    Balanced,
    /// Classes drawn in proportion to the square root of their size.
    Sqrt,
}

/// Every choice of a training run.
#[derive(Debug, Clone, Serialize, Deserialize, clap::Args)]
pub struct Recipe {
    /// Split file written by `dermlens split`.
    #[arg(long, default_value = "split.csv")]
    pub split: PathBuf,
    /// Backbone weights written by `dermlens import-backbone`.
    #[arg(long, default_value = "lite0-imagenet.bpk")]
    pub backbone: PathBuf,
    /// Ensemble members (each with its own seed).
    #[arg(long, default_value_t = 3)]
    pub members: usize,
    /// Network input height and width, in pixels.
    #[arg(long, default_value_t = 224)]
    pub input: u32,
    /// First block that is fine-tuned; the blocks below stay frozen and their output is cached.
    #[arg(long, default_value_t = 12)]
    pub cut: usize,
    /// Cached views per training image: the plain image and augmented copies.
    #[arg(long, default_value_t = 8)]
    pub views: usize,
    /// Largest free rotation of an augmented view, in degrees.
    #[arg(long, default_value_t = 30.0)]
    pub max_rotation: f32,
    /// Smallest zoom of an augmented view (share of the frame kept along each side).
    #[arg(long, default_value_t = 0.75)]
    pub min_scale: f32,
    /// Largest relative change of brightness, contrast and saturation of an augmented view.
    #[arg(long, default_value_t = 0.1)]
    pub colour_jitter: f32,
    /// Epochs of the head alone on frozen features.
    #[arg(long, default_value_t = 15)]
    pub head_epochs: usize,
    /// Peak learning rate of the head stage.
    #[arg(long, default_value_t = 1e-3)]
    pub head_lr: f64,
    /// Epochs of the top blocks and head.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Peak learning rate of the top blocks and head.
    #[arg(long, default_value_t = 3e-4)]
    pub lr: f64,
    /// Epochs of linear learning-rate warm-up at the start of the top-block stage.
    #[arg(long, default_value_t = 1)]
    pub warmup_epochs: usize,
    /// Learning-rate decay after the warm-up.
    #[arg(long, value_enum, default_value_t = Decay::Cosine)]
    pub decay: Decay,
    /// Images per training step.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// AdamW weight decay.
    #[arg(long, default_value_t = 1e-4)]
    pub weight_decay: f32,
    /// Training loss.
    #[arg(long, value_enum, default_value_t = LossKind::CrossEntropy)]
    pub loss: LossKind,
    /// Focusing parameter of the focal loss.
    #[arg(long, default_value_t = 2.0)]
    pub gamma: f32,
    /// Per-class loss weights from the class sizes.
    #[arg(long, value_enum, default_value_t = ClassWeights::Sqrt)]
    pub class_weights: ClassWeights,
    /// Share of the target mass spread uniformly over all classes.
    #[arg(long, default_value_t = 0.1)]
    pub label_smoothing: f32,
    /// Extra loss per unit of probability a melanoma gives to benign classes.
    #[arg(long, default_value_t = 0.5)]
    pub melanoma_cost: f32,
    /// How an epoch draws its training images.
    #[arg(long, value_enum, default_value_t = Sampling::Sqrt)]
    pub sampling: Sampling,
    /// Thin a class out each epoch, e.g. `nv=0.5` (repeatable).
    #[arg(long = "downsample", value_name = "CLASS=SHARE", value_parser = parse_keep)]
    pub downsample: Vec<(String, f32)>,
    /// Epochs without a better validation balanced accuracy before a stage stops.
    #[arg(long, default_value_t = 4)]
    pub patience: usize,
    /// Seed of the run (members, sampling, augmentation).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

fn parse_keep(s: &str) -> Result<(String, f32), String> {
    let (class, share) = s.split_once('=').ok_or("expected CLASS=SHARE, e.g. nv=0.5")?;
    let share: f32 = share.parse().map_err(|_| format!("'{share}' is not a number"))?;
    if !(0.0..=1.0).contains(&share) || share == 0.0 {
        return Err("the share must be in (0, 1]".into());
    }
    Ok((class.to_string(), share))
}
