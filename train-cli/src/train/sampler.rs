//! Which training photos an epoch visits: drawn so that each class appears
//! in proportion to its size, equally, or to the square root of its size.

pub use crate::recipe::Sampling;
use crate::rng::Rng;

/// Each class's share of an epoch's draws under `sampling`.
pub fn class_shares(counts: &[usize], sampling: Sampling) -> Vec<f64> {
    let mass: Vec<f64> = counts
        .iter()
        .map(|&n| match (n, sampling) {
            (0, _) => 0.0,
            (n, Sampling::Natural) => n as f64,
            (_, Sampling::Balanced) => 1.0,
            (n, Sampling::Sqrt) => (n as f64).sqrt(),
        })
        .collect();
    let sum: f64 = mass.iter().sum();
    mass.into_iter().map(|m| if sum > 0.0 { m / sum } else { 0.0 }).collect()
}

/// Sample indices for one epoch of `size` draws (0: as many as there are
/// samples). Within a class, whole passes come first and the remainder is
/// random, so no photo is skipped while another is drawn twice.
pub fn epoch(
    labels: &[usize],
    num_classes: usize,
    sampling: Sampling,
    size: usize,
    rng: &mut Rng,
) -> Vec<usize> {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); num_classes];
    for (i, &y) in labels.iter().enumerate() {
        by_class[y].push(i);
    }
    let size = if size == 0 { labels.len() } else { size };
    let counts: Vec<usize> = by_class.iter().map(Vec::len).collect();
    let shares = class_shares(&counts, sampling);
    let mut out = Vec::with_capacity(size);
    for (c, members) in by_class.iter().enumerate() {
        let draws = (shares[c] * size as f64).round() as usize;
        let mut pool = Vec::with_capacity(draws + members.len());
        while pool.len() + members.len() <= draws && !members.is_empty() {
            pool.extend_from_slice(members);
        }
        let mut rest = members.clone();
        rng.shuffle(&mut rest);
        pool.extend(rest.into_iter().take(draws - pool.len().min(draws)));
        out.extend(pool);
    }
    rng.shuffle(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<usize> {
        std::iter::repeat_n(0, 900)
            .chain(std::iter::repeat_n(1, 90))
            .chain(std::iter::repeat_n(2, 10))
            .collect()
    }

    fn counts(indices: &[usize], labels: &[usize]) -> Vec<usize> {
        let mut c = vec![0; 3];
        indices.iter().for_each(|&i| c[labels[i]] += 1);
        c
    }

    #[test]
    fn natural_visits_everything_once() {
        let l = labels();
        let mut e = epoch(&l, 3, Sampling::Natural, 0, &mut Rng::new(1));
        e.sort();
        assert_eq!(e, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn balanced_draws_classes_equally_and_sqrt_in_between() {
        let l = labels();
        let c = counts(&epoch(&l, 3, Sampling::Balanced, 0, &mut Rng::new(1)), &l);
        assert!(c.iter().all(|&n| (330..=337).contains(&n)), "{c:?}");
        let s = counts(&epoch(&l, 3, Sampling::Sqrt, 0, &mut Rng::new(1)), &l);
        assert!(s[0] > s[1] && s[1] > s[2] && s[2] > 10, "{s:?}");
        let shares = class_shares(&[900, 90, 10], Sampling::Sqrt);
        assert!((shares[0] / shares[2] - (900f64 / 10.0).sqrt()).abs() < 1e-9, "{shares:?}");
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn an_epoch_can_have_any_size_and_rare_photos_repeat_in_whole_passes() {
        let l = labels();
        let e = epoch(&l, 3, Sampling::Balanced, 300, &mut Rng::new(2));
        assert_eq!(e.len(), 300);
        let rare: Vec<usize> = e.iter().copied().filter(|&i| l[i] == 2).collect();
        // 100 draws of 10 photos: each exactly 10 times.
        for photo in 990..1000 {
            assert_eq!(rare.iter().filter(|&&i| i == photo).count(), 10);
        }
    }
}
