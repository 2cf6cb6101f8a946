//! `dermlens train`: an ensemble fine-tuned from the ImageNet backbone on a
//! saved split: per member, the head on the frozen backbone's features,
//! then the whole network on views drawn afresh every epoch.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use burn::tensor::Device;
use model::classes::LesionClass;
use model::classifier::Classifier;
use model::preprocess::Normalization;

use crate::context::Context;
use crate::data::split::{self, Part};
use crate::recipe::{ClassWeights, Recipe};
use crate::run_dir::lock::{LOCK_FILE, RunLock};
use crate::run_dir::{BURN_VERSION, Run, RunDir};
use crate::train::fit::{self, FitOptions, MemberData};
use crate::train::loss::{LossConfig, inverse_frequency_weights, logit_offsets};
use crate::train::{checkpoint, features, images, sampler};

/// Train an ensemble from the ImageNet backbone on a split: per member, the
/// head on the frozen backbone's features, then the whole network.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub recipe: Recipe,
    /// Start from the recipe saved in this file (a run's run.json, or a
    /// recipe alone); options given on the command line win.
    #[arg(long, value_name = "JSON")]
    pub config: Option<PathBuf>,
    /// Run folder for checkpoints and logs.
    #[arg(long)]
    pub out: PathBuf,
    /// Folder for the frozen backbone's features, which runs on the same
    /// split and backbone can share (default: the run folder's cache/).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
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

pub fn run(args: Args, ctx: &Context) -> Result<()> {
    let dir = RunDir::new(&args.out);
    let mut given = args.recipe.clone();
    // Later commands may run from another folder.
    given.split = std::path::absolute(&given.split)?;
    given.backbone = std::path::absolute(&given.backbone)?;
    let recipe = if args.resume {
        if args.config.is_some() {
            bail!("--config starts a new run; --resume continues one with its own recipe");
        }
        let run = dir.load()?;
        // Continuing with other options would silently ignore them, or mix
        // two recipes in one run.
        let changed = run.options.differences(&given, &args.given);
        if !changed.is_empty() {
            bail!(
                "{} was started with another recipe: {}; resume without these options, or train afresh into another --out",
                args.out.display(),
                changed.join(", ")
            );
        }
        eprintln!("resuming {} with its saved recipe", args.out.display());
        run.options
    } else {
        let mut recipe = match &args.config {
            Some(file) => merge_config(file, &given, &args.given)?,
            None => given,
        };
        recipe.split = std::path::absolute(&recipe.split)?;
        recipe.backbone = std::path::absolute(&recipe.backbone)?;
        recipe
    };
    train(&recipe, &dir, args.resume, args.cache_dir.as_deref(), ctx)
}

/// What a fresh run's folder may already hold: nothing of another run.
fn check_empty(dir: &Path, except: &str) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    let mut found: Vec<String> = entries
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|name| name != except)
        .collect();
    if found.is_empty() {
        return Ok(());
    }
    found.sort();
    found.truncate(3);
    bail!(
        "{} already holds files ({}): pass --resume to continue the run in it, or choose a new or empty --out",
        dir.display(),
        found.join(", ")
    )
}

/// What a run starts from: the split, its classes, and the backbone.
struct Inputs {
    split: split::Split,
    classes: Vec<LesionClass>,
    split_hash: String,
    backbone_hash: String,
    initial: Classifier,
}

impl Inputs {
    fn read(recipe: &Recipe, ctx: &Context) -> Result<Self> {
        let split = split::load(&recipe.split)?;
        crate::data::duplicates::check_disjoint(&split)?;
        let classes: Vec<LesionClass> =
            split.classes.iter().map(|c| LesionClass::from_code(c, None)).collect();
        let hash = |path: &Path, what: &str| -> Result<String> {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read {what}{}", path.display()))?;
            Ok(model::bundle::sha256_hex(&bytes))
        };
        let split_hash = hash(&recipe.split, "")?;
        let backbone_hash = hash(&recipe.backbone, "the backbone ")?;
        let initial =
            crate::backbone::initial_classifier(&recipe.backbone, classes.len(), &ctx.device)?;
        Ok(Self { split, classes, split_hash, backbone_hash, initial })
    }
}

/// Makes `dir` this run's and locks it: a fresh run needs an empty folder
/// (checked again once locked, as another run may have started there).
fn claim(dir: &RunDir, recipe: &Recipe, resume: bool) -> Result<RunLock> {
    if !resume {
        check_empty(&dir.path, LOCK_FILE)?;
    }
    std::fs::create_dir_all(&dir.path)
        .with_context(|| format!("cannot create {}", dir.path.display()))?;
    let lock = RunLock::acquire(&dir.path, &recipe.fingerprint())?;
    if !resume {
        check_empty(&dir.path, LOCK_FILE)?;
    }
    Ok(lock)
}

/// The run's description: the saved one when resuming (on the same split
/// only), else a new one.
fn describe_run(
    dir: &RunDir,
    recipe: &Recipe,
    resume: bool,
    inputs: &Inputs,
    ctx: &Context,
) -> Result<Run> {
    if resume && let Ok(run) = dir.load() {
        if run.split_sha256 != inputs.split_hash {
            bail!(
                "{} changed since this run started: resuming on it could mix test images into training",
                recipe.split.display()
            );
        }
        return Ok(run);
    }
    Ok(Run {
        options: recipe.clone(),
        classes: inputs.classes.clone(),
        normalization: Normalization::LITE,
        split_sha256: inputs.split_hash.clone(),
        seconds: Vec::new(),
        device: ctx.description.clone(),
        dermlens_version: env!("CARGO_PKG_VERSION").into(),
        burn_version: BURN_VERSION.into(),
    })
}

/// The loss every member trains with: class weights and logit adjustment
/// from the train part's counts.
fn loss_config(recipe: &Recipe, train: &[crate::data::Sample], classes: usize) -> LossConfig {
    let counts = crate::data::class_counts(train, classes);
    let class_weights = match recipe.class_weights {
        ClassWeights::None => vec![1.0; classes],
        ClassWeights::Inverse => inverse_frequency_weights(&counts, 1.0),
        ClassWeights::Sqrt => inverse_frequency_weights(&counts, 0.5),
    };
    let shares = sampler::class_shares(&counts, recipe.sampling);
    LossConfig {
        class_weights,
        label_smoothing: recipe.label_smoothing,
        logit_offsets: logit_offsets(&shares, recipe.logit_adjust),
    }
}

/// What every member shares: the inputs, the photos decoded once, the loss
/// and where the frozen features are cached.
struct Shared {
    inputs: Inputs,
    train: images::Photos,
    val: images::Photos,
    loss: LossConfig,
    cache: PathBuf,
}

/// Trains member `member`.
fn train_member(
    member: usize,
    dir: &RunDir,
    run: &Run,
    shared: &Shared,
    device: &Device,
) -> Result<()> {
    let (recipe, inputs, cache) = (&run.options, &shared.inputs, &shared.cache);
    let preparation = run.preparation();
    let input = recipe.input(member);
    let key = |part: &str| {
        cache.join(features::cache_name(
            part,
            &[
                &inputs.split_hash,
                &inputs.backbone_hash,
                &input.to_string(),
                &format!("{preparation:?}"),
            ],
        ))
    };
    let backbone = &inputs.initial.backbone;
    let train_features = features::load_or_compute(
        backbone,
        &shared.train,
        input,
        &preparation,
        &key("train"),
        device,
    )?;
    let val_features =
        features::load_or_compute(backbone, &shared.val, input, &preparation, &key("val"), device)?;
    let options = FitOptions::of(recipe, input, shared.loss.clone(), run.normalization);
    // Each member starts from the same backbone with its own random head.
    let seed = recipe.member_seed(member);
    device.seed(seed);
    let start = model::burnpack::with_stable_ids(Classifier::with_backbone(
        backbone.clone(),
        inputs.classes.len(),
        device,
    ));
    let data = MemberData {
        train: &shared.train,
        val: &shared.val,
        train_features: &train_features,
        val_features: &val_features,
    };
    fit::fit_member(&dir.member(member), start, seed, &data, &options, device)
}

/// Trains (or resumes) `recipe` in `dir`.
pub fn train(
    recipe: &Recipe,
    dir: &RunDir,
    resume: bool,
    cache_dir: Option<&Path>,
    ctx: &Context,
) -> Result<()> {
    let problems = recipe.problems();
    if !problems.is_empty() {
        bail!("{}", problems.join("; "));
    }
    let started = std::time::Instant::now();
    let inputs = Inputs::read(recipe, ctx)?;
    let _lock = claim(dir, recipe, resume)?;
    let mut run = describe_run(dir, recipe, resume, &inputs, ctx)?;
    dir.save(&run)?;

    let preparation = run.preparation();
    let train_samples = inputs.split.part(Part::Train);
    let largest = recipe.inputs.iter().copied().max().unwrap_or(224);
    // No view needs more than half again the largest input along the shorter side.
    let keep = largest + largest / 2;
    let shared = Shared {
        train: images::load(&train_samples, keep, &preparation, "reading train")?,
        val: images::load(&inputs.split.part(Part::Val), keep, &preparation, "reading val")?,
        loss: loss_config(recipe, &train_samples, inputs.classes.len()),
        cache: cache_dir.map(Path::to_path_buf).unwrap_or_else(|| dir.cache_dir()),
        inputs,
    };
    for member in 0..recipe.members {
        if checkpoint::is_done(&dir.member(member)) {
            eprintln!("member {member}: already trained");
            continue;
        }
        let member_started = std::time::Instant::now();
        train_member(member, dir, &run, &shared, &ctx.device)?;
        run.seconds.resize(recipe.members, 0.0);
        run.seconds[member] += member_started.elapsed().as_secs_f64();
        dir.save(&run)?;
    }
    println!(
        "trained {} members on {}; run folder {} (session time {:.0} s)",
        recipe.members,
        ctx.description,
        dir.path.display(),
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
