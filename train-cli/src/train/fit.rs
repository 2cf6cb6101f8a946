//! The training of one ensemble member: the head on the frozen backbone's
//! cached features (a warm start that costs seconds), then the whole
//! network on views drawn afresh every epoch, with a moving average of the
//! weights. Every epoch ends with a validation pass and one checkpoint, so
//! a killed run resumes exactly after its last finished epoch; the member's
//! weights (the average) are written when it is done.

use anyhow::{Context, Result, bail};
use burn::module::{Module, ParamGroup};
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use model::classifier::Classifier;
use model::preprocess::{self, Normalization, Preparation};
use rayon::prelude::*;

use super::augment::Augment;
use super::checkpoint::{Checkpoint, MemberState, Stage};
use super::ema::Ema;
use super::features::Pooled;
use super::images::Photos;
use super::loss::{LossConfig, distillation, loss};
use super::sampler::{self, Sampling};
use super::schedule::learning_rate;
use super::teacher::Teacher;
use crate::metrics;
use crate::progress;
use crate::recipe::Recipe;
use crate::rng::Rng;
use crate::run_dir::MemberDir;
use crate::run_dir::log::LogRow;
use crate::tensors::rows;

#[derive(Debug, Clone)]
pub struct StageOptions {
    pub epochs: usize,
    pub learning_rate: f64,
    pub warmup_epochs: usize,
}

#[derive(Debug, Clone)]
pub struct FitOptions {
    pub head: StageOptions,
    pub full: StageOptions,
    pub batch: usize,
    pub weight_decay: f32,
    pub freeze_stem: bool,
    /// Decay of the weight average per step; 0 keeps the last weights.
    pub ema: f64,
    /// Draws per epoch (0: the train part's size).
    pub epoch_images: usize,
    pub sampling: Sampling,
    pub loss: LossConfig,
    pub augment: Augment,
    /// Views per photo drawn once and reused (0: afresh every epoch).
    pub fixed_views: usize,
    /// Network input side.
    pub input: u32,
    pub normalization: Normalization,
}

impl FitOptions {
    /// The trainer's options for a member of `recipe` with input side `input`.
    pub fn of(recipe: &Recipe, input: u32, loss: LossConfig, normalization: Normalization) -> Self {
        Self {
            head: StageOptions {
                epochs: recipe.head_epochs,
                learning_rate: recipe.head_lr,
                warmup_epochs: 0,
            },
            full: StageOptions {
                epochs: recipe.epochs,
                learning_rate: recipe.lr,
                warmup_epochs: recipe.warmup_epochs,
            },
            batch: recipe.batch,
            weight_decay: recipe.weight_decay,
            freeze_stem: recipe.freeze_stem,
            ema: recipe.ema,
            epoch_images: recipe.epoch_images,
            sampling: recipe.sampling,
            loss,
            augment: Augment {
                geometry: recipe.geometry.into(),
                min_area: recipe.min_area,
                max_aspect: recipe.max_aspect,
                rotate: recipe.rotate,
                colour: recipe.colour_jitter,
                hue: recipe.hue,
                phone: recipe.phone,
                phone_strength: recipe.phone_strength,
                colour_constancy: recipe.colour_constancy,
            },
            fixed_views: recipe.fixed_views,
            input,
            normalization,
        }
    }
}

/// What a member trains and validates on.
pub struct MemberData<'a> {
    pub train: &'a Photos,
    pub val: &'a Photos,
    /// Frozen ImageNet features of the same photos, for the head stage.
    pub train_features: &'a Pooled,
    pub val_features: &'a Pooled,
    /// Distillation's teacher, if the recipe names one.
    pub teacher: Option<&'a Teacher>,
}

/// The optimizer: AdamW, with no weight decay on BatchNorm parameters and
/// biases (decaying a scale or shift towards 0 is no regulariser).
fn optimizer(weight_decay: f32) -> Result<ModuleOptimizer> {
    let free = ParamGroup::from_regex(r"(^|\.)bn[0-9]*\.(gamma|beta)$|(^|\.)bias$")
        .map_err(|e| anyhow::anyhow!("internal: {e:?}"))?;
    Ok(AdamWConfig::new().with_weight_decay(weight_decay).init().with_group(
        free,
        AdamWConfig::new().with_weight_decay(0.0).build(),
        None,
    ))
}

/// The network with the stem frozen, if asked.
fn trainable(classifier: Classifier, device: &Device, freeze_stem: bool) -> Classifier {
    let mut model = classifier.fork(device).train();
    if freeze_stem {
        model.backbone.conv_stem = model.backbone.conv_stem.no_grad();
        model.backbone.bn0 = model.backbone.bn0.no_grad();
    }
    model
}

/// Validation figures of `classifier` on the plain views of `photos`.
fn validate(
    classifier: &Classifier,
    photos: &Photos,
    options: &FitOptions,
    device: &Device,
) -> Result<metrics::Metrics> {
    let plain = Preparation {
        geometry: options.augment.geometry,
        normalization: options.normalization,
        colour_constancy: false,
    };
    let size = options.input;
    let mut probabilities = Vec::with_capacity(photos.len());
    for chunk in photos.images.chunks(64) {
        let inputs: Vec<Vec<f32>> =
            chunk.par_iter().map(|p| plain.input(p, [size, size])).collect();
        let batch = preprocess::batch(&inputs, [size as usize, size as usize], device);
        for row in rows(classifier.forward(batch))? {
            probabilities.push(model::calibration::softmax(&row, 1.0));
        }
    }
    let malignant = vec![false; classifier.num_classes()];
    Ok(metrics::compute(&probabilities, &photos.labels, &malignant))
}

/// Validation figures of the head on cached features.
fn validate_head(
    classifier: &Classifier,
    features: &Pooled,
    labels: &[usize],
    device: &Device,
) -> Result<metrics::Metrics> {
    let all: Vec<usize> = (0..features.len()).collect();
    let mut probabilities = Vec::with_capacity(all.len());
    for chunk in all.chunks(512) {
        for row in rows(classifier.classify_pooled(features.batch(chunk, device)))? {
            probabilities.push(model::calibration::softmax(&row, 1.0));
        }
    }
    Ok(metrics::compute(&probabilities, labels, &vec![false; classifier.num_classes()]))
}

/// The optimizer and weight average a checkpoint holds (fresh ones at the
/// start of a stage).
fn resume_state(
    checkpoint: &Checkpoint,
    options: &FitOptions,
    dir: &MemberDir,
) -> Result<(ModuleOptimizer, Option<Ema>)> {
    let mut optimizer = optimizer(options.weight_decay)?;
    if !checkpoint.optimizer.is_empty() {
        optimizer = optimizer
            .from_bytes(burn::tensor::Bytes::from_bytes_vec(checkpoint.optimizer.clone()))
            .map_err(|e| {
                anyhow::anyhow!(
                    "the optimizer state in {} is damaged: {e:?}",
                    dir.checkpoint().display()
                )
            })?;
    }
    let average = if checkpoint.average.is_empty() {
        None
    } else {
        Some(Ema::from_bytes(&checkpoint.average)?)
    };
    Ok((optimizer, average))
}

/// The seed of everything random in one epoch of one stage.
fn epoch_seed(seed: u64, stage: Stage, epoch: usize) -> u64 {
    seed.wrapping_mul(1_000_003) ^ ((stage as u64) << 40) ^ epoch as u64
}

/// Trains (or resumes) one member from `initial`; its weights go to `dir`.
pub fn fit_member(
    dir: &MemberDir,
    initial: Classifier,
    seed: u64,
    data: &MemberData,
    options: &FitOptions,
    device: &Device,
) -> Result<()> {
    std::fs::create_dir_all(&dir.path)
        .with_context(|| format!("cannot create {}", dir.path.display()))?;
    let autodiff = device.clone().autodiff();
    let num_classes = initial.num_classes();
    let (mut checkpoint, mut classifier) = start(dir, initial, seed)?;

    // The optimizer and the weight average stay in memory from one epoch to
    // the next; the checkpoint's copies serve a resumed run.
    let mut live: Option<(ModuleOptimizer, Option<Ema>)> = None;
    while checkpoint.state.stage != Stage::Done {
        let stage = checkpoint.state.stage;
        let stage_options = if stage == Stage::Head { &options.head } else { &options.full };
        if checkpoint.state.epoch >= stage_options.epochs {
            advance_stage(&mut checkpoint, &classifier, options, dir, device)?;
            live = None;
            continue;
        }
        let epoch = checkpoint.state.epoch;
        let mut rng = Rng::new(epoch_seed(seed, stage, epoch));
        // burn's own generator (dropout) restarts with each epoch too: a
        // resumed run draws what an uninterrupted one would.
        autodiff.seed(epoch_seed(seed, stage, epoch));
        let order = sampler::epoch(
            &data.train.labels,
            num_classes,
            options.sampling,
            options.epoch_images,
            &mut rng,
        );
        let batches: Vec<&[usize]> = order.chunks(options.batch).filter(|b| b.len() > 1).collect();
        let steps = batches.len();
        let total_steps = stage_options.epochs * steps;
        let warmup = stage_options.warmup_epochs * steps;
        let (mut optimizer, mut average) = match live.take() {
            Some(state) => state,
            None => resume_state(&checkpoint, options, dir)?,
        };
        let mut model =
            trainable(classifier, &autodiff, options.freeze_stem && stage == Stage::Full);
        let bar = progress::bar(steps as u64, &format!("{stage:?} epoch {}", epoch + 1));
        let started = std::time::Instant::now();
        let (mut loss_sum, mut lr) = (0.0, 0.0);
        for (b, batch) in batches.iter().enumerate() {
            let step = Step { stage, seed, epoch, index: b };
            let batch_loss = step_loss(&model, batch, data, options, &step, [device, &autodiff])?;
            let value = finite_loss(&batch_loss, stage, epoch, b, dir)?;
            loss_sum += f64::from(value);
            lr = learning_rate(stage_options.learning_rate, epoch * steps + b, total_steps, warmup);
            let grads = GradientsParams::from_grads(batch_loss.backward(), &model);
            model = optimizer.step(lr, model, grads);
            if let Some(average) = &mut average {
                average.update(&model.valid())?;
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        classifier = model.valid();
        let judged = match (&average, stage) {
            (Some(average), Stage::Full) => average.classifier(&classifier, device)?,
            _ => classifier.clone(),
        };
        let m = match stage {
            Stage::Head => validate_head(&judged, data.val_features, &data.val.labels, device)?,
            _ => validate(&judged, data.val, options, device)?,
        };
        let seconds = started.elapsed().as_secs_f64();
        let train_loss = loss_sum / steps.max(1) as f64;
        record(
            dir,
            &mut checkpoint.state,
            LogRow {
                stage: if stage == Stage::Head { "head" } else { "full" }.into(),
                epoch: epoch + 1,
                learning_rate: lr,
                train_loss,
                val_loss: m.nll,
                val_accuracy: m.accuracy,
                val_balanced_accuracy: m.balanced_accuracy,
                seconds,
            },
        );
        checkpoint.weights = model::burnpack::to_bytes(&classifier)?;
        checkpoint.average = average.as_ref().map(Ema::to_bytes).unwrap_or_default();
        checkpoint.optimizer =
            optimizer.into_bytes().map_err(|e| anyhow::anyhow!("{e:?}"))?.to_vec();
        checkpoint.save(dir)?;
        // Kept for the next epoch: burn loads an optimizer's state onto its
        // default device (wgpu where compiled in, even for a CPU run), so
        // reloading it every epoch started a GPU driver in CPU runs.
        live = Some((optimizer, average));
    }
    Ok(())
}

/// Where the member stands: its saved checkpoint (a resumed run), or the
/// start of its head stage.
fn start(dir: &MemberDir, initial: Classifier, seed: u64) -> Result<(Checkpoint, Classifier)> {
    let checkpoint = match Checkpoint::load(dir)? {
        Some(checkpoint) => {
            let s = &checkpoint.state;
            eprintln!("{}: resuming at {:?} epoch {}", dir.path.display(), s.stage, s.epoch + 1);
            checkpoint
        }
        None => Checkpoint {
            state: MemberState { seed, stage: Stage::Head, epoch: 0, log: Vec::new() },
            weights: model::burnpack::to_bytes(&initial)?,
            average: Vec::new(),
            optimizer: Vec::new(),
        },
    };
    let classifier = model::burnpack::load(initial, checkpoint.weights.clone())
        .with_context(|| format!("{} does not fit this network", dir.checkpoint().display()))?;
    Ok((checkpoint, classifier))
}

/// Ends a stage: the next starts where this one ended, with a fresh
/// optimizer; after the last, the member's kept weights are written.
fn advance_stage(
    checkpoint: &mut Checkpoint,
    classifier: &Classifier,
    options: &FitOptions,
    dir: &MemberDir,
    device: &Device,
) -> Result<()> {
    let stage = checkpoint.state.stage;
    checkpoint.state.stage = if stage == Stage::Head { Stage::Full } else { Stage::Done };
    checkpoint.state.epoch = 0;
    checkpoint.optimizer.clear();
    if checkpoint.state.stage == Stage::Full && options.ema > 0.0 {
        checkpoint.average = Ema::new(options.ema, classifier).to_bytes();
    }
    if checkpoint.state.stage == Stage::Done {
        let kept = if checkpoint.average.is_empty() {
            classifier.clone()
        } else {
            Ema::from_bytes(&checkpoint.average)?.classifier(classifier, device)?
        };
        dir.save_weights(&model::burnpack::to_bytes(&kept)?)?;
    }
    checkpoint.save(dir)
}

/// The batch's loss as a number; a loss that is not finite stops training.
fn finite_loss(
    batch_loss: &Tensor<1>,
    stage: Stage,
    epoch: usize,
    batch: usize,
    dir: &MemberDir,
) -> Result<f32> {
    let value = crate::tensors::values(batch_loss.clone())?.first().copied().unwrap_or(f32::NAN);
    if !value.is_finite() {
        bail!(
            "the loss became {value} at {stage:?} epoch {} batch {}: lower the learning rate; \
             the last good checkpoint is kept in {}",
            epoch + 1,
            batch + 1,
            dir.path.display()
        );
    }
    Ok(value)
}

/// Logs a finished epoch (on stderr and in the member's state) and moves on.
fn record(dir: &MemberDir, state: &mut MemberState, row: LogRow) {
    eprintln!(
        "{}: {} epoch {}: train loss {:.4}, val loss {:.4}, val balanced accuracy {:.4} ({:.0} s)",
        dir.path.display(),
        if row.stage == "head" { "Head" } else { "Full" },
        row.epoch,
        row.train_loss,
        row.val_loss,
        row.val_balanced_accuracy,
        row.seconds
    );
    state.log.push(row);
    state.epoch += 1;
}

/// Where a training step stands.
struct Step {
    stage: Stage,
    seed: u64,
    epoch: usize,
    index: usize,
}

/// The loss of one batch (`model` on `autodiff`, the teacher on `device`): on the cached
/// features in the head stage, else on fresh augmented views, with the
/// teacher's soft targets on the same views blended in when there is one.
fn step_loss(
    model: &Classifier,
    batch: &[usize],
    data: &MemberData,
    options: &FitOptions,
    step: &Step,
    [device, autodiff]: [&Device; 2],
) -> Result<Tensor<1>> {
    let labels: Vec<usize> = batch.iter().map(|&i| data.train.labels[i]).collect();
    if step.stage == Stage::Head {
        let logits = model.classify_pooled(data.train_features.batch(batch, autodiff));
        return Ok(loss(logits, &labels, &options.loss));
    }
    let inputs = views(data.train, batch, options, step);
    let size = [options.input as usize, options.input as usize];
    let logits = model.forward(preprocess::batch(&inputs, size, autodiff));
    let Some(teacher) = data.teacher else { return Ok(loss(logits, &labels, &options.loss)) };
    let soft = teacher.soft_targets(preprocess::batch(&inputs, size, device))?;
    let taught = distillation(logits.clone(), &soft, teacher.temperature);
    Ok(loss(logits, &labels, &options.loss) * (1.0 - teacher.weight) + taught * teacher.weight)
}

/// The augmented views of one batch. Each photo's view has its own
/// generator: fresh per (epoch, position), or one of `fixed_views` per photo.
fn views(photos: &Photos, batch: &[usize], options: &FitOptions, step: &Step) -> Vec<Vec<f32>> {
    let (seed, epoch, step) = (step.seed, step.epoch, step.index);
    let size = options.input;
    batch
        .par_iter()
        .enumerate()
        .map(|(k, &i)| {
            let mut rng = if options.fixed_views > 0 {
                let view = Rng::new(seed ^ ((epoch as u64) << 32) ^ ((step * 4096 + k) as u64))
                    .below(options.fixed_views);
                Rng::new(seed ^ ((i as u64) << 20) ^ view as u64 ^ 0xF1CE)
            } else {
                Rng::new(seed ^ ((epoch as u64) << 40) ^ ((step as u64) << 16) ^ k as u64)
            };
            options.augment.view(&photos.images[i], size, &options.normalization, &mut rng)
        })
        .collect()
}
