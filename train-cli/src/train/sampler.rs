//! Which training samples an epoch visits: all of them, or drawn so rare
//! classes are seen more often, optionally with a class thinned out.

pub use crate::recipe::Sampling;
use crate::rng::Rng;

/// Sample indices for one epoch of `epoch_size` draws (or every sample for
/// natural sampling). `keep[c]` thins class `c` to that share first.
pub fn epoch(
    labels: &[usize],
    num_classes: usize,
    sampling: Sampling,
    keep: &[f32],
    rng: &mut Rng,
) -> Vec<usize> {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); num_classes];
    for (i, &y) in labels.iter().enumerate() {
        by_class[y].push(i);
    }
    for (c, members) in by_class.iter_mut().enumerate() {
        let share = keep.get(c).copied().unwrap_or(1.0).clamp(0.0, 1.0);
        if share < 1.0 {
            rng.shuffle(members);
            members.truncate(((members.len() as f32 * share).ceil() as usize).max(1));
        }
    }
    let total: usize = by_class.iter().map(Vec::len).sum();
    let mut out = match sampling {
        Sampling::Natural => by_class.concat(),
        Sampling::Balanced | Sampling::Sqrt => {
            let mass: Vec<f64> = by_class
                .iter()
                .map(|m| match (m.is_empty(), sampling) {
                    (true, _) => 0.0,
                    (false, Sampling::Balanced) => 1.0,
                    (false, _) => (m.len() as f64).sqrt(),
                })
                .collect();
            let sum: f64 = mass.iter().sum();
            let mut out = Vec::with_capacity(total);
            for (c, members) in by_class.iter().enumerate() {
                let draws = (mass[c] / sum * total as f64).round() as usize;
                // Whole passes over the class first, then a random remainder, so
                // no image is skipped while another is drawn twice.
                let mut pool = members.clone();
                while pool.len() < draws && !members.is_empty() {
                    pool.extend_from_slice(members);
                }
                rng.shuffle(&mut pool);
                out.extend(pool.into_iter().take(draws));
            }
            out
        }
    };
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
        let mut e = epoch(&l, 3, Sampling::Natural, &[], &mut Rng::new(1));
        e.sort();
        assert_eq!(e, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn balanced_draws_classes_equally_and_sqrt_in_between() {
        let l = labels();
        let c = counts(&epoch(&l, 3, Sampling::Balanced, &[], &mut Rng::new(1)), &l);
        assert!(c.iter().all(|&n| (330..=337).contains(&n)), "{c:?}");
        let s = counts(&epoch(&l, 3, Sampling::Sqrt, &[], &mut Rng::new(1)), &l);
        assert!(s[0] > s[1] && s[1] > s[2] && s[2] > 10, "{s:?}");
    }

    #[test]
    fn a_class_can_be_thinned() {
        let l = labels();
        let c = counts(&epoch(&l, 3, Sampling::Natural, &[0.5, 1.0, 1.0], &mut Rng::new(1)), &l);
        assert_eq!(c, vec![450, 90, 10]);
    }
}
