//! The gradients of a depthwise convolution on plain f32 slices (NCHW,
//! contiguous): one `k` x `k` filter per channel, "same" padding.
//!
//! burn's CPU backend computes the filter gradient as one small
//! convolution per channel and reads stride-2 planes one pixel at a time.
//! Here both gradients work in the forward kernel's padded phase layout
//! ([`direct`]: each row's columns regrouped by remainder modulo the
//! stride), with the output gradient in rows of the same step, zero past
//! its width: filter tap `t` then meets every output at one fixed offset
//! of the layout, so its share of a gradient is one contiguous loop over
//! the whole plane, not one loop per output row (3 to 14 values on the
//! 7x7 and 14x14 planes of the last blocks, too short for vectors).

use super::direct::{self, Direct};
use super::kernels::{dot, for_each_chunk};

/// Where each filter tap meets the outputs in the phase layout.
struct Taps {
    /// Values from one output row to the next in the layout: `stride`
    /// phase rows.
    step: usize,
    /// Tap `t`'s offset: output `(oy, ox)` meets the layout's value at
    /// `offsets[t] + oy * step + ox`.
    offsets: Vec<usize>,
}

impl Taps {
    fn new(d: &Direct) -> Self {
        let (k, s, rows, width) = (d.kernel, d.stride, d.phase_rows(), d.phase_width());
        // Output (oy, ox) reads padded row oy * s + i and padded column
        // ox * s + j: phase j % s, column ox + j / s.
        let offsets = (0..k * k).map(|t| ((t % k % s) * rows + t / k) * width + t % k / s);
        Taps { step: s * width, offsets: offsets.collect() }
    }

    /// Room for one output plane in rows of `step`, zero.
    fn rows(&self, d: &Direct) -> Vec<f32> {
        vec![0.0f32; d.output[0] * self.step]
    }

    /// Output plane `dy` into `rows` (from [`Taps::rows`]), each row at the
    /// start of its step: the rest stays zero.
    fn put(&self, d: &Direct, dy: &[f32], rows: &mut [f32]) {
        let ow = d.output[1].max(1);
        for (dst, src) in rows.chunks_exact_mut(self.step).zip(dy.chunks_exact(ow)) {
            dst[..ow].copy_from_slice(src);
        }
    }
}

/// The input plane's own values out of the phase layout: the inverse of
/// [`direct::phases`], the padding dropped.
#[inline(always)]
fn unphase(d: &Direct, layout: &[f32], plane: &mut [f32]) {
    let ([_, w], s, [top, left]) = (d.input, d.stride, d.padding);
    let (rows, width) = (d.phase_rows(), d.phase_width());
    for (r, row) in plane.chunks_exact_mut(w.max(1)).enumerate() {
        for (c, v) in row.iter_mut().enumerate() {
            let column = c + left;
            *v = layout[((column % s) * rows + r + top) * width + column / s];
        }
    }
}

/// Gradient with respect to the input: every output gradient spread back
/// over the input pixels its filter read.
pub fn input_grad(shape: &Direct, weight: &[f32], grad: &[f32]) -> Vec<f32> {
    let k = shape.kernel;
    if shape.stride == 1 && shape.padding.iter().all(|&p| p < k) {
        // At stride 1 this is the convolution of the gradient by the
        // filters turned half a turn: the forward kernel's register blocks.
        let turned: Vec<f32> =
            weight.chunks_exact(k * k).flat_map(|f| f.iter().rev().copied()).collect();
        let transposed = Direct {
            input: shape.output,
            output: shape.input,
            kernel: k,
            stride: 1,
            padding: shape.padding.map(|p| k - 1 - p),
            ..*shape
        };
        return direct::forward(&transposed, grad, &turned, None, false);
    }
    let taps = Taps::new(shape);
    let mut out = vec![0.0f32; shape.batch * shape.channels[0] * shape.input_plane()];
    for_each_chunk(
        &mut out,
        shape.input_plane().max(1),
        #[inline(always)]
        |plane, dx| {
            let filter = &weight[plane % shape.channels[0] * k * k..][..k * k];
            let dy = &grad[plane * shape.output_plane()..][..shape.output_plane()];
            let mut dys = taps.rows(shape);
            taps.put(shape, dy, &mut dys);
            // Summed in the phase layout, then taken out of it.
            let mut sums = vec![0.0f32; shape.phase_plane()];
            for (&tap, &at) in filter.iter().zip(&taps.offsets) {
                // What falls past the layout's end is only the zeros of `dys`.
                let dst = sums.get_mut(at..).unwrap_or_default();
                for (d, &g) in dst.iter_mut().zip(&dys) {
                    *d += tap * g;
                }
            }
            unphase(shape, &sums, dx);
        },
    );
    out
}

/// Gradient with respect to the filters: for each tap, the sum over the
/// batch of output gradient times the input pixel the tap read, one dot
/// product per tap and image.
pub fn weight_grad(shape: &Direct, input: &[f32], grad: &[f32]) -> Vec<f32> {
    let k = shape.kernel;
    let taps = Taps::new(shape);
    let mut out = vec![0.0f32; shape.channels[0] * k * k];
    for_each_chunk(
        &mut out,
        k * k,
        #[inline(always)]
        |channel, dw| {
            let (mut xs, mut dys) = (vec![0.0f32; shape.phase_plane()], taps.rows(shape));
            for b in 0..shape.batch {
                let plane = b * shape.channels[0] + channel;
                let x = &input[plane * shape.input_plane()..][..shape.input_plane()];
                direct::phases(shape, x, &mut xs);
                let dy = &grad[plane * shape.output_plane()..][..shape.output_plane()];
                taps.put(shape, dy, &mut dys);
                for (d, &at) in dw.iter_mut().zip(&taps.offsets) {
                    // Reads past the layout's end meet only the zeros of `dys`.
                    *d += dot(xs.get(at..).unwrap_or_default(), &dys);
                }
            }
        },
    );
    out
}

#[cfg(test)]
mod tests {
    use super::super::kernels::values;
    use super::*;

    /// The convolution written the slow and obvious way.
    fn reference(shape: &Direct, x: &[f32], weight: &[f32]) -> Vec<f32> {
        let (k, s) = (shape.kernel, shape.stride);
        let [h, w] = shape.input;
        let [oh, ow] = shape.output;
        let mut y = vec![0.0; shape.batch * shape.channels[0] * oh * ow];
        for b in 0..shape.batch {
            for c in 0..shape.channels[0] {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut sum = 0.0;
                        for i in 0..k {
                            for j in 0..k {
                                let iy = (oy * s + i) as isize - shape.padding[0] as isize;
                                let ix = (ox * s + j) as isize - shape.padding[1] as isize;
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                    let xi = ((b * shape.channels[0] + c) * h + iy as usize) * w
                                        + ix as usize;
                                    sum += x[xi] * weight[c * k * k + i * k + j];
                                }
                            }
                        }
                        y[((b * shape.channels[0] + c) * oh + oy) * ow + ox] = sum;
                    }
                }
            }
        }
        y
    }

    /// TensorFlow "same" shapes of the network's filters and strides, odd
    /// and even sizes, down to planes smaller than the filter.
    fn shapes() -> Vec<Direct> {
        let mut all = Vec::new();
        for (kernel, stride) in [(3usize, 1usize), (5, 1), (3, 2), (5, 2)] {
            for size in [1usize, 2, 6, 7, 8, 11, 40] {
                let out = size.div_ceil(stride);
                let total = ((out - 1) * stride + kernel).saturating_sub(size);
                let pad = total / 2;
                let wide = size + 1;
                let total_w = ((wide.div_ceil(stride) - 1) * stride + kernel).saturating_sub(wide);
                all.push(Direct {
                    batch: 2,
                    channels: [3, 3],
                    group: 1,
                    input: [size, wide],
                    output: [out, wide.div_ceil(stride)],
                    kernel,
                    stride,
                    padding: [pad, total_w / 2],
                });
            }
        }
        all
    }

    /// The adjoint identity <forward(x), g> = <x, dx(g)> and = <w, dw(g)>
    /// checks both gradients against the plain convolution.
    #[test]
    fn gradients_are_the_adjoints_of_the_convolution() {
        for shape in shapes() {
            let x = values(shape.batch * shape.channels[0] * shape.input_plane(), 1);
            let weight = values(shape.channels[0] * shape.kernel * shape.kernel, 2);
            let g = values(shape.batch * shape.channels[0] * shape.output_plane(), 3);
            let y = reference(&shape, &x, &weight);
            let dot = |a: &[f32], b: &[f32]| {
                a.iter().zip(b).map(|(p, q)| f64::from(*p) * f64::from(*q)).sum::<f64>()
            };
            let lhs = dot(&y, &g);
            let dx = input_grad(&shape, &weight, &g);
            let dw = weight_grad(&shape, &x, &g);
            assert!((lhs - dot(&x, &dx)).abs() < 1e-4, "input gradient, {shape:?}");
            assert!((lhs - dot(&weight, &dw)).abs() < 1e-4, "weight gradient, {shape:?}");
        }
    }

    /// Each filter tap's gradient, entry by entry: the sum over the batch
    /// and the outputs of the output gradient times the input pixel read.
    #[test]
    fn each_taps_gradient_is_its_own_sum() {
        for shape in shapes() {
            let (k, s, [h, w], [oh, ow]) = (shape.kernel, shape.stride, shape.input, shape.output);
            let x = values(shape.batch * shape.channels[0] * shape.input_plane(), 4);
            let g = values(shape.batch * shape.channels[0] * shape.output_plane(), 5);
            let dw = weight_grad(&shape, &x, &g);
            for c in 0..shape.channels[0] {
                for (t, got) in dw[c * k * k..][..k * k].iter().enumerate() {
                    let mut want = 0.0f64;
                    for b in 0..shape.batch {
                        let plane = b * shape.channels[0] + c;
                        for oy in 0..oh {
                            for ox in 0..ow {
                                let iy = (oy * s + t / k).checked_sub(shape.padding[0]);
                                let ix = (ox * s + t % k).checked_sub(shape.padding[1]);
                                if let (Some(iy), Some(ix)) = (iy, ix)
                                    && iy < h
                                    && ix < w
                                {
                                    want += f64::from(x[(plane * h + iy) * w + ix])
                                        * f64::from(g[(plane * oh + oy) * ow + ox]);
                                }
                            }
                        }
                    }
                    assert!((f64::from(*got) - want).abs() < 1e-4, "tap {t}, {shape:?}");
                }
            }
        }
    }

    #[test]
    fn a_plane_comes_back_out_of_its_phase_layout() {
        for shape in shapes() {
            let plane = values(shape.input_plane(), 6);
            let mut layout = vec![f32::NAN; shape.phase_plane()];
            direct::phases(&shape, &plane, &mut layout);
            let mut back = vec![f32::NAN; plane.len()];
            unphase(&shape, &layout, &mut back);
            assert_eq!(back, plane, "{shape:?}");
        }
    }
}
