//! The gradients of a depthwise convolution on plain f32 slices (NCHW,
//! contiguous): one `k` x `k` filter per channel, "same" padding.
//!
//! burn's CPU backend computes the filter gradient as one small
//! convolution per channel and reads stride-2 planes one pixel at a time.
//! Here every read is a contiguous run: a stride-`s` plane is regrouped by
//! column remainder (its phases, as in [`direct`]), so tap `j` of outputs
//! `ox..` reads consecutive values of one phase.

use std::ops::Range;

use super::direct::{self, Direct};
use super::kernels::{dot, for_each_chunk};

/// Where filter column `tap` reads in a row: outputs `outputs` read
/// `outputs.len()` consecutive values of phase `phase` from column `from`.
#[derive(Debug, Clone)]
struct Run {
    tap: usize,
    outputs: Range<usize>,
    phase: usize,
    from: usize,
}

/// Width of a phase: the columns of one remainder.
fn phase_width(d: &Direct) -> usize {
    d.input[1].div_ceil(d.stride)
}

/// The output positions `o` whose tap `t` lands inside an input of `size`
/// (`o * stride + t - pad` in `[0, size)`), as a range.
fn valid(d: &Direct, t: usize, pad: usize, size: usize, out: usize) -> Range<usize> {
    let s = d.stride;
    // o * s + t >= pad  <=>  o >= ceil((pad - t) / s)
    let first = pad.saturating_sub(t).div_ceil(s);
    // o * s + t - pad <= size - 1  <=>  o <= (size - 1 + pad - t) / s
    let last = (size + pad).checked_sub(t + 1).map_or(0, |v| v / s + 1);
    first.min(out)..last.min(out).max(first.min(out))
}

/// The input row of output row `oy` under filter row `i`, if inside.
fn row(d: &Direct, oy: usize, i: usize) -> Option<usize> {
    (oy * d.stride + i).checked_sub(d.padding[0]).filter(|&r| r < d.input[0])
}

/// The run of every filter column that reads inside the input.
fn runs(d: &Direct) -> Vec<Run> {
    let (s, pad) = (d.stride, d.padding[1]);
    (0..d.kernel)
        .map(|tap| (tap, valid(d, tap, pad, d.input[1], d.output[1])))
        .filter(|(_, outputs)| !outputs.is_empty())
        .map(|(tap, outputs)| {
            // The first column read: not below zero, by `valid`.
            let column = outputs.start * s + tap - pad;
            Run { tap, outputs, phase: column % s, from: column / s }
        })
        .collect()
}

/// Adds `values`, a plane (`h` rows of `w`) with each row's columns
/// regrouped by their remainder modulo `stride`, back into `plane`: phase
/// `p` of row `r` holds columns `p, p + stride, ...` at `(p * h + r) *
/// width`, `width = ceil(w / stride)`.
#[inline(always)]
fn add_phases(values: &[f32], plane: &mut [f32], h: usize, w: usize, stride: usize) {
    let width = w.div_ceil(stride);
    for (r, row) in plane.chunks_exact_mut(w).enumerate() {
        for p in 0..stride {
            let src = &values[(p * h + r) * width..][..width];
            for (d, &v) in row.iter_mut().skip(p).step_by(stride).zip(src) {
                *d += v;
            }
        }
    }
}

/// Gradient with respect to the input: every output gradient spread back
/// over the input pixels its filter read.
pub fn input_grad(shape: &Direct, weight: &[f32], grad: &[f32]) -> Vec<f32> {
    let (k, s, [h, w], [oh, ow]) = (shape.kernel, shape.stride, shape.input, shape.output);
    if s == 1 && shape.padding.iter().all(|&p| p < k) {
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
    let (runs, width) = (runs(shape), phase_width(shape));
    let mut out = vec![0.0f32; shape.batch * shape.channels[0] * shape.input_plane()];
    for_each_chunk(
        &mut out,
        shape.input_plane().max(1),
        #[inline(always)]
        |plane, dx| {
            let channel = plane % shape.channels[0];
            let dy = &grad[plane * shape.output_plane()..][..shape.output_plane()];
            let filter = &weight[channel * k * k..][..k * k];
            // Summed in the phase layout (the plane itself at stride 1).
            let mut regrouped = if s == 1 { Vec::new() } else { vec![0.0f32; s * h * width] };
            let sums: &mut [f32] = if s == 1 { &mut *dx } else { &mut regrouped };
            for oy in 0..oh {
                let dy_row = &dy[oy * ow..][..ow];
                for i in 0..k {
                    let Some(iy) = row(shape, oy, i) else { continue };
                    for run in &runs {
                        let tap = filter[i * k + run.tap];
                        let dst = &mut sums[(run.phase * h + iy) * width + run.from..];
                        for (d, &g) in dst.iter_mut().zip(&dy_row[run.outputs.clone()]) {
                            *d += tap * g;
                        }
                    }
                }
            }
            if s > 1 {
                add_phases(&regrouped, dx, h, w, s);
            }
        },
    );
    out
}

/// Gradient with respect to the filters: for each tap, the sum over the
/// batch of output gradient times the input pixel the tap read.
///
/// The input plane goes into the forward kernel's padded phase layout and
/// the output gradient into rows of the same step (`stride` phase rows),
/// zero past its width: a tap then reads every output's pixel at one fixed
/// offset, so its sum is one dot product over the whole plane, not one per
/// output row (on the 7x7 and 14x14 planes of the last blocks those were
/// 3 to 14 values long, too short to vectorise).
pub fn weight_grad(shape: &Direct, input: &[f32], grad: &[f32]) -> Vec<f32> {
    let (k, s, [oh, ow]) = (shape.kernel, shape.stride, shape.output);
    let (rows, width) = (shape.phase_rows(), shape.phase_width());
    let step = s * width;
    let offsets: Vec<usize> =
        (0..k * k).map(|t| ((t % k % s) * rows + t / k) * width + t % k / s).collect();
    let mut out = vec![0.0f32; shape.channels[0] * k * k];
    for_each_chunk(
        &mut out,
        k * k,
        #[inline(always)]
        |channel, dw| {
            let mut xs = vec![0.0f32; shape.phase_plane()];
            // Zero past each row's `ow` values, written once.
            let mut dys = vec![0.0f32; oh * step];
            for b in 0..shape.batch {
                let plane = b * shape.channels[0] + channel;
                direct::phases(
                    shape,
                    &input[plane * shape.input_plane()..][..shape.input_plane()],
                    &mut xs,
                );
                let dy = &grad[plane * shape.output_plane()..][..shape.output_plane()];
                for (dst, src) in dys.chunks_exact_mut(step).zip(dy.chunks_exact(ow.max(1))) {
                    dst[..ow].copy_from_slice(src);
                }
                for (d, &at) in dw.iter_mut().zip(&offsets) {
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
    fn regrouped_columns_go_back_to_their_places() {
        // Two rows of five: phase 0 holds columns 0, 2, 4; phase 1 columns 1, 3.
        let regrouped = [0.0, 2.0, 4.0, 5.0, 7.0, 9.0, 1.0, 3.0, 0.0, 6.0, 8.0, 0.0];
        let mut back = vec![1.0; 10];
        add_phases(&regrouped, &mut back, 2, 5, 2);
        assert_eq!(back, (0..10).map(|v| v as f32 + 1.0).collect::<Vec<_>>());
    }
}
