//! `dermlens train`: staged transfer learning of an ensemble from the
//! ImageNet backbone, on a saved split.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use model::classes::LesionClass;
use model::classifier::Classifier;
use model::preprocess::Normalization;

use crate::context::Context;
use crate::data::split::{self, Part};
use crate::recipe::{ClassWeights, Recipe};
use crate::run_dir::{BURN_VERSION, Run, RunDir};
use crate::train::augment::Augment;
use crate::train::cache::{self, CacheSpec};
use crate::train::fit::{self, FitOptions, StageOptions};
use crate::train::loss::{LossConfig, inverse_frequency_weights};

/// Train an ensemble from the ImageNet backbone on a split: the head on
/// cached frozen features, then the top blocks.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub recipe: Recipe,
    /// Start from the recipe saved in this file (a run's run.json, or a
    /// recipe alone); options given on the command line win.
    #[arg(long, value_name = "JSON")]
    pub config: Option<PathBuf>,
    /// Run folder for caches, checkpoints and logs.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue the run in --out with its saved recipe, after its last finished epoch.
    #[arg(long)]
    pub resume: bool,
    /// The recipe options given on the command line (filled in by `main`).
    #[arg(skip)]
    pub given: Vec<String>,
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
    let serde_json::Value::Object(ours) = serde_json::to_value(cli)? else {
        bail!("internal: a recipe is an object")
    };
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

fn validate(recipe: &Recipe) -> Result<()> {
    if recipe.members == 0 || recipe.batch < 2 || recipe.views == 0 || recipe.patience == 0 {
        bail!("--members, --views and --patience must be at least 1 and --batch at least 2");
    }
    if !(recipe.min_scale > 0.0 && recipe.min_scale <= 1.0) {
        bail!("--min-scale must be in (0, 1]");
    }
    if recipe.cut > 16 {
        bail!("--cut must be between 0 and 16 (Lite0 has 16 blocks)");
    }
    Ok(())
}

pub fn run(args: Args, ctx: &Context) -> Result<()> {
    let dir = RunDir::new(&args.out);
    let recipe = if args.resume {
        let run = dir.load()?;
        eprintln!("resuming {} with its saved recipe", args.out.display());
        run.options
    } else {
        if dir.run_file().exists() {
            bail!(
                "{} already holds a training run: pass --resume to continue it, or choose another --out",
                args.out.display()
            );
        }
        let mut recipe = match &args.config {
            Some(file) => merge_config(file, &args.recipe, &args.given)?,
            None => args.recipe.clone(),
        };
        // Later commands may run from another folder.
        recipe.split = std::path::absolute(&recipe.split)?;
        recipe.backbone = std::path::absolute(&recipe.backbone)?;
        recipe
    };
    let started = std::time::Instant::now();
    validate(&recipe)?;
    let split = split::load(&recipe.split)?;
    let classes: Vec<LesionClass> =
        split.classes.iter().map(|c| LesionClass::from_code(c, None)).collect();
    let normalization = Normalization::LITE;
    let split_hash = model::bundle::sha256_hex(&std::fs::read(&recipe.split)?);
    let mut run = match dir.load() {
        Ok(run) if args.resume => {
            if run.split_sha256 != split_hash {
                bail!(
                    "{} changed since this run started: resuming on it could mix test images into training",
                    recipe.split.display()
                );
            }
            run
        }
        _ => Run {
            options: recipe.clone(),
            classes: classes.clone(),
            normalization,
            split_sha256: split_hash.clone(),
            seconds: Vec::new(),
            device: ctx.description.clone(),
            dermlens_version: env!("CARGO_PKG_VERSION").into(),
            burn_version: BURN_VERSION.into(),
        },
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    dir.save(&run)?;

    let device = &ctx.device;
    let initial = crate::backbone::initial_classifier(&recipe.backbone, classes.len(), device)?;
    let train_samples = split.part(Part::Train);
    let val_samples = split.part(Part::Val);

    // The cache key names everything its contents depend on.
    let backbone_hash = model::bundle::sha256_hex(&std::fs::read(&recipe.backbone)?);
    let key = |part: &str, views: usize| {
        format!(
            "{split_hash}:{backbone_hash}:{part}:cut{}:{}px:views{views}:aug{}/{}/{}:seed{}",
            recipe.cut,
            recipe.input,
            recipe.max_rotation,
            recipe.min_scale,
            recipe.colour_jitter,
            recipe.seed
        )
    };
    let spec = |views| CacheSpec {
        backbone: &initial.backbone,
        cut: recipe.cut,
        input: [recipe.input, recipe.input],
        normalization,
        views,
        augment: Augment {
            max_rotation: recipe.max_rotation,
            min_scale: recipe.min_scale,
            colour: recipe.colour_jitter,
        },
        seed: recipe.seed,
        device,
    };
    let cache_dir = dir.cache_dir();
    let train_cache = cache::load_or_build(
        &train_samples,
        &spec(recipe.views),
        &cache_dir.join("train.bin"),
        &key("train", recipe.views),
        "caching train",
    )?;
    let val_cache = cache::load_or_build(
        &val_samples,
        &spec(1),
        &cache_dir.join("val.bin"),
        &key("val", 1),
        "caching val",
    )?;

    let counts = crate::data::class_counts(&train_samples, classes.len());
    let class_weights = match recipe.class_weights {
        ClassWeights::None => vec![1.0; classes.len()],
        ClassWeights::Inverse => inverse_frequency_weights(&counts, 1.0),
        ClassWeights::Sqrt => inverse_frequency_weights(&counts, 0.5),
    };
    let mut keep = vec![1.0f32; classes.len()];
    for (class, share) in &recipe.downsample {
        let Some(c) = split.classes.iter().position(|x| x == class) else {
            bail!(
                "--downsample names '{class}', which is not a class of this split ({})",
                split.classes.join(", ")
            );
        };
        keep[c] = *share;
    }
    let fit_options = FitOptions {
        head: StageOptions {
            epochs: recipe.head_epochs,
            learning_rate: recipe.head_lr,
            warmup_epochs: 0,
        },
        upper: StageOptions {
            epochs: recipe.epochs,
            learning_rate: recipe.lr,
            warmup_epochs: recipe.warmup_epochs,
        },
        cut: recipe.cut,
        batch: recipe.batch,
        weight_decay: recipe.weight_decay,
        decay: recipe.decay,
        sampling: recipe.sampling,
        keep,
        loss: LossConfig {
            kind: recipe.loss,
            gamma: recipe.gamma,
            class_weights,
            label_smoothing: recipe.label_smoothing,
            melanoma_cost: recipe.melanoma_cost,
            melanoma: split.classes.iter().position(|c| c == "mel"),
            benign: classes.iter().map(|c| !c.malignant).collect(),
        },
        patience: recipe.patience,
    };
    for member in 0..recipe.members {
        let member_dir = dir.member(member);
        if fit::is_done(&member_dir) {
            eprintln!("member {member}: already trained");
            continue;
        }
        let member_started = std::time::Instant::now();
        // Each member starts from the same backbone with its own random head.
        let seed = recipe.seed.wrapping_mul(7919).wrapping_add(member as u64);
        device.seed(seed);
        let start = Classifier::with_backbone(initial.backbone.clone(), classes.len(), device);
        fit::fit_member(&member_dir, start, seed, &train_cache, &val_cache, &fit_options, device)?;
        run.seconds.resize(recipe.members, 0.0);
        run.seconds[member] += member_started.elapsed().as_secs_f64();
        dir.save(&run)?;
    }
    println!(
        "trained {} members on {}; run folder {} (session time {:.0} s)",
        recipe.members,
        ctx.description,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
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
        std::fs::write(&file, "[1, 2]").unwrap();
        assert!(merge_config(&file, &cli, &[]).is_err());
        std::fs::remove_dir_all(dir).ok();
    }
}
