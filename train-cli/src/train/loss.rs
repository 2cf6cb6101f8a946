//! The training loss: cross-entropy with label smoothing and logit
//! adjustment (Menon et al. 2021, "Long-tail learning via logit
//! adjustment"): the logits are offset by `tau * log(prior)` of the classes
//! as the sampler draws them, so the network's own scores learn the
//! balanced posterior. Optional class weights are kept only to measure what
//! balancing twice costs.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};

#[derive(Debug, Clone)]
pub struct LossConfig {
    /// Weight per class (1 for all when unweighted).
    pub class_weights: Vec<f32>,
    /// Share of the target mass spread uniformly over all classes.
    pub label_smoothing: f32,
    /// Added to the logits in the loss only: `tau * ln(prior)` per class.
    pub logit_offsets: Vec<f32>,
}

impl LossConfig {
    /// Plain cross-entropy over `num_classes`.
    pub fn plain(num_classes: usize) -> Self {
        Self {
            class_weights: vec![1.0; num_classes],
            label_smoothing: 0.0,
            logit_offsets: vec![0.0; num_classes],
        }
    }
}

/// Inverse-frequency class weights, normalised to mean 1, softened by `power`
/// (1 = fully inverse, 0.5 = inverse square root, 0 = uniform).
pub fn inverse_frequency_weights(counts: &[usize], power: f32) -> Vec<f32> {
    let raw: Vec<f32> = counts.iter().map(|&n| (1.0 / n.max(1) as f32).powf(power)).collect();
    let mean = raw.iter().sum::<f32>() / raw.len().max(1) as f32;
    raw.into_iter().map(|w| w / mean).collect()
}

/// `tau * ln(p)` for each class's share `p` of `draws` (the classes as the
/// sampler shows them); classes never drawn get the smallest share seen.
pub fn logit_offsets(draws: &[f64], tau: f32) -> Vec<f32> {
    let total: f64 = draws.iter().sum();
    let smallest = draws.iter().copied().filter(|&d| d > 0.0).fold(f64::INFINITY, f64::min);
    draws
        .iter()
        .map(|&d| {
            let share = if d > 0.0 { d / total } else { smallest / total };
            tau * share.ln() as f32
        })
        .collect()
}

/// Mean loss of `logits` `[batch, classes]` against `labels`.
pub fn loss(logits: Tensor<2>, labels: &[usize], config: &LossConfig) -> Tensor<1> {
    let device: Device = logits.device();
    let [batch, classes] = logits.dims();
    let eps = config.label_smoothing;
    let mut targets = vec![eps / classes as f32; batch * classes];
    let mut weights = vec![0.0f32; batch];
    for (i, &y) in labels.iter().enumerate() {
        targets[i * classes + y] += 1.0 - eps;
        weights[i] = config.class_weights[y];
    }
    let targets = Tensor::<2>::from_data(TensorData::new(targets, [batch, classes]), &device);
    let weights = Tensor::<1>::from_data(TensorData::new(weights, [batch]), &device);
    let offsets = Tensor::<2>::from_data(
        TensorData::new(config.logit_offsets.clone(), [1, classes]),
        &device,
    );
    let log_p = log_softmax(logits + offsets, 1);
    let per_sample: Tensor<1> = (targets * log_p).sum_dim(1).neg().flatten(0, 1);
    (per_sample * weights.clone()).sum() / weights.sum()
}

/// Distillation's term (Hinton et al. 2015): the cross-entropy of the
/// student's `logits` softened by `temperature` against the teacher's
/// softened probabilities `soft` (row after row), times `temperature^2` so
/// that its gradients keep their size whatever the temperature. The raw
/// logits are compared (no logit adjustment): the teacher's were trained to
/// be the balanced scores the student's should become.
pub fn distillation(logits: Tensor<2>, soft: &[f32], temperature: f32) -> Tensor<1> {
    let device: Device = logits.device();
    let [batch, classes] = logits.dims();
    let soft = Tensor::<2>::from_data(TensorData::new(soft.to_vec(), [batch, classes]), &device);
    let log_p = log_softmax(logits / temperature, 1);
    (soft * log_p).sum_dim(1).neg().flatten::<1>(0, 1).mean() * (temperature * temperature)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(logits: [[f32; 3]; 2], labels: [usize; 2], config: &LossConfig) -> f32 {
        let device = Device::flex();
        let logits = Tensor::<2>::from_data(TensorData::new(logits.concat(), [2, 3]), &device);
        loss(logits, &labels, config).into_data().try_to_vec::<f32>().expect("f32")[0]
    }

    fn close(a: f32, b: f32) {
        assert!((a - b).abs() < 1e-5, "{a} != {b}");
    }

    /// Softmax of (2, 0, 0): p0 = e^2 / (e^2 + 2).
    fn p0() -> f32 {
        let e2 = 2f32.exp();
        e2 / (e2 + 2.0)
    }

    const LOGITS: [[f32; 3]; 2] = [[2.0, 0.0, 0.0], [2.0, 0.0, 0.0]];

    #[test]
    fn cross_entropy_matches_hand_computation() {
        // Sample 1 right (-ln p0), sample 2 wrong (-ln p1, p1 = 1 / (e^2 + 2)).
        let p1 = 1.0 / (2f32.exp() + 2.0);
        close(value(LOGITS, [0, 1], &LossConfig::plain(3)), (-p0().ln() - p1.ln()) / 2.0);
    }

    #[test]
    fn class_weights_weight_the_mean() {
        let mut c = LossConfig::plain(3);
        c.class_weights = vec![1.0, 3.0, 1.0];
        let p1 = 1.0 / (2f32.exp() + 2.0);
        close(value(LOGITS, [0, 1], &c), (-p0().ln() - 3.0 * p1.ln()) / 4.0);
        let w = inverse_frequency_weights(&[90, 10], 1.0);
        close(w[1] / w[0], 9.0);
        close((w[0] + w[1]) / 2.0, 1.0);
    }

    #[test]
    fn label_smoothing_spreads_the_target() {
        let mut c = LossConfig::plain(3);
        c.label_smoothing = 0.3;
        // Target (0.8, 0.1, 0.1): -0.8 ln p0 - 0.2 ln p1.
        let p1 = 1.0 / (2f32.exp() + 2.0);
        close(value(LOGITS, [0, 0], &c), -0.8 * p0().ln() - 0.2 * p1.ln());
    }

    #[test]
    fn distillation_is_the_softened_cross_entropy_times_t_squared() {
        let device = Device::flex();
        let logits =
            Tensor::<2>::from_data(TensorData::new(vec![2.0f32, 0.0, 0.0], [1, 3]), &device);
        let soft = [0.5f32, 0.25, 0.25];
        let t = 2.0f32;
        // softmax of (1, 0, 0): p0 = e / (e + 2), p1 = p2 = 1 / (e + 2).
        let e = 1f32.exp();
        let expected = -(0.5 * (e / (e + 2.0)).ln() + 0.5 * (1.0 / (e + 2.0)).ln()) * t * t;
        let got = distillation(logits, &soft, t).into_data().try_to_vec::<f32>().expect("f32")[0];
        close(got, expected);
    }

    #[test]
    fn logit_adjustment_offsets_by_the_log_prior() {
        // A class drawn 4 times as often gets ln 4 more; tau scales it.
        let offsets = logit_offsets(&[80.0, 20.0, 0.0], 1.0);
        close(offsets[0] - offsets[1], 4f32.ln());
        close(offsets[2], offsets[1]);
        close(
            logit_offsets(&[80.0, 20.0], 0.5)[0] - logit_offsets(&[80.0, 20.0], 0.5)[1],
            0.5 * 4f32.ln(),
        );
        // The loss of logits (2, 0, 0) with offsets (0, ln 2, 0) is that of (2, ln 2, 0).
        let mut c = LossConfig::plain(3);
        c.logit_offsets = vec![0.0, 2f32.ln(), 0.0];
        let e2 = 2f32.exp();
        close(value(LOGITS, [0, 0], &c), -(e2 / (e2 + 3.0)).ln());
    }
}
