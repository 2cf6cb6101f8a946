//! Legends: a swatch of each series' line style next to its label.

use super::canvas::{Canvas, Rgb};
use super::font::{draw_text, text_height, text_width};
use super::style::{INK, TEXT};

pub enum Swatch {
    /// A solid line this many pixels thick.
    Line(f64),
    Dashed,
}

pub struct Entry {
    pub colour: Rgb,
    pub swatch: Swatch,
    pub label: String,
}

/// Length of a swatch, and the gap before its label.
const SWATCH: i64 = 30;
const GAP: i64 = 10;

/// Width in pixels of the legend of `entries`, to size a canvas for it.
pub fn width(entries: &[Entry]) -> i64 {
    SWATCH + GAP + entries.iter().map(|e| i64::from(text_width(&e.label, TEXT))).max().unwrap_or(0)
}

/// Draws `entries` one per line from (`x`, `y`) downwards; returns the y below the last.
pub fn draw(canvas: &mut Canvas, x: i64, y: i64, entries: &[Entry]) -> i64 {
    let line = i64::from(text_height(TEXT)) + 8;
    for (i, entry) in entries.iter().enumerate() {
        let top = y + i as i64 * line;
        // Middle of the 7-row glyphs, where the swatch belongs.
        let mid = (top + 7 * i64::from(TEXT) / 2) as f64;
        let (from, to) = ((x as f64, mid), ((x + SWATCH) as f64, mid));
        match entry.swatch {
            Swatch::Line(thickness) => canvas.line(from, to, thickness, entry.colour),
            Swatch::Dashed => canvas.dashed_line(from, to, 2.0, 6.0, 4.0, entry.colour),
        }
        draw_text(canvas, x + SWATCH + GAP, top, &entry.label, TEXT, INK);
    }
    y + entries.len() as i64 * line
}
