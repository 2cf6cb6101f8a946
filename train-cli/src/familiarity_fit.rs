//! Fitting a member's familiarity statistics (see `model::familiarity`)
//! from the pooled features of labelled training lesions.

use anyhow::{Result, bail};
use model::familiarity::Familiarity;
use nalgebra::{DMatrix, SymmetricEigen};

/// Class means, and the leading principal directions of the within-class
/// spread plus one variance for the rest. Up to `rank` directions are kept:
/// fewer when there are too few images to estimate that many.
pub fn fit(features: &[Vec<f32>], labels: &[usize], rank: usize) -> Result<Familiarity> {
    let Some(d) = features.first().map(Vec::len) else { bail!("no features to fit on") };
    if features.iter().any(|f| f.len() != d) || features.len() != labels.len() {
        bail!("features and labels do not line up");
    }
    let classes = labels.iter().max().map_or(0, |&m| m + 1);
    let mut sums = vec![vec![0.0f64; d]; classes];
    let mut counts = vec![0usize; classes];
    for (f, &label) in features.iter().zip(labels) {
        counts[label] += 1;
        sums[label].iter_mut().zip(f).for_each(|(s, &v)| *s += f64::from(v));
    }
    let means: Vec<Vec<f64>> = sums
        .into_iter()
        .zip(&counts)
        .filter(|(_, n)| **n > 0)
        .map(|(s, &n)| s.into_iter().map(|v| v / n as f64).collect())
        .collect();
    let present: Vec<usize> = (0..classes).filter(|&c| counts[c] > 0).collect();
    let dof = features.len().saturating_sub(present.len());
    let rank = rank.min(dof.saturating_sub(1)).min(d - 1);
    if rank == 0 {
        bail!(
            "{} images of {} classes are too few to estimate their spread",
            features.len(),
            present.len()
        );
    }

    // Within-class scatter: each feature minus its own class mean.
    let centred = DMatrix::<f64>::from_fn(features.len(), d, |i, j| {
        let mean = &means[present.iter().position(|&c| c == labels[i]).unwrap_or(0)];
        f64::from(features[i][j]) - mean[j]
    });
    let covariance = centred.tr_mul(&centred) / dof as f64;
    let trace = covariance.trace();
    let eigen = SymmetricEigen::new(covariance);
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
    let kept = &order[..rank];
    let explained: f64 = kept.iter().map(|&i| eigen.eigenvalues[i]).sum();
    // Guard against a numerically zero remainder (features that never vary).
    let floor = (trace / d as f64 * 1e-6).max(f64::MIN_POSITIVE);
    let residual_variance = ((trace - explained) / (d - rank) as f64).max(floor);
    let familiarity = Familiarity {
        means: means.iter().map(|m| m.iter().map(|&v| v as f32).collect()).collect(),
        components: kept
            .iter()
            .map(|&i| eigen.eigenvectors.column(i).iter().map(|&v| v as f32).collect())
            .collect(),
        variances: kept
            .iter()
            .map(|&i| eigen.eigenvalues[i].max(residual_variance) as f32)
            .collect(),
        residual_variance: residual_variance as f32,
    };
    familiarity.validate()?;
    Ok(familiarity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// A standard normal draw (Box-Muller).
    fn normal(rng: &mut Rng) -> f32 {
        let (u, v) = (rng.unit().max(1e-7), rng.unit());
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }

    #[test]
    fn recovers_the_spread_and_flags_what_lies_outside_it() {
        // Two classes in 6 dimensions: wide (sd 3) along the first axis,
        // narrow (sd 0.5) along the rest.
        let mut rng = Rng::new(7);
        let mut features = Vec::new();
        let mut labels = Vec::new();
        for i in 0..2000 {
            let class = i % 2;
            let mut f: Vec<f32> = (0..6).map(|_| 0.5 * normal(&mut rng)).collect();
            f[0] = 3.0 * normal(&mut rng);
            f[1] += 8.0 * class as f32;
            features.push(f);
            labels.push(class);
        }
        let fitted = fit(&features, &labels, 1).unwrap();
        assert_eq!(fitted.means.len(), 2);
        assert!((fitted.means[1][1] - 8.0).abs() < 0.1, "{:?}", fitted.means[1]);
        assert!(
            fitted.components[0][0].abs() > 0.99,
            "the first direction is the wide axis: {:?}",
            fitted.components[0]
        );
        assert!((fitted.variances[0] - 9.0).abs() < 0.9, "{}", fitted.variances[0]);
        assert!((fitted.residual_variance - 0.25).abs() < 0.03, "{}", fitted.residual_variance);

        // Training points average about 1; a point 3 sd off a narrow axis is far out.
        let mean: f32 =
            features.iter().map(|f| fitted.distance(f)).sum::<f32>() / features.len() as f32;
        assert!((mean - 1.0).abs() < 0.1, "{mean}");
        let along_wide = fitted.distance(&[6.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        let across_narrow = fitted.distance(&[0.0, 0.0, 1.5, 1.5, 0.0, 0.0]);
        assert!(across_narrow > 2.0 * along_wide, "{across_narrow} vs {along_wide}");
    }

    #[test]
    fn refuses_what_it_cannot_fit() {
        assert!(fit(&[], &[], 1).is_err());
        assert!(fit(&[vec![0.0, 1.0]], &[0, 1], 1).is_err(), "one label too many");
        assert!(
            fit(&[vec![0.0, 1.0], vec![1.0, 0.0]], &[0, 1], 1).is_err(),
            "no degrees of freedom left"
        );
        // Asking for more directions than the data supports keeps fewer.
        let few: Vec<Vec<f32>> =
            (0..5).map(|i| vec![i as f32, (i * i) as f32, 1.0 - i as f32]).collect();
        assert_eq!(fit(&few, &[0; 5], 10).unwrap().components.len(), 2);
    }
}
