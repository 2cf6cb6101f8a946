//! A plot frame: maps data coordinates to pixels and draws the grid,
//! frame, tick labels and axis titles around it.

use super::canvas::Canvas;
use super::font::{draw_text, draw_text_centred, draw_text_up, text_height, text_width};
use super::style::{GRID, INK, TEXT};

/// A data rectangle `x` by `y` (min, max) shown in the pixel rectangle at
/// `left`, `top` of `width` x `height`.
pub struct Frame {
    pub left: i64,
    pub top: i64,
    pub width: i64,
    pub height: i64,
    pub x: (f64, f64),
    pub y: (f64, f64),
}

impl Frame {
    /// The pixel of data point (`x`, `y`); y grows upwards.
    pub fn point(&self, x: f64, y: f64) -> (f64, f64) {
        (
            self.left as f64 + (x - self.x.0) / (self.x.1 - self.x.0) * (self.width - 1) as f64,
            self.top as f64 + (self.y.1 - y) / (self.y.1 - self.y.0) * (self.height - 1) as f64,
        )
    }

    pub fn right(&self) -> i64 {
        self.left + self.width - 1
    }

    pub fn bottom(&self) -> i64 {
        self.top + self.height - 1
    }

    /// Grid lines at the ticks, tick labels, axis titles (`y_title` turned
    /// up) and the frame. Draw it before the data so the grid stays behind.
    pub fn draw(&self, canvas: &mut Canvas, x_ticks: &[f64], y_ticks: &[f64], x_title: &str, y_title: &str) {
        let label_top = self.bottom() + 10;
        for (&x, label) in x_ticks.iter().zip(labels(x_ticks)) {
            // Grid lines on whole pixels stay crisp.
            let px = self.point(x, self.y.0).0.round();
            canvas.line((px, self.top as f64), (px, self.bottom() as f64), 1.0, GRID);
            draw_text_centred(canvas, px.round() as i64, label_top, &label, TEXT, INK);
        }
        let mut widest = 0;
        for (&y, label) in y_ticks.iter().zip(labels(y_ticks)) {
            let py = self.point(self.x.0, y).1.round();
            canvas.line((self.left as f64, py), (self.right() as f64, py), 1.0, GRID);
            let width = i64::from(text_width(&label, TEXT));
            widest = widest.max(width);
            // Digits are 7 rows high: centre those on the grid line.
            draw_text(canvas, self.left - 10 - width, py.round() as i64 - 7 * i64::from(TEXT) / 2, &label, TEXT, INK);
        }
        canvas.stroke_rect(self.left, self.top, self.width, self.height, 1, INK);
        let line = i64::from(text_height(TEXT));
        draw_text_centred(canvas, self.left + self.width / 2, label_top + line + 8, x_title, TEXT, INK);
        let y_title_length = i64::from(text_width(y_title, TEXT));
        draw_text_up(canvas, self.left - 10 - widest - 12 - line, self.top + (self.height - y_title_length) / 2, y_title, TEXT, INK);
    }
}

/// The plot's title, centred at the top of the canvas.
pub fn title(canvas: &mut Canvas, text: &str) {
    draw_text_centred(canvas, i64::from(canvas.width()) / 2, 16, text, TEXT, INK);
}

/// Round tick values from `min` to `max`: multiples of 1, 2 or 5 times a
/// power of ten, at most about `count` of them.
pub fn ticks(min: f64, max: f64, count: usize) -> Vec<f64> {
    if !(max > min) || !min.is_finite() || !max.is_finite() {
        return vec![min];
    }
    let rough = (max - min) / count.max(1) as f64;
    let power = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * power).find(|&s| s >= rough * 0.999).unwrap_or(10.0 * power);
    let first = (min / step - 1e-9).ceil() as i64;
    let last = (max / step + 1e-9).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// Tick labels with as many decimals as the tick spacing needs.
fn labels(ticks: &[f64]) -> Vec<String> {
    let step = ticks.windows(2).map(|w| w[1] - w[0]).fold(f64::INFINITY, f64::min);
    let decimals = if step.is_finite() && step > 0.0 { (-step.log10().floor()).max(0.0) as usize } else { 1 };
    ticks.iter().map(|t| format!("{t:.decimals$}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_labelled_to_their_precision() {
        assert_eq!(labels(&ticks(0.0, 1.0, 5)), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        assert_eq!(ticks(1.0, 23.0, 8), vec![5.0, 10.0, 15.0, 20.0]);
        assert_eq!(labels(&[5.0, 10.0]), ["5", "10"]);
        assert_eq!(ticks(2.0, 2.0, 5), vec![2.0]);
    }

    #[test]
    fn frame_maps_corners_to_its_pixels() {
        let frame = Frame { left: 10, top: 20, width: 101, height: 51, x: (0.0, 1.0), y: (0.0, 1.0) };
        assert_eq!(frame.point(0.0, 0.0), (10.0, 70.0));
        assert_eq!(frame.point(1.0, 1.0), (110.0, 20.0));
        assert_eq!(frame.point(0.5, 0.5), (60.0, 45.0));
    }
}
