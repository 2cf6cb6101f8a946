//! How familiar an image looks to a member: the distance of its pooled
//! backbone features from the training lesions, under a Gaussian per class
//! with one shared covariance. The covariance is kept as its leading
//! principal directions plus one variance for everything else (probabilistic
//! PCA), so it fits in a few hundred kilobytes and costs a few hundred
//! thousand multiplications per image.
//!
//! The distance is the squared Mahalanobis distance to the nearest class
//! mean divided by the feature count: about 1 for a typical training image,
//! much more for a picture that is not a lesion at all.

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
#[error("the familiarity statistics are not usable: {0}")]
pub struct FamiliarityError(pub String);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Familiarity {
    /// One mean feature vector per class, `[classes][features]`.
    pub means: Vec<Vec<f32>>,
    /// Orthonormal principal directions of the within-class spread, `[rank][features]`.
    pub components: Vec<Vec<f32>>,
    /// Variance along each direction.
    pub variances: Vec<f32>,
    /// Variance of every direction not kept.
    pub residual_variance: f32,
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl Familiarity {
    pub fn features(&self) -> usize {
        self.means.first().map_or(0, Vec::len)
    }

    /// Checks shapes and values so that [`distance`](Self::distance) is well defined.
    pub fn validate(&self) -> Result<(), FamiliarityError> {
        let d = self.features();
        let bad = |why: &str| Err(FamiliarityError(why.into()));
        if d == 0 || self.means.iter().chain(&self.components).any(|v| v.len() != d) {
            return bad("the vectors do not all have the same, non-zero length");
        }
        if self.components.len() != self.variances.len() || self.components.len() >= d {
            return bad(
                "there must be one variance per direction and fewer directions than features",
            );
        }
        let positive = |v: f32| v.is_finite() && v > 0.0;
        if !positive(self.residual_variance) || !self.variances.iter().all(|&v| positive(v)) {
            return bad("a variance is not a positive number");
        }
        if self.means.iter().chain(&self.components).flatten().any(|v| !v.is_finite()) {
            return bad("a mean or direction is not finite");
        }
        Ok(())
    }

    /// Squared Mahalanobis distance to the nearest class mean, per feature.
    pub fn distance(&self, features: &[f32]) -> f32 {
        let d = self.features();
        let mut best = f32::INFINITY;
        let mut centred = vec![0.0f32; d];
        for mean in &self.means {
            for ((c, f), m) in centred.iter_mut().zip(features).zip(mean) {
                *c = f - m;
            }
            let total = dot(&centred, &centred);
            let mut inside = 0.0f32;
            let mut explained = 0.0f32;
            for (direction, variance) in self.components.iter().zip(&self.variances) {
                let along = dot(&centred, direction);
                inside += along * along / variance;
                explained += along * along;
            }
            let outside = (total - explained).max(0.0) / self.residual_variance;
            best = best.min(inside + outside);
        }
        best / d.max(1) as f32
    }
}

/// The members' mean distance, if every member has familiarity statistics.
pub fn ensemble_distance(members: &[Option<&Familiarity>], features: &[Vec<f32>]) -> Option<f32> {
    if members.is_empty() || members.len() != features.len() {
        return None;
    }
    let mut sum = 0.0;
    for (member, f) in members.iter().zip(features) {
        sum += member.as_ref()?.distance(f);
    }
    Some(sum / members.len() as f32)
}

/// Two classes in 4 dimensions, spread 2 along the first axis, 0.5 elsewhere.
#[cfg(test)]
pub(crate) fn sample() -> Familiarity {
    Familiarity {
        means: vec![vec![0.0, 0.0, 0.0, 0.0], vec![10.0, 0.0, 0.0, 0.0]],
        components: vec![vec![1.0, 0.0, 0.0, 0.0]],
        variances: vec![4.0],
        residual_variance: 0.25,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_is_mahalanobis_to_the_nearest_mean() {
        let f = sample();
        assert_eq!(f.distance(&[0.0; 4]), 0.0);
        // 2 along the wide axis from class 0: (2^2 / 4) / 4 features.
        assert!((f.distance(&[2.0, 0.0, 0.0, 0.0]) - 0.25).abs() < 1e-6);
        // The same step across a narrow axis is 16 times as unusual.
        assert!((f.distance(&[0.0, 2.0, 0.0, 0.0]) - 4.0).abs() < 1e-6);
        // Near class 1: measured from its mean, not class 0's.
        assert!((f.distance(&[9.0, 0.0, 0.0, 0.0]) - 0.0625).abs() < 1e-6);
    }

    #[test]
    fn the_ensemble_distance_needs_every_member() {
        let f = sample();
        let features = vec![vec![0.0, 2.0, 0.0, 0.0], vec![0.0; 4]];
        assert_eq!(ensemble_distance(&[Some(&f), Some(&f)], &features), Some(2.0));
        assert_eq!(ensemble_distance(&[Some(&f), None], &features), None);
    }
}
