//! A training recipe: every choice `dermlens train` makes, as command-line
//! options and as the JSON saved in the run folder (`run.json`), so that a
//! run can be resumed, repeated (`train --config run.json`), swept over
//! (`dermlens sweep`) and described.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use model::preprocess::Geometry;
use serde::{Deserialize, Serialize};

/// Per-class loss weights from the class sizes (a second way of balancing:
/// off by default, kept to measure what counting balance twice costs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ClassWeights {
    None,
    Inverse,
    Sqrt,
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

/// How the photo becomes the network input, as in `model::preprocess`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum GeometryArg {
    /// The centred square, resized; training crops keep proportions within 3:4 to 4:3.
    Crop,
    /// The whole frame squashed to a square (earlier bundles).
    Stretch,
}

impl From<GeometryArg> for Geometry {
    fn from(g: GeometryArg) -> Self {
        match g {
            GeometryArg::Crop => Geometry::Crop,
            GeometryArg::Stretch => Geometry::Stretch,
        }
    }
}

/// Every choice of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
pub struct Recipe {
    /// Split file written by `dermlens split`.
    #[arg(long, default_value = "split.csv")]
    pub split: PathBuf,
    /// Backbone weights written by `dermlens import-backbone` (Lite0, Lite1
    /// or Lite2), comma-separated and reused in turn like `--inputs`.
    #[arg(long, value_delimiter = ',', default_value = "lite0-imagenet.bpk")]
    #[serde(deserialize_with = "one_or_more")]
    pub backbone: Vec<PathBuf>,
    /// Ensemble members (each with its own seed).
    #[arg(long, default_value_t = 2)]
    pub members: usize,
    /// Network input side per member, in pixels, comma-separated and reused
    /// in turn (e.g. 160,192,224 gives three members three sizes).
    #[arg(long, value_delimiter = ',', default_value = "160,192")]
    pub inputs: Vec<u32>,
    /// How a photo becomes the square input.
    #[arg(long, value_enum, default_value_t = GeometryArg::Crop)]
    pub geometry: GeometryArg,
    /// Shades-of-grey colour constancy before the network (training and use).
    #[arg(long)]
    pub colour_constancy: bool,
    /// Epochs of the head alone on the frozen ImageNet backbone's features (the warm start).
    #[arg(long, default_value_t = 10)]
    pub head_epochs: usize,
    /// Peak learning rate of the head epochs.
    #[arg(long, default_value_t = 3e-3)]
    pub head_lr: f64,
    /// Epochs of the whole network (all blocks, augmentation drawn afresh).
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Images an epoch of the whole network draws (0: the train part's size).
    #[arg(long, default_value_t = 4000)]
    pub epoch_images: usize,
    /// Peak learning rate of the whole network.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Epochs of linear learning-rate warm-up before the cosine decay.
    #[arg(long, default_value_t = 1)]
    pub warmup_epochs: usize,
    /// Images per training step.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// AdamW weight decay of convolution and linear weights (never of
    /// BatchNorm parameters or biases).
    #[arg(long, default_value_t = 0.02)]
    pub weight_decay: f32,
    /// Keep the stem (first convolution and its BatchNorm) frozen.
    #[arg(long)]
    pub freeze_stem: bool,
    /// Decay of the exponential moving average of the weights (BatchNorm
    /// statistics included) per step; 0 keeps the last weights instead.
    #[arg(long, default_value_t = 0.998)]
    pub ema: f64,
    /// Smallest crop area, as a share of the photo's centred square.
    #[arg(long, default_value_t = 0.35)]
    pub min_area: f32,
    /// Largest aspect ratio of a crop (and its inverse the smallest).
    #[arg(long, default_value_t = 4.0 / 3.0)]
    pub max_aspect: f32,
    /// Turn crops by any angle (borders reflected); else only quarter turns.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub rotate: bool,
    /// Largest relative change of brightness, contrast and saturation.
    #[arg(long, default_value_t = 0.2)]
    pub colour_jitter: f32,
    /// Largest hue rotation, in degrees.
    #[arg(long, default_value_t = 10.0)]
    pub hue: f32,
    /// Chance that a training view is spoilt the ways phone photos are
    /// (`model::degrade`: the light's colour, exposure, distance, blur,
    /// resolution, noise and JPEG, each drawn on its own); 0 for none.
    #[arg(long, default_value_t = 0.5)]
    #[serde(default)]
    pub phone: f32,
    /// Largest strength of those degradations (1 is the robustness
    /// benchmark's "severe").
    #[arg(long, default_value_t = 1.0)]
    #[serde(default)]
    pub phone_strength: f32,
    /// Augmented views per image drawn once and reused every epoch (the
    /// earlier recipe's cache); 0 draws every view afresh.
    #[arg(long, default_value_t = 0)]
    pub fixed_views: usize,
    /// How an epoch draws its training images.
    #[arg(long, value_enum, default_value_t = Sampling::Sqrt)]
    pub sampling: Sampling,
    /// Logit adjustment (Menon et al. 2021): the loss adds this times the
    /// log of the sampled class frequencies to the logits, so the network
    /// learns balanced scores whatever the sampling; 0 is plain cross-entropy.
    #[arg(long, default_value_t = 1.0)]
    pub logit_adjust: f32,
    /// Per-class loss weights from the class sizes.
    #[arg(long, value_enum, default_value_t = ClassWeights::None)]
    pub class_weights: ClassWeights,
    /// Share of the target mass spread uniformly over all classes.
    #[arg(long, default_value_t = 0.1)]
    pub label_smoothing: f32,
    /// Seed of the run (members, sampling, augmentation).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// A finished run on the same split whose members teach (distillation):
    /// their averaged soft predictions on the very views a member sees
    /// become part of its target in the whole-network epochs.
    #[arg(long, value_name = "RUN")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher: Option<PathBuf>,
    /// Share of the target that is the teacher's (the rest: the labels).
    #[arg(long, default_value_t = DISTILL_WEIGHT)]
    #[serde(default = "distill_weight", skip_serializing_if = "is_distill_weight")]
    pub distill_weight: f32,
    /// Temperature both the teacher's and the member's scores are softened by.
    #[arg(long, default_value_t = DISTILL_TEMPERATURE)]
    #[serde(default = "distill_temperature", skip_serializing_if = "is_distill_temperature")]
    pub distill_temperature: f32,
}

// Recipes without a teacher serialise as before, so the fingerprints of
// runs started earlier (their locks, `--resume`) are unchanged.
const DISTILL_WEIGHT: f32 = 0.5;
const DISTILL_TEMPERATURE: f32 = 2.0;
fn distill_weight() -> f32 {
    DISTILL_WEIGHT
}
fn distill_temperature() -> f32 {
    DISTILL_TEMPERATURE
}
#[allow(clippy::trivially_copy_pass_by_ref)] // serde's signature
fn is_distill_weight(x: &f32) -> bool {
    *x == DISTILL_WEIGHT
}
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_distill_temperature(x: &f32) -> bool {
    *x == DISTILL_TEMPERATURE
}

impl Recipe {
    /// A checksum of every choice: two recipes train the same run only if it matches.
    pub fn fingerprint(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        model::bundle::sha256_hex(text.as_bytes())[..16].to_string()
    }

    /// Every option by name, those left out of the saved form included
    /// (for comparing, merging and sweeping options by name).
    pub fn fields(&self) -> Result<serde_json::Map<String, serde_json::Value>> {
        let serde_json::Value::Object(mut fields) = serde_json::to_value(self)? else {
            bail!("internal: a recipe is an object")
        };
        fields.insert("teacher".into(), serde_json::to_value(&self.teacher)?);
        fields.insert("distill_weight".into(), serde_json::to_value(self.distill_weight)?);
        fields
            .insert("distill_temperature".into(), serde_json::to_value(self.distill_temperature)?);
        Ok(fields)
    }

    /// The options named in `given` whose value in `other` differs from
    /// this recipe's, as `--name other (this run: ours)`.
    pub fn differences(&self, other: &Self, given: &[String]) -> Vec<String> {
        let (Ok(ours), Ok(theirs)) = (self.fields(), other.fields()) else {
            return Vec::new();
        };
        given
            .iter()
            .filter_map(|name| {
                let (a, b) = (ours.get(name)?, theirs.get(name)?);
                (a != b).then(|| format!("--{} {b} (the run has {a})", name.replace('_', "-")))
            })
            .collect()
    }

    /// Member `m`'s backbone file.
    pub fn backbone(&self, m: usize) -> &Path {
        &self.backbone[m % self.backbone.len().max(1)]
    }

    /// Member `m`'s input side.
    pub fn input(&self, m: usize) -> u32 {
        self.inputs[m % self.inputs.len().max(1)]
    }

    /// Member `m`'s seed.
    pub fn member_seed(&self, m: usize) -> u64 {
        self.seed.wrapping_mul(7919).wrapping_add(m as u64)
    }

    /// Why the recipe cannot be trained, if it cannot.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut check = |ok: bool, what: &str| {
            if !ok {
                out.push(what.to_string());
            }
        };
        check(self.members >= 1, "--members must be at least 1");
        check(!self.inputs.is_empty(), "--inputs needs at least one size");
        check(!self.backbone.is_empty(), "--backbone needs at least one file");
        check(
            self.inputs.iter().all(|&s| (32..=1024).contains(&s)),
            "--inputs must be 32 to 1024 pixels",
        );
        check(self.batch >= 2, "--batch must be at least 2 (BatchNorm needs a batch)");
        check(self.epochs + self.head_epochs >= 1, "--epochs and --head-epochs cannot both be 0");
        check(
            self.lr > 0.0 && self.lr.is_finite() && self.head_lr > 0.0 && self.head_lr.is_finite(),
            "learning rates must be positive",
        );
        check(
            self.weight_decay >= 0.0 && self.weight_decay.is_finite(),
            "--weight-decay must be 0 or more",
        );
        check((0.0..1.0).contains(&self.ema), "--ema must be in [0, 1)");
        check(self.min_area > 0.0 && self.min_area <= 1.0, "--min-area must be in (0, 1]");
        check(
            self.max_aspect >= 1.0 && self.max_aspect.is_finite(),
            "--max-aspect must be 1 or more",
        );
        check((0.0..1.0).contains(&self.colour_jitter), "--colour-jitter must be in [0, 1)");
        check((0.0..=180.0).contains(&self.hue), "--hue must be 0 to 180 degrees");
        check((0.0..=1.0).contains(&self.phone), "--phone must be in [0, 1]");
        check((0.0..=1.0).contains(&self.phone_strength), "--phone-strength must be in [0, 1]");
        check((0.0..1.0).contains(&self.label_smoothing), "--label-smoothing must be in [0, 1)");
        check(
            self.logit_adjust >= 0.0 && self.logit_adjust.is_finite(),
            "--logit-adjust must be 0 or more",
        );
        check((0.0..=1.0).contains(&self.distill_weight), "--distill-weight must be in [0, 1]");
        check(
            self.distill_temperature > 0.0 && self.distill_temperature <= 20.0,
            "--distill-temperature must be above 0 and at most 20",
        );
        out
    }
}

/// One path (recipes saved before backbones could differ per member) or a list.
fn one_or_more<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Paths {
        One(PathBuf),
        More(Vec<PathBuf>),
    }
    Ok(match Paths::deserialize(d)? {
        Paths::One(path) => vec![path],
        Paths::More(paths) => paths,
    })
}

/// A recipe as `train` and `sweep` take it: options on the command line,
/// over a saved recipe when `--config` names one.
#[derive(Debug, Clone, clap::Args)]
pub struct RecipeArgs {
    #[command(flatten)]
    pub options: Recipe,
    /// Start from the recipe saved in this file (a run's run.json, or a
    /// recipe alone); options given on the command line win.
    #[arg(long, value_name = "JSON")]
    pub config: Option<PathBuf>,
    /// The recipe options given on the command line (filled in by `main`).
    #[arg(skip)]
    pub given: Vec<String>,
}

impl RecipeArgs {
    /// The command line's options alone, with absolute paths.
    pub fn command_line(&self) -> Result<Recipe> {
        self.options.clone().with_absolute_paths()
    }

    /// The recipe to train: the saved one with the given options over it,
    /// or the options alone; with absolute paths.
    pub fn resolve(&self) -> Result<Recipe> {
        match &self.config {
            Some(file) => merge_config(file, &self.options, &self.given)?.with_absolute_paths(),
            None => self.command_line(),
        }
    }
}

impl Recipe {
    /// Later commands may run from another folder: the paths are made absolute.
    fn with_absolute_paths(mut self) -> Result<Self> {
        self.split = std::path::absolute(&self.split)?;
        self.backbone =
            self.backbone.iter().map(std::path::absolute).collect::<std::io::Result<_>>()?;
        self.teacher = self.teacher.as_deref().map(std::path::absolute).transpose()?;
        Ok(self)
    }
}

/// The recipe in `file` (a run's `run.json` or a bare recipe), with the
/// options in `given` taken from `cli` instead.
pub fn merge_config(file: &Path, cli: &Recipe, given: &[String]) -> Result<Recipe> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    let mut saved = match value.get("options") {
        Some(options) => options.clone(),
        None => value,
    };
    let serde_json::Value::Object(fields) = &mut saved else {
        bail!("{} holds no recipe", file.display())
    };
    let ours = cli.fields()?;
    for name in given {
        if let Some(v) = ours.get(name) {
            fields.insert(name.clone(), v.clone());
        }
    }
    // Options the file lacks take their defaults.
    for (name, v) in ours {
        fields.entry(name).or_insert(v);
    }
    serde_json::from_value(saved)
        .with_context(|| format!("{} is not a usable recipe", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        recipe: Recipe,
    }

    #[test]
    fn a_saved_recipe_is_the_start_and_given_options_win() {
        let dir = std::env::temp_dir().join(format!("dermlens-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut saved = Cli::parse_from(["x"]).recipe;
        saved.epochs = 3;
        saved.lr = 0.5;
        let file = dir.join("run.json");
        std::fs::write(&file, serde_json::json!({ "options": saved }).to_string()).unwrap();
        let cli = Cli::parse_from(["x", "--lr", "0.25", "--members", "5"]).recipe;
        let merged = merge_config(&file, &cli, &["lr".to_string()]).unwrap();
        assert_eq!(merged.epochs, 3, "from the file");
        assert_eq!(merged.lr, 0.25, "given on the command line");
        assert_eq!(merged.members, saved.members, "not marked as given: the file's");
        // An option given at its default still wins over the file's value,
        // the options left out of the saved form too.
        saved.distill_weight = 0.8;
        std::fs::write(&file, serde_json::json!({ "options": saved }).to_string()).unwrap();
        let cli = Cli::parse_from(["x", "--distill-weight", "0.5"]).recipe;
        let merged = merge_config(&file, &cli, &["distill_weight".to_string()]).unwrap();
        assert_eq!(merged.distill_weight, 0.5);
        assert_eq!(saved.differences(&cli, &["distill_weight".to_string()]).len(), 1);
        std::fs::write(&file, "[1, 2]").unwrap();
        assert!(merge_config(&file, &cli, &[]).is_err());
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn recipes_without_a_teacher_keep_their_earlier_form() {
        // The shipped run's recipe, as written before distillation existed:
        // its fingerprint (and so its lock and --resume) must not change.
        let plain = Cli::parse_from(["x"]).recipe;
        let text = serde_json::to_string(&plain).unwrap();
        assert!(!text.contains("teacher") && !text.contains("distill"), "{text}");
        let back: Recipe = serde_json::from_str(&text).unwrap();
        assert_eq!(back, plain);
        // Yet they are options by name, for --config, --resume and sweep's --grid.
        let fields = plain.fields().unwrap();
        assert_eq!(fields["teacher"], serde_json::Value::Null);
        assert_eq!(fields["distill_weight"], serde_json::json!(0.5));
        let back: Recipe = serde_json::from_value(serde_json::Value::Object(fields)).unwrap();
        assert_eq!(back, plain);
        let taught = Cli::parse_from(["x", "--teacher", "t", "--distill-weight", "0.7"]).recipe;
        let text = serde_json::to_string(&taught).unwrap();
        assert!(text.contains("\"teacher\":\"t\"") && text.contains("0.7"), "{text}");
        assert_ne!(taught.fingerprint(), plain.fingerprint());
        let wrong = Cli::parse_from(["x", "--distill-weight", "1.5"]).recipe;
        assert!(wrong.problems().iter().any(|p| p.contains("--distill-weight")));
    }
}
