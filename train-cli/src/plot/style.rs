//! Colours and text sizes shared by the plots, so they look alike.

use super::canvas::Rgb;

pub const WHITE: Rgb = [255, 255, 255];
/// Text and frames: a very dark grey, softer than black.
pub const INK: Rgb = [34, 34, 34];
pub const GRID: Rgb = [226, 226, 226];
/// Reference lines (chance, perfect calibration, stage change).
pub const REFERENCE: Rgb = [140, 140, 140];
/// The benign-vs-malignant curve, drawn over the per-class ones.
pub const EMPHASIS: Rgb = [0, 0, 0];

/// Scale of titles, tick labels and legends: 10x14 pixel glyphs.
pub const TEXT: u32 = 2;
/// Scale of small annotations.
pub const SMALL: u32 = 1;

/// Distinct series colours, chosen to stay apart on screen and in print.
const SERIES: [Rgb; 10] = [
    [31, 105, 180],
    [235, 120, 15],
    [40, 155, 55],
    [210, 40, 45],
    [135, 85, 190],
    [140, 85, 70],
    [225, 105, 180],
    [120, 120, 120],
    [170, 170, 20],
    [20, 175, 195],
];

/// The colour of series `i`; repeats after ten.
pub fn series(i: usize) -> Rgb {
    SERIES[i % SERIES.len()]
}

/// Linear mix from `a` (t = 0) to `b` (t = 1).
pub fn mix(a: Rgb, b: Rgb, t: f64) -> Rgb {
    let t = t.clamp(0.0, 1.0);
    [0, 1, 2].map(|i| (f64::from(a[i]) + (f64::from(b[i]) - f64::from(a[i])) * t).round() as u8)
}
