//! Element-wise kernels on plain f32 slices (NCHW, contiguous): ReLU6, its
//! gradient, a convolution's bias, and the parallel and vectorised loop
//! they all run in.

/// Runs `f` compiled for the widest vector instructions this CPU has
/// (chosen at run time: AVX-512, AVX2 or SSE on x86-64). The plain loops of
/// these kernels vectorise only as wide as the code around them, and a
/// portable build targets SSE.
#[inline(always)]
pub(super) fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    macerator::AutoArch::new().dispatch(f)
}

/// Runs `f(index, chunk)` over consecutive `chunk`-sized pieces of `out`, in
/// parallel where threads exist, each [`vectorized`].
pub(super) fn for_each_chunk(
    out: &mut [f32],
    chunk: usize,
    f: impl Fn(usize, &mut [f32]) + Sync + Send,
) {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        out.par_chunks_mut(chunk).enumerate().for_each(|(i, c)| {
            vectorized(
                #[inline(always)]
                || f(i, c),
            )
        });
    }
    #[cfg(target_arch = "wasm32")]
    out.chunks_mut(chunk).enumerate().for_each(|(i, c)| {
        vectorized(
            #[inline(always)]
            || f(i, c),
        )
    });
}

/// `sum(a * b)` over the shorter of the two, in eight lanes so that it
/// vectorises.
#[inline(always)]
pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut lanes = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            lanes[l] += x[l] * y[l];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// Test values in [-0.5, 0.5), different for each `seed`.
#[cfg(test)]
pub(super) fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 16) as f32 / 65536.0 - 0.5
        })
        .collect()
}

/// ReLU6 in place: `min(max(x, 0), 6)`.
pub fn relu6_in_place(values: &mut [f32]) {
    const CHUNK: usize = 1 << 16;
    for_each_chunk(
        values,
        CHUNK,
        #[inline(always)]
        |_, chunk| {
            for v in chunk {
                *v = v.clamp(0.0, 6.0);
            }
        },
    );
}

/// ReLU6 into a new buffer, the input kept.
pub fn relu6(x: &[f32]) -> Vec<f32> {
    const CHUNK: usize = 1 << 16;
    let mut out = vec![0.0f32; x.len()];
    for_each_chunk(
        &mut out,
        CHUNK,
        #[inline(always)]
        |c, dst| {
            for (d, &v) in dst.iter_mut().zip(&x[c * CHUNK..]) {
                *d = v.clamp(0.0, 6.0);
            }
        },
    );
    out
}

/// Adds each channel's bias to its planes (NCHW, `plane` values each) and,
/// with `relu6`, clamps to `[0, 6]`, in one pass over the values.
pub fn bias_relu6_in_place(values: &mut [f32], bias: &[f32], plane: usize, relu6: bool) {
    // Whole planes per task, at least ~16k values, so small late-layer
    // planes (7x7) do not become thousands of tiny tasks.
    let planes = (1usize << 14).div_ceil(plane.max(1)).max(1);
    let channels = bias.len().max(1);
    for_each_chunk(
        values,
        planes * plane.max(1),
        #[inline(always)]
        |chunk, part| {
            for (i, plane_values) in part.chunks_mut(plane.max(1)).enumerate() {
                let b = bias[(chunk * planes + i) % channels];
                if relu6 {
                    plane_values.iter_mut().for_each(|v| *v = (*v + b).clamp(0.0, 6.0));
                } else {
                    plane_values.iter_mut().for_each(|v| *v += b);
                }
            }
        },
    );
}

/// Gradient of ReLU6 with respect to its input `x`: passed where `0 < x < 6`.
pub fn relu6_grad(x: &[f32], grad: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0f32; x.len()];
    const CHUNK: usize = 1 << 16;
    for_each_chunk(
        &mut out,
        CHUNK,
        #[inline(always)]
        |c, dst| {
            let at = c * CHUNK;
            for ((d, &v), &g) in dst.iter_mut().zip(&x[at..]).zip(&grad[at..]) {
                *d = if v > 0.0 && v < 6.0 { g } else { 0.0 };
            }
        },
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bias_and_relu6_apply_per_channel() {
        // 2 images x 3 channels x 2 values per plane.
        let x: Vec<f32> = (0..12).map(|i| i as f32 - 4.0).collect();
        let bias = [1.0, -1.0, 0.5];
        let mut plain = x.clone();
        bias_relu6_in_place(&mut plain, &bias, 2, false);
        let expected: Vec<f32> = x.iter().enumerate().map(|(i, v)| v + bias[(i / 2) % 3]).collect();
        assert_eq!(plain, expected);
        let mut clamped = x.clone();
        bias_relu6_in_place(&mut clamped, &bias, 2, true);
        assert_eq!(clamped, expected.iter().map(|v| v.clamp(0.0, 6.0)).collect::<Vec<_>>());
        // Many small planes: chunks span several planes and must keep the channel.
        let (channels, plane) = (1280, 4);
        let bias: Vec<f32> = (0..channels).map(|c| c as f32).collect();
        let mut v = vec![0.0f32; 2 * channels * plane];
        bias_relu6_in_place(&mut v, &bias, plane, false);
        assert!(v.iter().enumerate().all(|(i, x)| *x == ((i / plane) % channels) as f32));
    }

    #[test]
    fn relu6_passes_the_gradient_only_inside_its_linear_range() {
        let x = [-1.0, 0.0, 0.5, 5.9, 6.0, 7.0];
        assert_eq!(relu6_grad(&x, &[1.0; 6]), vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
        let mut v = x.to_vec();
        relu6_in_place(&mut v);
        assert_eq!(v, vec![0.0, 0.0, 0.5, 5.9, 6.0, 6.0]);
    }
}
