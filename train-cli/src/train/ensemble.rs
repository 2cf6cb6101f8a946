//! Training a run: its inputs read and checked, its folder claimed and
//! locked, the photos decoded once, then each member trained (or skipped
//! when done) with the loss every member shares. `dermlens train` and
//! `dermlens sweep` both call [`train`].

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use burn::tensor::Device;
use model::classes::LesionClass;
use model::classifier::Classifier;
use model::efficientnet::Variant;
use model::preprocess::{Normalization, Preparation};

use super::fit::{self, FitOptions, MemberData};
use super::loss::{LossConfig, inverse_frequency_weights, logit_offsets};
use super::teacher::{Student, Teacher};
use super::{checkpoint, features, images, sampler};
use crate::context::Context;
use crate::data::split::{self, Part};
use crate::recipe::{ClassWeights, Recipe};
use crate::run_dir::lock::{LOCK_FILE, RunLock};
use crate::run_dir::{BURN_VERSION, Run, RunDir};

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

/// One backbone file a run starts members from.
struct Backbone {
    path: PathBuf,
    hash: String,
    variant: Variant,
    initial: Classifier,
}

/// What a run starts from: the split, its classes, and the backbones.
struct Inputs {
    split: split::Split,
    classes: Vec<LesionClass>,
    split_hash: String,
    backbones: Vec<Backbone>,
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
        let mut backbones: Vec<Backbone> = Vec::new();
        for path in &recipe.backbone {
            if backbones.iter().any(|b| &b.path == path) {
                continue;
            }
            let hash = hash(path, "the backbone ")?;
            let (variant, initial) =
                crate::backbone::initial_classifier(path, classes.len(), &ctx.device)?;
            backbones.push(Backbone { path: path.clone(), hash, variant, initial });
        }
        Ok(Self { split, classes, split_hash, backbones })
    }

    /// Member `m`'s backbone.
    fn backbone(&self, recipe: &Recipe, m: usize) -> Result<&Backbone> {
        let path = recipe.backbone(m);
        self.backbones
            .iter()
            .find(|b| b.path == path)
            .with_context(|| format!("internal: backbone {} was not read", path.display()))
    }

    /// Each member's backbone variant.
    fn variants(&self, recipe: &Recipe) -> Result<Vec<Variant>> {
        (0..recipe.members).map(|m| Ok(self.backbone(recipe, m)?.variant)).collect()
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
        variants: inputs.variants(recipe)?,
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
    teacher: Option<Teacher>,
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
    let chosen = inputs.backbone(recipe, member)?;
    let key = |part: &str| {
        cache.join(features::cache_name(
            part,
            &[&inputs.split_hash, &chosen.hash, &input.to_string(), &format!("{preparation:?}")],
        ))
    };
    let backbone = &chosen.initial.backbone;
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
        teacher: shared.teacher.as_ref(),
    };
    fit::fit_member(&dir.member(member), start, seed, &data, &options, device)
}

/// Distillation's teacher, when the recipe names one.
fn load_teacher(
    recipe: &Recipe,
    inputs: &Inputs,
    preparation: Preparation,
    ctx: &Context,
) -> Result<Option<Teacher>> {
    let Some(path) = &recipe.teacher else { return Ok(None) };
    let student =
        Student { split_sha256: &inputs.split_hash, preparation, classes: &inputs.classes };
    let teacher = Teacher::load(
        path,
        &student,
        recipe.distill_weight,
        recipe.distill_temperature,
        &ctx.device,
    )?;
    eprintln!("teacher: {} members of {}", teacher.members(), path.display());
    Ok(Some(teacher))
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
    let preparation = run.preparation();
    // Checked before the run folder gets its description: a refused
    // teacher leaves the folder as it was.
    let teacher = load_teacher(&run.options, &inputs, preparation, ctx)?;
    dir.save(&run)?;

    let train_samples = inputs.split.part(Part::Train);
    let largest = recipe.inputs.iter().copied().max().unwrap_or(224);
    // No view needs more than half again the largest input along the shorter side.
    let keep = largest + largest / 2;
    let shared = Shared {
        teacher,
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
