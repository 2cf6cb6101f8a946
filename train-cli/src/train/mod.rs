//! `dermlens train`: staged transfer learning of an ensemble from the
//! ImageNet backbone, on a saved split.

pub mod augment;
pub mod cache;
pub mod fit;
pub mod loss;
pub mod sampler;
pub mod schedule;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use model::classes::LesionClass;
use model::classifier::Classifier;
use model::preprocess::Normalization;
use serde::{Deserialize, Serialize};

use crate::data::split::{self, Part};
use augment::Augment;
use cache::CacheSpec;
use fit::{FitOptions, MemberFiles, StageOptions};
use loss::{LossConfig, LossKind, inverse_frequency_weights};
use sampler::Sampling;
use schedule::Decay;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ClassWeights {
    None,
    Inverse,
    Sqrt,
}

/// Every choice of a training run; saved as `run.json` in the run folder so
/// that resuming, calibrating, evaluating and exporting use the same.
#[derive(Debug, Clone, Serialize, Deserialize, clap::Args)]
pub struct TrainOptions {
    /// Split file written by `dermlens split`.
    #[arg(long, default_value = "split.csv")]
    pub split: PathBuf,
    /// Backbone weights written by `dermlens import-backbone`.
    #[arg(long, default_value = "lite0-imagenet.bpk")]
    pub backbone: PathBuf,
    /// Ensemble members (each with its own seed).
    #[arg(long, default_value_t = 3)]
    pub members: usize,
    /// Network input height and width.
    #[arg(long, default_value_t = 224)]
    pub input: u32,
    /// First block that is fine-tuned; the blocks below stay frozen and their output is cached.
    #[arg(long, default_value_t = 12)]
    pub cut: usize,
    /// Cached views per training image: the plain image and augmented copies.
    #[arg(long, default_value_t = 8)]
    pub views: usize,
    #[arg(long, default_value_t = 30.0)]
    pub max_rotation: f32,
    #[arg(long, default_value_t = 0.75)]
    pub min_scale: f32,
    #[arg(long, default_value_t = 0.1)]
    pub colour_jitter: f32,
    /// Epochs of the head alone on frozen features.
    #[arg(long, default_value_t = 15)]
    pub head_epochs: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub head_lr: f64,
    /// Epochs of the top blocks and head.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    #[arg(long, default_value_t = 3e-4)]
    pub lr: f64,
    #[arg(long, default_value_t = 1)]
    pub warmup_epochs: usize,
    #[arg(long, value_enum, default_value_t = Decay::Cosine)]
    #[serde(with = "decay_serde")]
    pub decay: Decay,
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    #[arg(long, default_value_t = 1e-4)]
    pub weight_decay: f32,
    #[arg(long, value_enum, default_value_t = LossKind::CrossEntropy)]
    #[serde(with = "loss_serde")]
    pub loss: LossKind,
    /// Focusing parameter of the focal loss.
    #[arg(long, default_value_t = 2.0)]
    pub gamma: f32,
    #[arg(long, value_enum, default_value_t = ClassWeights::Sqrt)]
    pub class_weights: ClassWeights,
    #[arg(long, default_value_t = 0.1)]
    pub label_smoothing: f32,
    /// Extra loss per unit of probability a melanoma gives to benign classes.
    #[arg(long, default_value_t = 0.5)]
    pub melanoma_cost: f32,
    #[arg(long, value_enum, default_value_t = Sampling::Sqrt)]
    #[serde(with = "sampling_serde")]
    pub sampling: Sampling,
    /// Thin a class out each epoch, e.g. `nv=0.5` (repeatable).
    #[arg(long = "downsample", value_parser = parse_keep)]
    pub downsample: Vec<(String, f32)>,
    /// Epochs without a better validation balanced accuracy before a stage stops.
    #[arg(long, default_value_t = 4)]
    pub patience: usize,
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

macro_rules! value_enum_serde {
    ($module:ident, $ty:ty) => {
        mod $module {
            use clap::ValueEnum;
            pub fn serialize<S: serde::Serializer>(v: &$ty, s: S) -> Result<S::Ok, S::Error> {
                let name = v.to_possible_value().map(|p| p.get_name().to_string()).unwrap_or_default();
                s.serialize_str(&name)
            }
            pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                let name: String = serde::Deserialize::deserialize(d)?;
                <$ty>::from_str(&name, true).map_err(serde::de::Error::custom)
            }
        }
    };
}
value_enum_serde!(decay_serde, super::Decay);
value_enum_serde!(loss_serde, super::LossKind);
value_enum_serde!(sampling_serde, super::Sampling);

/// What later commands need to know about a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub options: TrainOptions,
    pub classes: Vec<LesionClass>,
    pub normalization: Normalization,
    /// sha256 of the split file the run was started on: resuming on another split would leak.
    #[serde(default)]
    pub split_sha256: String,
    /// Seconds spent per member, filled in as members finish.
    #[serde(default)]
    pub seconds: Vec<f64>,
}

pub const RUN_FILE: &str = "run.json";

impl Run {
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(RUN_FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("{} is not a training run folder (no {RUN_FILE})", dir.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is damaged", path.display()))
    }

    pub fn member_dir(dir: &Path, member: usize) -> PathBuf {
        dir.join(format!("member-{member}"))
    }

    pub fn input(&self) -> [u32; 2] {
        [self.options.input, self.options.input]
    }
}

/// Loads the ImageNet backbone into a classifier with a fresh head.
pub fn initial_classifier(backbone: &Path, num_classes: usize, device: &Device) -> Result<Classifier> {
    let bytes = std::fs::read(backbone).with_context(|| format!("cannot read the backbone {}", backbone.display()))?;
    let imagenet = model::weights::load(Classifier::new(crate::import::IMAGENET_CLASSES, device), bytes)
        .with_context(|| format!("{} is not an imported EfficientNet-Lite0 backbone", backbone.display()))?;
    Ok(Classifier::with_backbone(imagenet.backbone, num_classes, device))
}

pub fn run(options: TrainOptions, out: &Path, resume: bool) -> Result<()> {
    let run_file = out.join(RUN_FILE);
    let options = if resume {
        let run = Run::load(out)?;
        eprintln!("resuming {} with its saved options", out.display());
        run.options
    } else {
        if run_file.exists() {
            bail!("{} already holds a training run: pass --resume to continue it, or choose another --out", out.display());
        }
        // Later commands may run from another folder.
        let mut options = options;
        options.split = std::path::absolute(&options.split)?;
        options.backbone = std::path::absolute(&options.backbone)?;
        options
    };
    let started = std::time::Instant::now();
    if options.members == 0 || options.batch < 2 || options.views == 0 || options.patience == 0 {
        bail!("--members, --views and --patience must be at least 1 and --batch at least 2");
    }
    if !(options.min_scale > 0.0 && options.min_scale <= 1.0) {
        bail!("--min-scale must be in (0, 1]");
    }
    if options.cut > 16 {
        bail!("--cut must be between 0 and 16 (Lite0 has 16 blocks)");
    }
    let split = split::load(&options.split)?;
    let classes: Vec<LesionClass> = split.classes.iter().map(|c| LesionClass::from_code(c, None)).collect();
    let normalization = Normalization::LITE;
    let split_hash = model::bundle::sha256_hex(&std::fs::read(&options.split)?);
    let mut run = match Run::load(out) {
        Ok(run) if resume => {
            if run.split_sha256 != split_hash {
                bail!("{} changed since this run started: resuming on it could mix test images into training", options.split.display());
            }
            run
        }
        _ => Run { options: options.clone(), classes: classes.clone(), normalization, split_sha256: split_hash.clone(), seconds: Vec::new() },
    };
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    crate::files::write_atomic(&run_file, serde_json::to_string_pretty(&run)?.as_bytes())?;

    let device = Device::flex();
    let initial = initial_classifier(&options.backbone, classes.len(), &device)?;
    let train_samples = split.part(Part::Train);
    let val_samples = split.part(Part::Val);

    // The cache key names everything its contents depend on.
    let backbone_hash = model::bundle::sha256_hex(&std::fs::read(&options.backbone)?);
    let key = |part: &str, views: usize| {
        format!(
            "{split_hash}:{backbone_hash}:{part}:cut{}:{}px:views{views}:aug{}/{}/{}:seed{}",
            options.cut, options.input, options.max_rotation, options.min_scale, options.colour_jitter, options.seed
        )
    };
    let spec = |views| CacheSpec {
        backbone: &initial.backbone,
        cut: options.cut,
        input: [options.input, options.input],
        normalization,
        views,
        augment: Augment { max_rotation: options.max_rotation, min_scale: options.min_scale, colour: options.colour_jitter },
        seed: options.seed,
    };
    let cache_dir = out.join("cache");
    let train_cache =
        cache::load_or_build(&train_samples, &spec(options.views), &cache_dir.join("train.bin"), &key("train", options.views), "caching train")?;
    let val_cache = cache::load_or_build(&val_samples, &spec(1), &cache_dir.join("val.bin"), &key("val", 1), "caching val")?;

    let counts = crate::data::class_counts(&train_samples, classes.len());
    let class_weights = match options.class_weights {
        ClassWeights::None => vec![1.0; classes.len()],
        ClassWeights::Inverse => inverse_frequency_weights(&counts, 1.0),
        ClassWeights::Sqrt => inverse_frequency_weights(&counts, 0.5),
    };
    let mut keep = vec![1.0f32; classes.len()];
    for (class, share) in &options.downsample {
        let Some(c) = split.classes.iter().position(|x| x == class) else {
            bail!("--downsample names '{class}', which is not a class of this split ({})", split.classes.join(", "));
        };
        keep[c] = *share;
    }
    let fit_options = FitOptions {
        head: StageOptions { epochs: options.head_epochs, learning_rate: options.head_lr, warmup_epochs: 0 },
        upper: StageOptions { epochs: options.epochs, learning_rate: options.lr, warmup_epochs: options.warmup_epochs },
        cut: options.cut,
        batch: options.batch,
        weight_decay: options.weight_decay,
        decay: options.decay,
        sampling: options.sampling,
        keep,
        loss: LossConfig {
            kind: options.loss,
            gamma: options.gamma,
            class_weights,
            label_smoothing: options.label_smoothing,
            melanoma_cost: options.melanoma_cost,
            melanoma: split.classes.iter().position(|c| c == "mel"),
            benign: classes.iter().map(|c| !c.malignant).collect(),
        },
        patience: options.patience,
    };
    for member in 0..options.members {
        let dir = Run::member_dir(out, member);
        if fit::is_done(&dir) {
            eprintln!("member {member}: already trained");
            continue;
        }
        let member_started = std::time::Instant::now();
        // Each member starts from the same backbone with its own random head.
        let seed = options.seed.wrapping_mul(7919).wrapping_add(member as u64);
        device.seed(seed);
        let start = Classifier::with_backbone(initial.backbone.clone(), classes.len(), &device);
        fit::fit_member(&MemberFiles { dir }, start, seed, &train_cache, &val_cache, &fit_options)?;
        run.seconds.resize(options.members, 0.0);
        run.seconds[member] += member_started.elapsed().as_secs_f64();
        crate::files::write_atomic(&run_file, serde_json::to_string_pretty(&run)?.as_bytes())?;
    }
    println!(
        "trained {} members in {}; run folder {} (session time {:.0} s)",
        options.members,
        out.display(),
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
