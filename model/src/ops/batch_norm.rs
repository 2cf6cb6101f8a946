//! BatchNorm in training on plain f32 slices (NCHW, contiguous): the
//! batch's statistics, the normalisation and the gradients, each channel's
//! planes read where they lie. burn's generic version first transposes the
//! input so that each channel's values form one row: two copies of every
//! activation forward and two backward.

use super::kernels::{dot, for_each_chunk, vectorized};

/// `batch` images of `channels` planes of `plane` values each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planes {
    pub batch: usize,
    pub channels: usize,
    pub plane: usize,
}

impl Planes {
    /// Values per channel.
    fn count(&self) -> usize {
        self.batch * self.plane
    }

    /// Channel `c`'s planes, one per image.
    fn of<'a>(&self, values: &'a [f32], c: usize) -> impl Iterator<Item = &'a [f32]> {
        (0..self.batch).map(move |b| {
            let start = (b * self.channels + c) * self.plane;
            &values[start..start + self.plane]
        })
    }
}

/// `f(c)` for every channel, in parallel where threads exist, each
/// [`vectorized`].
fn per_channel<T: Send>(channels: usize, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        (0..channels)
            .into_par_iter()
            .map(|c| {
                vectorized(
                    #[inline(always)]
                    || f(c),
                )
            })
            .collect()
    }
    #[cfg(target_arch = "wasm32")]
    (0..channels)
        .map(|c| {
            vectorized(
                #[inline(always)]
                || f(c),
            )
        })
        .collect()
}

/// The sum of `f` over `values`, in eight lanes so that it vectorises.
#[inline(always)]
fn sum(values: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    let mut lanes = [0.0f32; 8];
    let chunks = values.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += f(v);
        }
    }
    lanes.iter().map(|&l| f64::from(l)).sum::<f64>() + f64::from(tail)
}

/// Each channel's mean and biased variance over the batch and the plane.
pub fn statistics(p: &Planes, x: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let n = p.count().max(1) as f64;
    per_channel(
        p.channels,
        #[inline(always)]
        |c| {
            // Plain loops rather than `map(..).sum()`: the iterator's fold is
            // not inlined, so it would miss the wide vectors of `vectorized`.
            let mut total = 0.0f64;
            for v in p.of(x, c) {
                total += sum(v, |a| a);
            }
            let m = (total / n) as f32;
            let mut squares = 0.0f64;
            for v in p.of(x, c) {
                squares += sum(v, |a| (a - m) * (a - m));
            }
            (m, (squares / n) as f32)
        },
    )
    .into_iter()
    .unzip()
}

/// `a[c] * x + b[c]` over every plane of `x` (or `a[c] * x + d[c] * y +
/// b[c]` with `y`), in parallel over planes.
fn affine(p: &Planes, x: &[f32], y: Option<(&[f32], &[f32])>, a: &[f32], b: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0f32; x.len()];
    for_each_chunk(
        &mut out,
        p.plane.max(1),
        #[inline(always)]
        |i, o| {
            let c = i % p.channels;
            let xs = &x[i * p.plane..(i + 1) * p.plane];
            match y {
                None => o.iter_mut().zip(xs).for_each(|(o, &v)| *o = a[c] * v + b[c]),
                Some((y, d)) => {
                    let ys = &y[i * p.plane..(i + 1) * p.plane];
                    for ((o, &v), &w) in o.iter_mut().zip(xs).zip(ys) {
                        *o = a[c] * v + d[c] * w + b[c];
                    }
                }
            }
        },
    );
    out
}

fn inverse_std(variance: &[f32], epsilon: f32) -> Vec<f32> {
    variance.iter().map(|v| 1.0 / (v + epsilon).sqrt()).collect()
}

/// `gamma * (x - mean) / sqrt(variance + epsilon) + beta`, per channel.
pub fn normalize(
    p: &Planes,
    x: &[f32],
    [mean, variance, gamma, beta]: [&[f32]; 4],
    epsilon: f32,
) -> Vec<f32> {
    let inv = inverse_std(variance, epsilon);
    let scale: Vec<f32> = gamma.iter().zip(&inv).map(|(g, i)| g * i).collect();
    let shift: Vec<f32> = (0..p.channels).map(|c| beta[c] - mean[c] * scale[c]).collect();
    affine(p, x, None, &scale, &shift)
}

/// The gradients of [`normalize`] with the batch's own statistics, with
/// respect to `x`, `gamma` and `beta`, given the output's gradient `g`.
///
/// With `n = (x - mean) * inv` and the per-channel sums `sg = sum(g)` and
/// `sgn = sum(g * n)` over `N` values: `dbeta = sg`, `dgamma = sgn` and
/// `dx = gamma * inv * (g - sg / N - n * sgn / N)`, i.e. `a g + b x + c`.
pub fn gradients(
    p: &Planes,
    x: &[f32],
    g: &[f32],
    [mean, variance, gamma]: [&[f32]; 3],
    epsilon: f32,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let inv = inverse_std(variance, epsilon);
    let sums = per_channel(
        p.channels,
        #[inline(always)]
        |c| {
            let (mut sg, mut sgx) = (0.0f64, 0.0f64);
            for (gs, xs) in p.of(g, c).zip(p.of(x, c)) {
                sg += sum(gs, |a| a);
                sgx += f64::from(dot(gs, xs));
            }
            // sum(g * (x - mean)) * inv
            let sgn = (sgx - f64::from(mean[c]) * sg) * f64::from(inv[c]);
            (sg as f32, sgn as f32)
        },
    );
    let (dbeta, dgamma): (Vec<f32>, Vec<f32>) = sums.into_iter().unzip();
    let n = p.count().max(1) as f32;
    let a: Vec<f32> = (0..p.channels).map(|c| gamma[c] * inv[c]).collect();
    let b: Vec<f32> = (0..p.channels).map(|c| -a[c] * inv[c] * dgamma[c] / n).collect();
    let k: Vec<f32> = (0..p.channels).map(|c| -a[c] * dbeta[c] / n - b[c] * mean[c]).collect();
    (affine(p, g, Some((x, &b)), &a, &k), dgamma, dbeta)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 100.0 - 5.0)
            .collect()
    }

    /// The plain definitions, channel by channel in f64.
    fn reference(p: &Planes, x: &[f32], c: usize) -> (f64, f64) {
        let v: Vec<f64> = p.of(x, c).flatten().map(|&a| f64::from(a)).collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / v.len() as f64;
        (mean, var)
    }

    #[test]
    fn statistics_and_normalisation_are_the_definitions() {
        let p = Planes { batch: 3, channels: 4, plane: 13 };
        let x = values(3 * 4 * 13, 7);
        let (mean, var) = statistics(&p, &x);
        let gamma = [1.0, 0.5, -2.0, 3.0];
        let beta = [0.0, 1.0, -1.0, 0.25];
        let y = normalize(&p, &x, [&mean, &var, &gamma, &beta], 1e-3);
        for c in 0..4 {
            let (m, v) = reference(&p, &x, c);
            assert!((f64::from(mean[c]) - m).abs() < 1e-5 && (f64::from(var[c]) - v).abs() < 1e-4);
            for (ys, xs) in p.of(&y, c).zip(p.of(&x, c)) {
                for (out, inp) in ys.iter().zip(xs) {
                    let want = f64::from(gamma[c]) * (f64::from(*inp) - m) / (v + 1e-3).sqrt()
                        + f64::from(beta[c]);
                    assert!((f64::from(*out) - want).abs() < 1e-4, "channel {c}");
                }
            }
        }
    }

    /// The gradients against central differences of `sum(w * normalize(x))`.
    #[test]
    fn gradients_match_finite_differences() {
        let p = Planes { batch: 2, channels: 3, plane: 10 };
        let x = values(60, 3);
        let w = values(60, 11);
        let gamma = vec![1.5, -0.5, 2.0];
        let beta = vec![0.1, 0.2, 0.3];
        let loss = |x: &[f32], gamma: &[f32], beta: &[f32]| -> f64 {
            let (mean, var) = statistics(&p, x);
            let y = normalize(&p, x, [&mean, &var, gamma, beta], 1e-3);
            y.iter().zip(&w).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum()
        };
        let (mean, var) = statistics(&p, &x);
        let (dx, dgamma, dbeta) = gradients(&p, &x, &w, [&mean, &var, &gamma], 1e-3);
        let h = 1e-2f32;
        let numeric = |f: &dyn Fn(f32) -> f64| (f(h) - f(-h)) / (2.0 * f64::from(h));
        for i in [0, 7, 23, 41, 59] {
            let d = numeric(&|e| {
                let mut x = x.clone();
                x[i] += e;
                loss(&x, &gamma, &beta)
            });
            assert!((d - f64::from(dx[i])).abs() < 2e-2, "dx[{i}]: {d} vs {}", dx[i]);
        }
        for c in 0..3 {
            let dg = numeric(&|e| {
                let mut g = gamma.clone();
                g[c] += e;
                loss(&x, &g, &beta)
            });
            let db = numeric(&|e| {
                let mut b = beta.clone();
                b[c] += e;
                loss(&x, &gamma, &b)
            });
            assert!((dg - f64::from(dgamma[c])).abs() < 2e-2, "dgamma[{c}]");
            assert!((db - f64::from(dbeta[c])).abs() < 2e-2, "dbeta[{c}]");
        }
    }
}
