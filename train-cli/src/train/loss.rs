//! Training losses: class-weighted cross-entropy or focal loss, with label
//! smoothing and an extra cost for a melanoma given probability as benign.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};

pub use crate::recipe::LossKind;

#[derive(Debug, Clone)]
pub struct LossConfig {
    pub kind: LossKind,
    /// Focusing parameter of the focal loss.
    pub gamma: f32,
    /// Weight per class (1 for all when unweighted).
    pub class_weights: Vec<f32>,
    /// Share of the target mass spread uniformly over all classes.
    pub label_smoothing: f32,
    /// Extra loss per unit of probability a melanoma puts on benign classes.
    pub melanoma_cost: f32,
    /// Index of the melanoma class, if the class list has one.
    pub melanoma: Option<usize>,
    /// Which classes are benign.
    pub benign: Vec<bool>,
}

impl LossConfig {
    /// Plain cross-entropy over `num_classes`.
    #[cfg(test)]
    pub fn plain(num_classes: usize) -> Self {
        Self {
            kind: LossKind::CrossEntropy,
            gamma: 2.0,
            class_weights: vec![1.0; num_classes],
            label_smoothing: 0.0,
            melanoma_cost: 0.0,
            melanoma: None,
            benign: vec![true; num_classes],
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

/// Mean loss of `logits` `[batch, classes]` against `labels`, weighted by class.
pub fn loss(logits: Tensor<2>, labels: &[usize], config: &LossConfig) -> Tensor<1> {
    let device: Device = logits.device();
    let [batch, classes] = logits.dims();
    let eps = config.label_smoothing;
    let mut targets = vec![eps / classes as f32; batch * classes];
    let mut weights = vec![0.0f32; batch];
    let mut penalty = vec![0.0f32; batch * classes];
    for (i, &y) in labels.iter().enumerate() {
        targets[i * classes + y] += 1.0 - eps;
        weights[i] = config.class_weights[y];
        if Some(y) == config.melanoma && config.melanoma_cost > 0.0 {
            for c in 0..classes {
                if config.benign[c] {
                    penalty[i * classes + c] = config.melanoma_cost;
                }
            }
        }
    }
    let targets = Tensor::<2>::from_data(TensorData::new(targets, [batch, classes]), &device);
    let weights = Tensor::<1>::from_data(TensorData::new(weights, [batch]), &device);
    let penalty = Tensor::<2>::from_data(TensorData::new(penalty, [batch, classes]), &device);

    let log_p = log_softmax(logits, 1);
    let p = log_p.clone().exp();
    let per_class = match config.kind {
        LossKind::CrossEntropy => targets * log_p,
        LossKind::Focal => targets * (p.clone().neg() + 1.0).powf_scalar(config.gamma) * log_p,
    };
    let per_sample = per_class.sum_dim(1).neg() + (penalty * p).sum_dim(1);
    let per_sample: Tensor<1> = per_sample.flatten(0, 1);
    (per_sample * weights.clone()).sum() / weights.sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(logits: [[f32; 3]; 2], labels: [usize; 2], config: &LossConfig) -> f32 {
        let device = Device::flex();
        let logits = Tensor::<2>::from_data(TensorData::new(logits.concat(), [2, 3]), &device);
        loss(logits, &labels, config).into_data().try_into_vec::<f32>().expect("f32")[0]
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
    fn focal_loss_down_weights_easy_examples() {
        let mut c = LossConfig::plain(3);
        c.kind = LossKind::Focal;
        c.gamma = 2.0;
        let p = p0();
        close(value(LOGITS, [0, 0], &c), -(1.0 - p).powi(2) * p.ln());
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
    fn melanoma_given_to_benign_classes_costs_extra() {
        let mut c = LossConfig::plain(3);
        c.melanoma = Some(1);
        c.benign = vec![true, false, true];
        c.melanoma_cost = 2.0;
        // Label mel (1): cross-entropy plus 2 x (p0 + p2).
        let p1 = 1.0 / (2f32.exp() + 2.0);
        let expected = -p1.ln() + 2.0 * (1.0 - p1);
        close(value(LOGITS, [1, 1], &c), expected);
        // A benign label pays nothing extra.
        close(value(LOGITS, [0, 0], &c), -p0().ln());
    }
}
