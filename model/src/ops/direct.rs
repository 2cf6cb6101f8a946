//! The forward pass of a convolution whose outputs each read few input
//! planes (the depthwise convolutions, and the stem's three colours),
//! computed directly on plain f32 slices (NCHW, contiguous), plus a bias and
//! ReLU6.
//!
//! burn's CPU backend reads stride-2 inputs one pixel at a time, stores
//! every output once per filter tap, and sends the stem through a scalar
//! reshuffle into a matrix product. Here each input plane is first copied
//! with its padding columns and its columns regrouped by remainder modulo
//! the stride (its *phases*), and with zero rows for its vertical padding,
//! so every filter tap reads a contiguous run; a block of outputs, a few
//! rows of a few columns, is summed over all taps in registers and stored
//! once. Rows are blocked too because the late planes are only 7 wide:
//! each tap, loaded once, then serves several rows.

use super::kernels::for_each_chunk;

/// Shape of a convolution with "same" padding and `k` x `k` filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Direct {
    pub batch: usize,
    /// Input and output channels.
    pub channels: [usize; 2],
    /// Input channels each output reads (the filter's second dimension):
    /// 1 for a depthwise convolution.
    pub group: usize,
    /// Input height and width.
    pub input: [usize; 2],
    /// Output height and width.
    pub output: [usize; 2],
    pub kernel: usize,
    pub stride: usize,
    /// Zero rows above and columns left of the input.
    pub padding: [usize; 2],
}

/// The widest block of outputs summed in registers.
const WIDEST: usize = 32;

impl Direct {
    /// Outputs of a row summed together: the block width with the fewest
    /// wasted lanes, counting each block's own cost as four.
    fn lanes(&self) -> usize {
        let width = self.output[1];
        [8, 16, WIDEST]
            .into_iter()
            .min_by_key(|&l| width.next_multiple_of(l) + 4 * width.div_ceil(l))
            .unwrap_or(WIDEST)
    }

    /// Width of one phase row: every block of outputs reads inside it.
    pub(super) fn phase_width(&self) -> usize {
        self.output[1].next_multiple_of(self.lanes()) + (self.kernel - 1) / self.stride + 1
    }

    /// Rows of one phase: the padded input rows the outputs read.
    pub(super) fn phase_rows(&self) -> usize {
        self.output[0].saturating_sub(1) * self.stride + self.kernel
    }

    /// Values of one input plane in the phase layout.
    pub(super) fn phase_plane(&self) -> usize {
        self.stride * self.phase_rows() * self.phase_width()
    }

    pub(super) fn input_plane(&self) -> usize {
        self.input[0] * self.input[1]
    }

    pub(super) fn output_plane(&self) -> usize {
        self.output[0] * self.output[1]
    }

    /// Output channels that share the same input channels.
    fn outputs_per_group(&self) -> usize {
        self.channels[1] / (self.channels[0] / self.group.max(1)).max(1)
    }

    /// Each input plane read by exactly one output (depthwise).
    fn depthwise(&self) -> bool {
        self.group == 1 && self.outputs_per_group() == 1
    }
}

/// Writes `plane` (one input plane) into `out` in the phase layout: phase
/// `p` of padded row `r` (input row `r - top`) at `(p * rows + r) * width`
/// holds padded columns `p, p + stride, ...`, zero where they fall outside
/// the plane.
#[inline(always)]
pub(super) fn phases(d: &Direct, plane: &[f32], out: &mut [f32]) {
    let ([h, w], s, [top, pad]) = (d.input, d.stride, d.padding);
    let (rows, width) = (d.phase_rows(), d.phase_width());
    for p in 0..s {
        for r in 0..rows {
            let dst = &mut out[(p * rows + r) * width..][..width];
            let Some(row) = r.checked_sub(top).filter(|&r| r < h).map(|r| &plane[r * w..][..w])
            else {
                dst.fill(0.0);
                continue;
            };
            if s == 1 {
                dst[..pad].fill(0.0);
                dst[pad..pad + w].copy_from_slice(row);
                dst[pad + w..].fill(0.0);
                continue;
            }
            for (m, d) in dst.iter_mut().enumerate() {
                let column = (m * s + p).checked_sub(pad).filter(|&c| c < w);
                *d = column.map_or(0.0, |c| row[c]);
            }
        }
    }
}

/// Where the filter taps read in the phase layout, worked out once per
/// convolution: `columns[j]` is where filter column `j` starts reading in
/// a phase plane's row.
struct Reads<'a> {
    columns: &'a [usize],
    /// Values per phase row, and per input plane.
    width: usize,
    plane: usize,
}

/// One output plane from the phase layouts of the input planes it reads
/// (`sources`, concatenated) and its filters (`[group, k, k]`), in blocks
/// of `R` rows of `L` outputs (fewer rows at the bottom): each tap is
/// loaded once and serves every row of its block.
///
/// The arguments stay separate: gathered in a struct (by value or by
/// reference), inference ran 1.7x slower on this machine.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn output_plane<const L: usize, const R: usize>(
    d: &Direct,
    sources: &[f32],
    filters: &[f32],
    reads: &Reads,
    bias: f32,
    relu6: bool,
    out: &mut [f32],
) {
    let (k, s, [oh, ow]) = (d.kernel, d.stride, d.output);
    let (width, plane) = (reads.width, reads.plane);
    for row in (0..oh).step_by(R) {
        let rows = R.min(oh - row);
        for column in (0..ow).step_by(L) {
            let mut sums = [[bias; L]; R];
            for g in 0..d.group {
                let source = &sources[g * plane..][..plane];
                for i in 0..k {
                    let taps = &filters[(g * k + i) * k..][..k];
                    // Output row `r` reads padded row `(row + r) * s + i`.
                    let (first, step) = ((row * s + i) * width + column, s * width);
                    for (&tap, &at) in taps.iter().zip(reads.columns) {
                        for (r, sums) in sums.iter_mut().take(rows).enumerate() {
                            let start = first + r * step + at;
                            let Some(values) = source.get(start..start + L) else { continue };
                            let Ok(values) = <&[f32; L]>::try_from(values) else { continue };
                            for l in 0..L {
                                sums[l] += tap * values[l];
                            }
                        }
                    }
                }
            }
            let end = ow.min(column + L);
            for (r, sums) in sums.iter().take(rows).enumerate() {
                let out_row = &mut out[(row + r) * ow..][column..end];
                for (o, &v) in out_row.iter_mut().zip(sums) {
                    *o = if relu6 { v.clamp(0.0, 6.0) } else { v };
                }
            }
        }
    }
}

/// The convolution of `x` by `weight` (`[outputs, group, k, k]`), plus
/// `bias` per output channel if given, then clamped to `[0, 6]` if `relu6`.
pub fn forward(
    d: &Direct,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    relu6: bool,
) -> Vec<f32> {
    let ([inputs, outputs], k, plane) = (d.channels, d.kernel, d.phase_plane());
    let input_plane = d.input_plane();
    // Inputs read by several outputs are laid out once, up front; a
    // depthwise input only by the task that reads it, while in cache.
    let mut shared = Vec::new();
    if !d.depthwise() {
        shared = vec![0.0f32; d.batch * inputs * plane];
        for_each_chunk(
            &mut shared,
            plane.max(1),
            #[inline(always)]
            |i, out| phases(d, &x[i * input_plane..][..input_plane], out),
        );
    }
    let width = d.phase_width();
    let columns: Vec<usize> =
        (0..k).map(|j| (j % d.stride) * d.phase_rows() * width + j / d.stride).collect();
    let reads = Reads { columns: &columns, width, plane };
    let mut out = vec![0.0f32; d.batch * outputs * d.output_plane()];
    for_each_chunk(
        &mut out,
        d.output_plane().max(1),
        #[inline(always)]
        |o, y| {
            let (b, c) = (o / outputs, o % outputs);
            let first = c / d.outputs_per_group() * d.group;
            let own;
            let sources = if d.depthwise() {
                let mut values = vec![0.0f32; plane];
                phases(d, &x[(b * inputs + c) * input_plane..][..input_plane], &mut values);
                own = values;
                &own[..]
            } else {
                &shared[(b * inputs + first) * plane..][..d.group * plane]
            };
            let filters = &weight[c * d.group * k * k..][..d.group * k * k];
            let b = bias.map_or(0.0, |b| b[c]);
            match d.lanes() {
                8 => output_plane::<8, 4>(d, sources, filters, &reads, b, relu6, y),
                16 => output_plane::<16, 4>(d, sources, filters, &reads, b, relu6, y),
                _ => output_plane::<WIDEST, 2>(d, sources, filters, &reads, b, relu6, y),
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
    fn reference(d: &Direct, x: &[f32], weight: &[f32], bias: &[f32]) -> Vec<f32> {
        let (k, s, [h, w], [oh, ow]) = (d.kernel, d.stride, d.input, d.output);
        let [inputs, outputs] = d.channels;
        let mut y = vec![0.0; d.batch * outputs * oh * ow];
        for b in 0..d.batch {
            for c in 0..outputs {
                let first = c / d.outputs_per_group() * d.group;
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut sum = bias[c];
                        for g in 0..d.group {
                            for i in 0..k {
                                for j in 0..k {
                                    let iy = (oy * s + i) as isize - d.padding[0] as isize;
                                    let ix = (ox * s + j) as isize - d.padding[1] as isize;
                                    if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w
                                    {
                                        let xi = ((b * inputs + first + g) * h + iy as usize) * w
                                            + ix as usize;
                                        sum += x[xi] * weight[((c * d.group + g) * k + i) * k + j];
                                    }
                                }
                            }
                        }
                        y[((b * outputs + c) * oh + oy) * ow + ox] = sum;
                    }
                }
            }
        }
        y
    }

    /// Depthwise and stem-like convolutions with the network's filters and
    /// strides, TensorFlow's "same" padding, odd and even sizes from
    /// smaller than the filter to wider than the widest block.
    #[test]
    fn the_forward_pass_is_the_convolution_plus_bias_and_relu6() {
        for (kernel, stride) in [(3usize, 1usize), (5, 1), (3, 2), (5, 2)] {
            for (height, width) in
                [(1usize, 2usize), (2, 3), (6, 7), (7, 8), (11, 12), (5, 41), (3, 70)]
            {
                for (channels, group) in [([3usize, 3usize], 1usize), ([3, 8], 3)] {
                    let same = |size: usize| {
                        let out = size.div_ceil(stride);
                        (out, ((out - 1) * stride + kernel).saturating_sub(size) / 2)
                    };
                    let ((oh, pt), (ow, pl)) = (same(height), same(width));
                    let d = Direct {
                        batch: 2,
                        channels,
                        group,
                        input: [height, width],
                        output: [oh, ow],
                        kernel,
                        stride,
                        padding: [pt, pl],
                    };
                    let x = values(2 * channels[0] * height * width, 1);
                    let weight: Vec<f32> = values(channels[1] * group * kernel * kernel, 2)
                        .iter()
                        .map(|v| v * 9.0)
                        .collect();
                    let bias: Vec<f32> = (0..channels[1]).map(|c| c as f32 * 0.75 - 1.0).collect();
                    let expected = reference(&d, &x, &weight, &bias);
                    let zero = vec![0.0; channels[1]];
                    let plain = forward(&d, &x, &weight, None, false);
                    let fused = forward(&d, &x, &weight, Some(&bias), true);
                    let unbiased = reference(&d, &x, &weight, &zero);
                    for (i, e) in expected.iter().enumerate() {
                        assert!((plain[i] - unbiased[i]).abs() < 1e-5, "{d:?} at {i}");
                        let f = e.clamp(0.0, 6.0);
                        assert!(
                            (fused[i] - f).abs() < 1e-5,
                            "{d:?} fused at {i}: {} vs {f}",
                            fused[i]
                        );
                    }
                }
            }
        }
    }

    /// One row of five, a 3x3 filter at stride 2.
    fn shape() -> Direct {
        Direct {
            batch: 1,
            channels: [1, 1],
            group: 1,
            input: [1, 5],
            output: [1, 3],
            kernel: 3,
            stride: 2,
            padding: [1, 1],
        }
    }

    #[test]
    fn phases_hold_the_padded_columns_by_remainder() {
        let d = shape();
        let plane = [1.0, 2.0, 3.0, 4.0, 5.0];
        let mut out = vec![f32::NAN; d.phase_plane()];
        phases(&d, &plane, &mut out);
        let width = d.phase_width();
        // Three padded rows, the plane's between two of zeros; its padded
        // columns 0 1 2 3 4 5 0 ...: even ones, then odd ones.
        assert_eq!(d.phase_rows(), 3);
        assert!(out[..width].iter().all(|&v| v == 0.0));
        assert_eq!(&out[width..width + 4], &[0.0, 2.0, 4.0, 0.0]);
        assert!(out[2 * width..3 * width].iter().all(|&v| v == 0.0));
        assert_eq!(&out[4 * width..4 * width + 4], &[1.0, 3.0, 5.0, 0.0]);
        assert!(out.iter().all(|v| !v.is_nan()));
    }

    #[test]
    fn blocks_waste_few_lanes() {
        let lanes = |width: usize| Direct { output: [1, width], ..shape() }.lanes();
        assert_eq!(lanes(5), 8);
        assert_eq!(lanes(10), 16);
        assert_eq!(lanes(80), 16);
        assert_eq!(lanes(96), 32);
    }
}
