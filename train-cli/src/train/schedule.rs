//! The learning-rate schedule: linear warm-up, then cosine decay to 0.

/// The learning rate at `step` of `total` steps.
pub fn learning_rate(base: f64, step: usize, total: usize, warmup: usize) -> f64 {
    if step < warmup {
        return base * (step + 1) as f64 / warmup as f64;
    }
    let progress = (step - warmup) as f64 / (total.saturating_sub(warmup)).max(1) as f64;
    base * 0.5 * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_then_decay() {
        assert!((learning_rate(1.0, 0, 100, 10) - 0.1).abs() < 1e-12);
        assert!((learning_rate(1.0, 9, 100, 10) - 1.0).abs() < 1e-12);
        assert!((learning_rate(1.0, 55, 100, 10) - 0.5).abs() < 1e-12);
        assert!(learning_rate(1.0, 100, 100, 10) < 1e-12);
        assert_eq!(learning_rate(1.0, 0, 100, 0), 1.0);
    }
}
