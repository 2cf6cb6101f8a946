//! The training loop of one ensemble member through its stages: the head
//! on cached pooled features, then the top blocks and head on cached
//! activations. Every epoch ends with a validation pass, a line in the
//! metrics log and an atomic checkpoint, so a killed run resumes where its
//! last finished epoch left it.

use std::path::{Path, PathBuf};

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
}

pub struct MemberFiles {
    pub dir: PathBuf,
}

impl MemberFiles {
    pub fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    pub fn last(&self) -> PathBuf {
        self.dir.join("last.bpk")
    }
    pub fn optimizer(&self) -> PathBuf {
        self.dir.join("optimizer.bin")
    }
    pub fn best(&self) -> PathBuf {
        self.dir.join("best.bpk")
    }
    pub fn log(&self) -> PathBuf {
        self.dir.join("log.csv")
    }
}

const LOG_HEADER: &str = "stage,epoch,learning_rate,train_loss,val_loss,val_accuracy,val_balanced_accuracy,seconds\n";

/// Logits of every sample's plain view (view 0), in sample order.
pub fn cached_logits(classifier: &Classifier, cache: &FeatureCache, stage: Stage, cut: usize) -> Result<Vec<Vec<f32>>> {
    let device = Device::flex();
    let mut out = Vec::with_capacity(cache.len());
    let indices: Vec<usize> = (0..cache.len()).collect();
    for chunk in indices.chunks(64) {
        let picks: Vec<(usize, usize)> = chunk.iter().map(|&i| (i, 0)).collect();
        let logits = forward(classifier, cache, &picks, stage, cut, &device);
        let [n, k] = logits.dims();
        let values: Vec<f32> = logits.into_data().try_into_vec().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        out.extend((0..n).map(|r| values[r * k..(r + 1) * k].to_vec()));
    }
    Ok(out)
}

fn forward(classifier: &Classifier, cache: &FeatureCache, picks: &[(usize, usize)], stage: Stage, cut: usize, device: &Device) -> Tensor<2> {
    match stage {
        Stage::Head => classifier.classify_pooled(cache.pooled_batch(picks, device)),
        _ => classifier.classify_features(classifier.backbone.forward_upper(cache.lower_batch(picks, device), cut)),
    }
}

fn softmax_rows(logits: &[Vec<f32>]) -> Vec<Vec<f32>> {
    logits.iter().map(|l| model::calibration::softmax(l, 1.0)).collect()
}

/// Trains (or resumes) one member; `initial` is the starting network.
pub fn fit_member(
    files: &MemberFiles,
    initial: Classifier,
    seed: u64,
    train: &FeatureCache,
    val: &FeatureCache,
    options: &FitOptions,
) -> Result<()> {
    std::fs::create_dir_all(&files.dir).with_context(|| format!("cannot create {}", files.dir.display()))?;
    let plain = Device::flex();
    let autodiff = plain.clone().autodiff();
    let (mut state, mut classifier) = match std::fs::read(files.state()) {
        Ok(bytes) => {
            let state: MemberState =
                serde_json::from_slice(&bytes).with_context(|| format!("{} is damaged", files.state().display()))?;
            let weights = std::fs::read(files.last()).with_context(|| format!("cannot read {}", files.last().display()))?;
            let classifier = model::weights::load(initial, weights)
                .with_context(|| format!("{} does not fit this network", files.last().display()))?;
            eprintln!("{}: resuming at {:?} epoch {}", files.dir.display(), state.stage, state.epoch + 1);
            (state, classifier)
        }
        Err(_) => {
            write_atomic(&files.log(), LOG_HEADER.as_bytes())?;
            let state = MemberState {
                seed,
                stage: Stage::Head,
                epoch: 0,
                best_balanced_accuracy: -1.0,
                best: None,
                epochs_without_gain: 0,
            };
            (state, initial)
        }
    };
    let val_labels = val.labels.clone();
    let num_classes = classifier.num_classes();

    while state.stage != Stage::Done {
        let stage_options = if state.stage == Stage::Head { &options.head } else { &options.upper };
        if state.epoch >= stage_options.epochs || state.epochs_without_gain >= options.patience {
            state = next_stage(state, files)?;
            classifier = reload_best(files, classifier)?;
            continue;
        }
        let mut optimizer = AdamWConfig::new().with_weight_decay(options.weight_decay).init();
        if state.epoch > 0 && files.optimizer().is_file() {
            let bytes = std::fs::read(files.optimizer())?;
            optimizer = optimizer
                .from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
                .map_err(|e| anyhow::anyhow!("{} is damaged: {e:?}", files.optimizer().display()))?;
        }
        let mut trainable = classifier.fork(&autodiff).train();
        let epoch = state.epoch;
        let mut rng = Rng::new(seed.wrapping_mul(1_000_003) ^ ((state.stage as u64) << 40) ^ epoch as u64);
        let order = sampler::epoch(&train.labels, num_classes, options.sampling, &options.keep, &mut rng);
        let batches: Vec<&[usize]> = order.chunks(options.batch).filter(|b| b.len() > 1).collect();
        let steps_per_epoch = batches.len();
        let total_steps = stage_options.epochs * steps_per_epoch;
        let warmup = stage_options.warmup_epochs * steps_per_epoch;
        let bar = progress::bar(steps_per_epoch as u64, &format!("{:?} epoch {}", state.stage, epoch + 1));
        let started = std::time::Instant::now();
        let mut loss_sum = 0.0;
        let mut lr = 0.0;
        for (b, batch) in batches.iter().enumerate() {
            let picks: Vec<(usize, usize)> = batch.iter().map(|&i| (i, rng.below(train.views))).collect();
            let labels: Vec<usize> = batch.iter().map(|&i| train.labels[i]).collect();
            let logits = forward(&trainable, train, &picks, state.stage, options.cut, &autodiff);
            let batch_loss = loss(logits, &labels, &options.loss);
            let value: f32 = batch_loss.clone().into_data().try_into_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?[0];
            if !value.is_finite() {
                bail!(
                    "the loss became {value} at {:?} epoch {} batch {}: lower the learning rate; \
                     the last good checkpoint is kept in {}",
                    state.stage,
                    epoch + 1,
                    b + 1,
                    files.dir.display()
                );
            }
            loss_sum += f64::from(value);
            lr = learning_rate(stage_options.learning_rate, epoch * steps_per_epoch + b, total_steps, warmup, options.decay);
            let grads = GradientsParams::from_grads(batch_loss.backward(), &trainable);
            trainable = optimizer.step(lr, trainable, grads);
            bar.inc(1);
        }
        bar.finish_and_clear();
        classifier = trainable.valid();

        let logits = cached_logits(&classifier, val, state.stage, options.cut)?;
        let probs = softmax_rows(&logits);
        let malignant = vec![false; num_classes];
        let m = metrics::compute(&probs, &val_labels, &malignant);
        let seconds = started.elapsed().as_secs_f64();
        let train_loss = loss_sum / steps_per_epoch.max(1) as f64;
        eprintln!(
            "{}: {:?} epoch {}: train loss {train_loss:.4}, val loss {:.4}, val balanced accuracy {:.4} ({seconds:.0} s)",
            files.dir.display(),
            state.stage,
            epoch + 1,
            m.nll,
            m.balanced_accuracy
        );
        let mut log = std::fs::read(files.log()).unwrap_or_else(|_| LOG_HEADER.as_bytes().to_vec());
        log.extend_from_slice(
            format!(
                "{:?},{},{lr:.3e},{train_loss:.5},{:.5},{:.5},{:.5},{seconds:.1}\n",
                state.stage,
                epoch + 1,
                m.nll,
                m.accuracy,
                m.balanced_accuracy
            )
            .to_lowercase()
            .as_bytes(),
        );

        state.epoch += 1;
        if m.balanced_accuracy > state.best_balanced_accuracy {
            state.best_balanced_accuracy = m.balanced_accuracy;
            state.best = Some((state.stage, state.epoch));
            state.epochs_without_gain = 0;
            write_atomic(&files.best(), &model::weights::to_bytes(&classifier)?)?;
        } else {
            state.epochs_without_gain += 1;
        }
        // Weights, optimizer and log first; the state file last, so a kill
        // between them replays this epoch rather than skipping it.
        write_atomic(&files.last(), &model::weights::to_bytes(&classifier)?)?;
        let optimizer_bytes = optimizer.into_bytes().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        write_atomic(&files.optimizer(), &optimizer_bytes)?;
        write_atomic(&files.log(), &log)?;
        write_atomic(&files.state(), serde_json::to_string_pretty(&state)?.as_bytes())?;
    }
    Ok(())
}

fn next_stage(mut state: MemberState, files: &MemberFiles) -> Result<MemberState> {
    state.stage = match state.stage {
        Stage::Head => Stage::Upper,
        _ => Stage::Done,
    };
    state.epoch = 0;
    state.epochs_without_gain = 0;
    let _ = std::fs::remove_file(files.optimizer());
    write_atomic(&files.state(), serde_json::to_string_pretty(&state)?.as_bytes())?;
    Ok(state)
}

/// The next stage starts from the best network so far.
fn reload_best(files: &MemberFiles, classifier: Classifier) -> Result<Classifier> {
    match std::fs::read(files.best()) {
        Ok(bytes) => {
            let best = model::weights::load(classifier, bytes)?;
            write_atomic(&files.last(), &model::weights::to_bytes(&best)?)?;
            Ok(best)
        }
        Err(_) => Ok(classifier),
    }
}

/// Whether a member folder holds a finished member.
pub fn is_done(dir: &Path) -> bool {
    std::fs::read(dir.join("state.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<MemberState>(&b).ok())
        .is_some_and(|s| s.stage == Stage::Done)
}
