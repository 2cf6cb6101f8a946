//! The gradients of a depthwise convolution and of ReLU6 on plain f32
//! slices (NCHW, contiguous). burn's generic depthwise gradient runs one
//! small convolution per channel; these walk each channel's planes once.

/// Shape of a depthwise convolution: one `k` x `k` filter per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Depthwise {
    pub batch: usize,
    pub channels: usize,
    /// Input height and width.
    pub input: [usize; 2],
    /// Output height and width.
    pub output: [usize; 2],
    pub kernel: usize,
    pub stride: usize,
    /// Zero rows above and columns left of the input.
    pub padding: [usize; 2],
}

impl Depthwise {
    fn input_plane(&self) -> usize {
        self.input[0] * self.input[1]
    }

    fn output_plane(&self) -> usize {
        self.output[0] * self.output[1]
    }

    /// The output positions `o` whose tap `t` lands inside an input of
    /// `size` (`o * stride + t - pad` in `[0, size)`), as a range.
    fn valid(&self, t: usize, pad: usize, size: usize, out: usize) -> std::ops::Range<usize> {
        let s = self.stride;
        // o * s + t >= pad  <=>  o >= ceil((pad - t) / s)
        let first = pad.saturating_sub(t).div_ceil(s);
        // o * s + t - pad <= size - 1  <=>  o <= (size - 1 + pad - t) / s
        let last = (size + pad).checked_sub(t + 1).map_or(0, |v| v / s + 1);
        first.min(out)..last.min(out).max(first.min(out))
    }
}

/// Runs `f(index, chunk)` over consecutive `chunk`-sized pieces of `out`, in
/// parallel where threads exist.
pub(super) fn for_each_chunk(
    out: &mut [f32],
    chunk: usize,
    f: impl Fn(usize, &mut [f32]) + Sync + Send,
) {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        out.par_chunks_mut(chunk).enumerate().for_each(|(i, c)| f(i, c));
    }
    #[cfg(target_arch = "wasm32")]
    out.chunks_mut(chunk).enumerate().for_each(|(i, c)| f(i, c));
}

/// ReLU6 in place: `min(max(x, 0), 6)`.
pub fn relu6_in_place(values: &mut [f32]) {
    const CHUNK: usize = 1 << 16;
    for_each_chunk(values, CHUNK, |_, chunk| {
        for v in chunk {
            *v = v.clamp(0.0, 6.0);
        }
    });
}

/// Adds each channel's bias to its planes (NCHW, `plane` values each) and,
/// with `relu6`, clamps to `[0, 6]`, in one pass over the values.
pub fn bias_relu6_in_place(values: &mut [f32], bias: &[f32], plane: usize, relu6: bool) {
    // Whole planes per task, at least ~16k values, so small late-layer
    // planes (7x7) do not become thousands of tiny tasks.
    let planes = (1usize << 14).div_ceil(plane.max(1)).max(1);
    let channels = bias.len().max(1);
    for_each_chunk(values, planes * plane.max(1), |chunk, part| {
        for (i, plane_values) in part.chunks_mut(plane.max(1)).enumerate() {
            let b = bias[(chunk * planes + i) % channels];
            if relu6 {
                plane_values.iter_mut().for_each(|v| *v = (*v + b).clamp(0.0, 6.0));
            } else {
                plane_values.iter_mut().for_each(|v| *v += b);
            }
        }
    });
}

/// Gradient with respect to the input: every output gradient spread back
/// over the input pixels its filter read.
pub fn depthwise_input_grad(shape: &Depthwise, weight: &[f32], grad: &[f32]) -> Vec<f32> {
    let (k, s) = (shape.kernel, shape.stride);
    let [h, w] = shape.input;
    let [oh, ow] = shape.output;
    let [pt, pl] = shape.padding;
    let mut out = vec![0.0f32; shape.batch * shape.channels * shape.input_plane()];
    for_each_chunk(&mut out, shape.input_plane(), |plane, dx| {
        let channel = plane % shape.channels;
        let dy = &grad[plane * shape.output_plane()..(plane + 1) * shape.output_plane()];
        let filter = &weight[channel * k * k..(channel + 1) * k * k];
        for i in 0..k {
            let rows = shape.valid(i, pt, h, oh);
            for j in 0..k {
                let cols = shape.valid(j, pl, w, ow);
                let tap = filter[i * k + j];
                for oy in rows.clone() {
                    let iy = oy * s + i - pt;
                    let dy_row = &dy[oy * ow..(oy + 1) * ow];
                    let dx_row = &mut dx[iy * w..(iy + 1) * w];
                    if s == 1 {
                        let shift = j as isize - pl as isize;
                        let (a, b) = (cols.start, cols.end);
                        let dst = &mut dx_row
                            [(a as isize + shift) as usize..(b as isize + shift) as usize];
                        for (d, g) in dst.iter_mut().zip(&dy_row[a..b]) {
                            *d += tap * g;
                        }
                    } else {
                        for ox in cols.clone() {
                            dx_row[ox * s + j - pl] += tap * dy_row[ox];
                        }
                    }
                }
            }
        }
    });
    out
}

/// Gradient with respect to the filters: for each tap, the sum over the
/// batch of output gradient times the input pixel the tap read.
pub fn depthwise_weight_grad(shape: &Depthwise, input: &[f32], grad: &[f32]) -> Vec<f32> {
    let (k, s) = (shape.kernel, shape.stride);
    let [h, w] = shape.input;
    let [oh, ow] = shape.output;
    let [pt, pl] = shape.padding;
    let mut out = vec![0.0f32; shape.channels * k * k];
    for_each_chunk(&mut out, k * k, |channel, dw| {
        for b in 0..shape.batch {
            let plane = b * shape.channels + channel;
            let x = &input[plane * shape.input_plane()..(plane + 1) * shape.input_plane()];
            let dy = &grad[plane * shape.output_plane()..(plane + 1) * shape.output_plane()];
            for i in 0..k {
                let rows = shape.valid(i, pt, h, oh);
                for j in 0..k {
                    let cols = shape.valid(j, pl, w, ow);
                    let mut sum = 0.0f32;
                    for oy in rows.clone() {
                        let x_row = &x[(oy * s + i - pt) * w..(oy * s + i - pt + 1) * w];
                        let dy_row = &dy[oy * ow..(oy + 1) * ow];
                        if s == 1 {
                            let start = cols.start + j - pl;
                            let xs = &x_row[start..start + cols.len()];
                            sum += xs
                                .iter()
                                .zip(&dy_row[cols.clone()])
                                .map(|(a, b)| a * b)
                                .sum::<f32>();
                        } else {
                            for ox in cols.clone() {
                                sum += x_row[ox * s + j - pl] * dy_row[ox];
                            }
                        }
                    }
                    dw[i * k + j] += sum;
                }
            }
        }
    });
    out
}

/// Gradient of ReLU6 with respect to its input `x`: passed where `0 < x < 6`.
pub fn relu6_grad(x: &[f32], grad: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0f32; x.len()];
    const CHUNK: usize = 1 << 16;
    for_each_chunk(&mut out, CHUNK, |c, dst| {
        let at = c * CHUNK;
        for ((d, &v), &g) in dst.iter_mut().zip(&x[at..]).zip(&grad[at..]) {
            *d = if v > 0.0 && v < 6.0 { g } else { 0.0 };
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The forward convolution, written the slow and obvious way.
    fn forward(shape: &Depthwise, x: &[f32], weight: &[f32]) -> Vec<f32> {
        let (k, s) = (shape.kernel, shape.stride);
        let [h, w] = shape.input;
        let [oh, ow] = shape.output;
        let mut y = vec![0.0; shape.batch * shape.channels * oh * ow];
        for b in 0..shape.batch {
            for c in 0..shape.channels {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut sum = 0.0;
                        for i in 0..k {
                            for j in 0..k {
                                let iy = (oy * s + i) as isize - shape.padding[0] as isize;
                                let ix = (ox * s + j) as isize - shape.padding[1] as isize;
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                    let xi = ((b * shape.channels + c) * h + iy as usize) * w
                                        + ix as usize;
                                    sum += x[xi] * weight[c * k * k + i * k + j];
                                }
                            }
                        }
                        y[((b * shape.channels + c) * oh + oy) * ow + ox] = sum;
                    }
                }
            }
        }
        y
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 16) as f32 / 65536.0
                    - 0.5
            })
            .collect()
    }

    /// The adjoint identity <forward(x), g> = <x, dx(g)> and = <w, dw(g)>
    /// checks both gradients against the plain forward convolution.
    #[test]
    fn gradients_are_the_adjoints_of_the_convolution() {
        for (kernel, stride, size) in [
            (3usize, 1usize, 7usize),
            (5, 1, 6),
            (3, 2, 7),
            (5, 2, 8),
            (3, 2, 6),
            (5, 1, 1),
            (5, 2, 2),
            (3, 2, 1),
        ] {
            // TensorFlow "same" padding: the output is ceil(size / stride).
            let out = size.div_ceil(stride);
            let total = ((out - 1) * stride + kernel).saturating_sub(size);
            let pad = total / 2;
            let shape = Depthwise {
                batch: 2,
                channels: 3,
                input: [size, size + 1],
                output: [out, (size + 1).div_ceil(stride)],
                kernel,
                stride,
                padding: [pad, pad],
            };
            let x = values(2 * 3 * size * (size + 1), 1);
            let weight = values(3 * kernel * kernel, 2);
            let g = values(2 * 3 * shape.output[0] * shape.output[1], 3);
            let y = forward(&shape, &x, &weight);
            let dot = |a: &[f32], b: &[f32]| {
                a.iter().zip(b).map(|(p, q)| f64::from(*p) * f64::from(*q)).sum::<f64>()
            };
            let lhs = dot(&y, &g);
            let dx = depthwise_input_grad(&shape, &weight, &g);
            let dw = depthwise_weight_grad(&shape, &x, &g);
            assert!((lhs - dot(&x, &dx)).abs() < 1e-4, "input gradient, k {kernel} s {stride}");
            assert!(
                (lhs - dot(&weight, &dw)).abs() < 1e-4,
                "weight gradient, k {kernel} s {stride}"
            );
        }
    }

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
