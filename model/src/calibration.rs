//! Temperature scaling: one scalar per member dividing its logits, fitted
//! on validation data to minimise the negative log-likelihood.

/// Softmax of `logits / temperature`, computed stably.
pub fn softmax(logits: &[f32], temperature: f32) -> Vec<f32> {
    let t = temperature.max(1e-3);
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let exps: Vec<f32> = logits.iter().map(|&v| ((v - max) / t).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

/// Mean negative log-likelihood of `labels` under `logits / temperature`.
pub fn nll(logits: &[Vec<f32>], labels: &[usize], temperature: f32) -> f64 {
    let t = f64::from(temperature.max(1e-3));
    let total: f64 = logits
        .iter()
        .zip(labels)
        .map(|(row, &y)| {
            let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
            let log_sum = row.iter().map(|&v| ((f64::from(v) - max) / t).exp()).sum::<f64>().ln();
            log_sum - (f64::from(row[y]) - max) / t
        })
        .sum();
    total / labels.len().max(1) as f64
}

/// The temperature in [0.05, 20] minimising the NLL (golden-section search
/// on log T; the NLL is unimodal in T for fixed logits).
pub fn fit_temperature(logits: &[Vec<f32>], labels: &[usize]) -> f32 {
    if labels.is_empty() {
        return 1.0;
    }
    let f = |log_t: f64| nll(logits, labels, log_t.exp() as f32);
    let (mut a, mut b) = (0.05f64.ln(), 20f64.ln());
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let mut c = b - ratio * (b - a);
    let mut d = a + ratio * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..60 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - ratio * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + ratio * (b - a);
            fd = f(d);
        }
    }
    ((a + b) / 2.0).exp() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_temperature_flattens() {
        let p = softmax(&[2.0, 1.0, 0.0], 1.0);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let flat = softmax(&[2.0, 1.0, 0.0], 10.0);
        assert!(flat[0] < p[0] && flat[2] > p[2]);
        assert!(softmax(&[1000.0, 0.0], 1.0)[0] > 0.999, "no overflow");
    }

    #[test]
    fn an_overconfident_model_gets_a_temperature_above_one() {
        // Logits of +-8 but only 75% right: the fitted T must soften them,
        // to where softmax confidence matches 0.75: 16 / T = ln 3.
        let logits: Vec<Vec<f32>> = (0..400).map(|_| vec![8.0, -8.0]).collect();
        let labels: Vec<usize> = (0..400).map(|i| usize::from(i % 4 == 0)).collect();
        let t = fit_temperature(&logits, &labels);
        assert!((t - 16.0 / 3f32.ln()).abs() < 0.05, "{t}");
        assert!(nll(&logits, &labels, t) < nll(&logits, &labels, 1.0));
    }
}
