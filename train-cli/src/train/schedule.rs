//! Learning-rate schedules: linear warm-up, then cosine or step decay.

pub use crate::recipe::Decay;

/// The learning rate at `step` of `total` steps.
pub fn learning_rate(base: f64, step: usize, total: usize, warmup: usize, decay: Decay) -> f64 {
    if step < warmup {
        return base * (step + 1) as f64 / warmup as f64;
    }
    let progress = (step - warmup) as f64 / (total.saturating_sub(warmup)).max(1) as f64;
    match decay {
        Decay::Cosine => base * 0.5 * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos()),
        Decay::Step => {
            base * if progress < 0.6 {
                1.0
            } else if progress < 0.85 {
                0.1
            } else {
                0.01
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_then_decay() {
        assert!((learning_rate(1.0, 0, 100, 10, Decay::Cosine) - 0.1).abs() < 1e-12);
        assert!((learning_rate(1.0, 9, 100, 10, Decay::Cosine) - 1.0).abs() < 1e-12);
        assert!((learning_rate(1.0, 55, 100, 10, Decay::Cosine) - 0.5).abs() < 1e-12);
        assert!(learning_rate(1.0, 100, 100, 10, Decay::Cosine) < 1e-12);
        assert_eq!(learning_rate(1.0, 50, 100, 0, Decay::Step), 1.0);
        assert!((learning_rate(1.0, 70, 100, 0, Decay::Step) - 0.1).abs() < 1e-12);
    }
}
