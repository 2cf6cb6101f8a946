//! The reliability diagram: accuracy of the top-1 prediction per bin of its
//! confidence, against the diagonal of perfect calibration.

use super::axes::{Frame, ticks, title};
use super::canvas::Canvas;
use super::font::{draw_text, draw_text_centred, draw_text_up, text_height, text_width};
use super::legend::{self, Entry, Swatch};
use super::style::{INK, REFERENCE, TEXT, WHITE, mix, series};
use crate::metrics::{ECE_BINS, ece, reliability};

/// `probs[sample][class]` against `labels`, in the `ECE_BINS` bins of the
/// report's ECE; the ECE is appended to `heading`.
pub fn draw(probs: &[Vec<f32>], labels: &[usize], heading: &str) -> Canvas {
    // Room above the frame for the counts over bars that reach accuracy 1.
    let frame = Frame { left: 110, top: 110, width: 441, height: 441, x: (0.0, 1.0), y: (0.0, 1.0) };
    let bar = series(0);
    let entries = [
        Entry { colour: bar, swatch: Swatch::Line(10.0), label: "accuracy in bin".into() },
        Entry { colour: REFERENCE, swatch: Swatch::Dashed, label: "perfect calibration".into() },
    ];
    let legend_left = frame.right() + 36;
    let mut canvas = Canvas::new((legend_left + legend::width(&entries) + 24) as u32, 646, WHITE);
    title(&mut canvas, &format!("{heading}, ECE {:.3}", ece(probs, labels, ECE_BINS)));
    let axis_ticks = ticks(0.0, 1.0, 5);
    frame.draw(&mut canvas, &axis_ticks, &axis_ticks, "confidence of the top class", "accuracy");

    let bins = reliability(probs, labels, ECE_BINS);
    // Counts above the bars, turned up when the widest does not fit a bar:
    // one orientation for all, so they read alike.
    let bar_width = frame.width as f64 / ECE_BINS as f64 - 2.0;
    let widest = bins.iter().map(|b| text_width(&b.2.to_string(), TEXT)).max().unwrap_or(0);
    let turned = f64::from(widest) > bar_width + 2.0;
    for (i, &(_, accuracy, count)) in bins.iter().enumerate() {
        if count == 0 {
            continue;
        }
        let (x0, y0) = frame.point(i as f64 / ECE_BINS as f64, accuracy);
        let (x1, base) = frame.point((i + 1) as f64 / ECE_BINS as f64, 0.0);
        let (left, right, top) = (x0.round() as i64 + 1, x1.round() as i64 - 1, y0.round() as i64);
        canvas.fill_rect(left, top, right - left + 1, base.round() as i64 - top, mix(WHITE, bar, 0.55));
        canvas.stroke_rect(left, top, right - left + 1, base.round() as i64 - top + 1, 1, bar);
        // The bin's size above its bar: a bar of three images means little.
        let text = count.to_string();
        let centre = (x0 + x1).round() as i64 / 2;
        if turned {
            let length = i64::from(text_width(&text, TEXT));
            draw_text_up(&mut canvas, centre - 7 * i64::from(TEXT) / 2, top - 5 - length, &text, TEXT, INK);
        } else {
            draw_text_centred(&mut canvas, centre, top - 5 - 7 * i64::from(TEXT), &text, TEXT, INK);
        }
    }
    canvas.dashed_line(frame.point(0.0, 0.0), frame.point(1.0, 1.0), 1.5, 8.0, 6.0, REFERENCE);

    let below = legend::draw(&mut canvas, legend_left, frame.top, &entries);
    for (i, line) in ["Number above a bar:", "images in the bin"].iter().enumerate() {
        draw_text(&mut canvas, legend_left, below + 16 + i as i64 * i64::from(text_height(TEXT) + 4), line, TEXT, INK);
    }
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_reach_the_accuracy_of_their_bin() {
        // Four samples at confidence 0.9: three right, so the 0.87-0.93 bin is 75 % accurate.
        let probs = vec![vec![0.9, 0.1]; 4];
        let canvas = draw(&probs, &[0, 0, 0, 1], "Reliability");
        assert_eq!(canvas.height(), 646);
        let frame = Frame { left: 110, top: 110, width: 441, height: 441, x: (0.0, 1.0), y: (0.0, 1.0) };
        let (x, _) = frame.point(13.5 / 15.0, 0.0);
        let x = x.round() as u32;
        let (_, inside) = frame.point(0.0, 0.7);
        let (_, above) = frame.point(0.0, 0.8);
        assert_eq!(canvas.pixel(x, inside.round() as u32), mix(WHITE, series(0), 0.55));
        assert_ne!(canvas.pixel(x, above.round() as u32), mix(WHITE, series(0), 0.55));
        // No other bin has a bar.
        let (x, _) = frame.point(5.5 / 15.0, 0.0);
        assert_ne!(canvas.pixel(x.round() as u32, inside.round() as u32), mix(WHITE, series(0), 0.55));
        let decoded = image::load_from_memory(&canvas.to_png().unwrap()).unwrap().to_rgb8();
        assert_eq!(decoded.dimensions(), (canvas.width(), 646));
    }
}
