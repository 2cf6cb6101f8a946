//! The training loop of one ensemble member through its stages: the head
//! on cached pooled features, then the top blocks and head on cached
//! activations. Every epoch ends with a validation pass and one atomic
//! checkpoint holding the progress, the metrics log, the current and best
//! weights and the optimizer state, so a killed run resumes exactly after
//! its last finished epoch. `best.bpk` and `log.csv` are written from it.

use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Tensor};
use model::classifier::Classifier;
use serde::{Deserialize, Serialize};

use super::cache::FeatureCache;
use super::loss::{LossConfig, loss};
use super::sampler::{self, Sampling};
use super::schedule::{Decay, learning_rate};
use crate::files::write_atomic;
use crate::metrics;
use crate::progress;
use crate::rng::Rng;
use crate::run_dir::MemberDir;
use crate::run_dir::log::{self, LogRow};
use crate::tensors::rows;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Head,
    Upper,
    Done,
}

#[derive(Debug, Clone)]
pub struct StageOptions {
    pub epochs: usize,
    pub learning_rate: f64,
    pub warmup_epochs: usize,
}

#[derive(Debug, Clone)]
pub struct FitOptions {
    pub head: StageOptions,
    pub upper: StageOptions,
    pub cut: usize,
    pub batch: usize,
    pub weight_decay: f32,
    pub decay: Decay,
    pub sampling: Sampling,
    pub keep: Vec<f32>,
    pub loss: LossConfig,
    /// Stop a stage after this many epochs without a better validation balanced accuracy.
    pub patience: usize,
}

/// What a member's folder records about its progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberState {
    pub seed: u64,
    pub stage: Stage,
    /// Epochs finished in the current stage.
    pub epoch: usize,
    pub best_balanced_accuracy: f64,
    pub best: Option<(Stage, usize)>,
    pub epochs_without_gain: usize,
    /// The metrics log, one row per finished epoch.
    pub log: Vec<LogRow>,
}

/// Logits of every sample's plain view (view 0), in sample order.
pub fn cached_logits(
    classifier: &Classifier,
    cache: &FeatureCache,
    stage: Stage,
    cut: usize,
    device: &Device,
) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(cache.len());
    let indices: Vec<usize> = (0..cache.len()).collect();
    for chunk in indices.chunks(64) {
        let picks: Vec<(usize, usize)> = chunk.iter().map(|&i| (i, 0)).collect();
        out.extend(rows(forward(classifier, cache, &picks, stage, cut, device))?);
    }
    Ok(out)
}

fn forward(
    classifier: &Classifier,
    cache: &FeatureCache,
    picks: &[(usize, usize)],
    stage: Stage,
    cut: usize,
    device: &Device,
) -> Tensor<2> {
    match stage {
        Stage::Head => classifier.classify_pooled(cache.pooled_batch(picks, device)),
        _ => classifier.classify_features(
            classifier.backbone.forward_upper(cache.lower_batch(picks, device), cut),
        ),
    }
}

fn softmax_rows(logits: &[Vec<f32>]) -> Vec<Vec<f32>> {
    logits.iter().map(|l| model::calibration::softmax(l, 1.0)).collect()
}

/// Everything a member's training needs to continue, written as one file.
struct Checkpoint {
    state: MemberState,
    last: Vec<u8>,
    best: Vec<u8>,
    optimizer: Vec<u8>,
}

const CHECKPOINT_MAGIC: &[u8; 8] = b"DLCKPT01";

impl Checkpoint {
    fn to_bytes(&self) -> Result<Vec<u8>> {
        let state = serde_json::to_vec(&self.state)?;
        let mut out = CHECKPOINT_MAGIC.to_vec();
        for part in [&state, &self.last, &self.best, &self.optimizer] {
            out.extend_from_slice(&(part.len() as u64).to_le_bytes());
            out.extend_from_slice(part);
        }
        Ok(out)
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let mut at = CHECKPOINT_MAGIC.len();
        if bytes.get(..at)? != CHECKPOINT_MAGIC {
            return None;
        }
        let mut parts = Vec::with_capacity(4);
        for _ in 0..4 {
            let len = u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?) as usize;
            at += 8;
            parts.push(bytes.get(at..at.checked_add(len)?)?.to_vec());
            at += len;
        }
        let optimizer = parts.pop()?;
        let best = parts.pop()?;
        let last = parts.pop()?;
        let state = serde_json::from_slice(&parts.pop()?).ok()?;
        Some(Self { state, last, best, optimizer })
    }

    /// Writes the checkpoint, then the files derived from it.
    fn save(&self, files: &MemberDir) -> Result<()> {
        write_atomic(&files.checkpoint(), &self.to_bytes()?)?;
        if !self.best.is_empty() {
            write_atomic(&files.best(), &self.best)?;
        }
        write_atomic(&files.log(), &log::to_csv(&self.state.log)?)
    }
}

/// Trains (or resumes) one member; `initial` is the starting network.
pub fn fit_member(
    files: &MemberDir,
    initial: Classifier,
    seed: u64,
    train: &FeatureCache,
    val: &FeatureCache,
    options: &FitOptions,
    device: &Device,
) -> Result<()> {
    std::fs::create_dir_all(&files.path)
        .with_context(|| format!("cannot create {}", files.path.display()))?;
    let autodiff = device.clone().autodiff();
    let mut checkpoint = match std::fs::read(files.checkpoint()) {
        Ok(bytes) => {
            let checkpoint = Checkpoint::from_bytes(&bytes)
                .with_context(|| format!("{} is damaged", files.checkpoint().display()))?;
            eprintln!(
                "{}: resuming at {:?} epoch {}",
                files.path.display(),
                checkpoint.state.stage,
                checkpoint.state.epoch + 1
            );
            checkpoint
        }
        Err(_) => Checkpoint {
            state: MemberState {
                seed,
                stage: Stage::Head,
                epoch: 0,
                best_balanced_accuracy: -1.0,
                best: None,
                epochs_without_gain: 0,
                log: Vec::new(),
            },
            last: model::burnpack::to_bytes(&initial)?,
            best: Vec::new(),
            optimizer: Vec::new(),
        },
    };
    // Rewrites best.bpk and log.csv in case a kill came between the checkpoint and them.
    checkpoint.save(files)?;
    let mut classifier = model::burnpack::load(initial, checkpoint.last.clone())
        .with_context(|| format!("{} does not fit this network", files.checkpoint().display()))?;
    let val_labels = val.labels.clone();
    let num_classes = classifier.num_classes();

    while checkpoint.state.stage != Stage::Done {
        let state = &mut checkpoint.state;
        let stage_options = if state.stage == Stage::Head { &options.head } else { &options.upper };
        if state.epoch >= stage_options.epochs || state.epochs_without_gain >= options.patience {
            // The next stage starts from the best network so far, with a fresh optimizer.
            state.stage = if state.stage == Stage::Head { Stage::Upper } else { Stage::Done };
            state.epoch = 0;
            state.epochs_without_gain = 0;
            if !checkpoint.best.is_empty() {
                checkpoint.last = checkpoint.best.clone();
                classifier = model::burnpack::load(classifier, checkpoint.last.clone())?;
            }
            checkpoint.optimizer.clear();
            checkpoint.save(files)?;
            continue;
        }
        let mut optimizer = AdamWConfig::new().with_weight_decay(options.weight_decay).init();
        if !checkpoint.optimizer.is_empty() {
            optimizer = optimizer
                .from_bytes(burn::tensor::Bytes::from_bytes_vec(checkpoint.optimizer.clone()))
                .map_err(|e| {
                    anyhow::anyhow!(
                        "the optimizer state in {} is damaged: {e:?}",
                        files.checkpoint().display()
                    )
                })?;
        }
        let mut trainable = classifier.fork(&autodiff).train();
        let epoch = state.epoch;
        let mut rng =
            Rng::new(seed.wrapping_mul(1_000_003) ^ ((state.stage as u64) << 40) ^ epoch as u64);
        let order =
            sampler::epoch(&train.labels, num_classes, options.sampling, &options.keep, &mut rng);
        let batches: Vec<&[usize]> = order.chunks(options.batch).filter(|b| b.len() > 1).collect();
        let steps_per_epoch = batches.len();
        let total_steps = stage_options.epochs * steps_per_epoch;
        let warmup = stage_options.warmup_epochs * steps_per_epoch;
        let bar = progress::bar(
            steps_per_epoch as u64,
            &format!("{:?} epoch {}", state.stage, epoch + 1),
        );
        let started = std::time::Instant::now();
        let mut loss_sum = 0.0;
        let mut lr = 0.0;
        for (b, batch) in batches.iter().enumerate() {
            let picks: Vec<(usize, usize)> =
                batch.iter().map(|&i| (i, rng.below(train.views))).collect();
            let labels: Vec<usize> = batch.iter().map(|&i| train.labels[i]).collect();
            let logits = forward(&trainable, train, &picks, state.stage, options.cut, &autodiff);
            let batch_loss = loss(logits, &labels, &options.loss);
            let value: f32 = batch_loss
                .clone()
                .into_data()
                .try_into_vec::<f32>()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?[0];
            if !value.is_finite() {
                bail!(
                    "the loss became {value} at {:?} epoch {} batch {}: lower the learning rate; \
                     the last good checkpoint is kept in {}",
                    state.stage,
                    epoch + 1,
                    b + 1,
                    files.path.display()
                );
            }
            loss_sum += f64::from(value);
            lr = learning_rate(
                stage_options.learning_rate,
                epoch * steps_per_epoch + b,
                total_steps,
                warmup,
                options.decay,
            );
            let grads = GradientsParams::from_grads(batch_loss.backward(), &trainable);
            trainable = optimizer.step(lr, trainable, grads);
            bar.inc(1);
        }
        bar.finish_and_clear();
        classifier = trainable.valid();

        let logits = cached_logits(&classifier, val, state.stage, options.cut, device)?;
        let m = metrics::compute(&softmax_rows(&logits), &val_labels, &vec![false; num_classes]);
        let seconds = started.elapsed().as_secs_f64();
        let train_loss = loss_sum / steps_per_epoch.max(1) as f64;
        eprintln!(
            "{}: {:?} epoch {}: train loss {train_loss:.4}, val loss {:.4}, val balanced accuracy {:.4} ({seconds:.0} s)",
            files.path.display(),
            state.stage,
            epoch + 1,
            m.nll,
            m.balanced_accuracy
        );
        let stage_name = if state.stage == Stage::Head { "head" } else { "upper" };
        state.log.push(LogRow {
            stage: stage_name.into(),
            epoch: epoch + 1,
            learning_rate: lr,
            train_loss,
            val_loss: m.nll,
            val_accuracy: m.accuracy,
            val_balanced_accuracy: m.balanced_accuracy,
            seconds,
        });
        state.epoch += 1;
        checkpoint.last = model::burnpack::to_bytes(&classifier)?;
        if m.balanced_accuracy > state.best_balanced_accuracy {
            state.best_balanced_accuracy = m.balanced_accuracy;
            state.best = Some((state.stage, state.epoch));
            state.epochs_without_gain = 0;
            checkpoint.best = checkpoint.last.clone();
        } else {
            state.epochs_without_gain += 1;
        }
        checkpoint.optimizer =
            optimizer.into_bytes().map_err(|e| anyhow::anyhow!("{e:?}"))?.to_vec();
        checkpoint.save(files)?;
    }
    Ok(())
}

/// Whether a member folder holds a finished member.
pub fn is_done(dir: &MemberDir) -> bool {
    std::fs::read(dir.checkpoint())
        .ok()
        .and_then(|b| Checkpoint::from_bytes(&b))
        .is_some_and(|c| c.state.stage == Stage::Done)
}
