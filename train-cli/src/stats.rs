//! Small summaries the reports share: quantiles and percentages.

/// The `q` quantile (0..1) of `values`, nearest rank after sorting; `NaN` for none.
pub fn quantile(values: &mut [f32], q: f64) -> f32 {
    if values.is_empty() {
        return f32::NAN;
    }
    values.sort_by(f32::total_cmp);
    values[((values.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize]
}

/// `part` of `whole` as a percentage with `decimals` places, e.g. `12.5%`.
pub fn percent(part: usize, whole: usize, decimals: usize) -> String {
    format!("{:.decimals$}%", 100.0 * part as f64 / whole.max(1) as f64)
}

/// `part` of `whole` as "3 of 40 (7.5%)".
pub fn share(part: usize, whole: usize) -> String {
    format!("{part} of {whole} ({})", percent(part, whole, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_and_shares() {
        let mut v = vec![5.0, 1.0, 4.0, 2.0, 3.0];
        assert_eq!(quantile(&mut v, 0.5), 3.0);
        assert_eq!(quantile(&mut v, 0.0), 1.0);
        assert_eq!(quantile(&mut v, 1.0), 5.0);
        assert!(quantile(&mut [], 0.5).is_nan());
        assert_eq!(share(3, 40), "3 of 40 (7.5%)");
        assert_eq!(percent(1, 3, 2), "33.33%");
        assert_eq!(share(0, 0), "0 of 0 (0.0%)");
    }
}
