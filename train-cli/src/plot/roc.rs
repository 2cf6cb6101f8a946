//! ROC curves: one-vs-rest per class and benign vs malignant, with the
//! area under each in the legend.

use super::axes::{Frame, ticks, title};
use super::canvas::{Canvas, Rgb};
use super::legend::{self, Entry, Swatch};
use super::style::{EMPHASIS, REFERENCE, WHITE, series};
use crate::metrics::{roc_auc, roc_curve};

/// `probs[sample][class]` against `labels`; `malignant` flags classes whose
/// summed probability is the malignant score. Classes missing from
/// `labels` (or alone in them) have no curve and show "n/a" for AUC.
pub fn draw(probs: &[Vec<f32>], labels: &[usize], codes: &[&str], malignant: &[bool], heading: &str) -> Canvas {
    let frame = Frame { left: 110, top: 64, width: 441, height: 441, x: (0.0, 1.0), y: (0.0, 1.0) };
    // (name, colour, thickness, scores, positives) per curve; benign vs
    // malignant last, so it stays visible where it runs along a class curve.
    let mut curves: Vec<(&str, Rgb, f64, Vec<f32>, Vec<bool>)> = codes
        .iter()
        .enumerate()
        .map(|(c, code)| (*code, series(c), 2.0, probs.iter().map(|p| p[c]).collect(), labels.iter().map(|&y| y == c).collect()))
        .collect();
    if malignant.iter().any(|&m| m) {
        let scores = probs.iter().map(|p| p.iter().zip(malignant).filter(|(_, m)| **m).map(|(v, _)| v).sum()).collect();
        curves.push(("malignant", EMPHASIS, 3.5, scores, labels.iter().map(|&y| malignant[y]).collect()));
    }
    let aucs: Vec<Option<f64>> = curves.iter().map(|(_, _, _, scores, positive)| roc_auc(scores, positive)).collect();
    // Names padded to one width: the font is monospaced, so the AUCs line up.
    let pad = curves.iter().map(|c| c.0.len()).max().unwrap_or(0);
    let mut entries: Vec<Entry> = curves
        .iter()
        .zip(&aucs)
        .map(|((name, colour, thickness, _, _), auc)| {
            let auc = auc.map(|a| format!("{a:.3}")).unwrap_or_else(|| "n/a".into());
            Entry { colour: *colour, swatch: Swatch::Line(thickness.max(3.0)), label: format!("{name:<pad$} AUC {auc}") }
        })
        .collect();
    entries.push(Entry { colour: REFERENCE, swatch: Swatch::Dashed, label: "chance".into() });

    let legend_left = frame.right() + 36;
    let mut canvas = Canvas::new((legend_left + legend::width(&entries) + 24) as u32, 600, WHITE);
    title(&mut canvas, heading);
    let axis_ticks = ticks(0.0, 1.0, 5);
    frame.draw(&mut canvas, &axis_ticks, &axis_ticks, "false positive rate", "true positive rate");
    canvas.dashed_line(frame.point(0.0, 0.0), frame.point(1.0, 1.0), 1.5, 8.0, 6.0, REFERENCE);
    // Classes absent from the labels (or alone in them) have no curve.
    for ((_, colour, thickness, scores, positive), auc) in curves.iter().zip(&aucs) {
        if auc.is_some() {
            let points: Vec<(f64, f64)> = roc_curve(scores, positive).into_iter().map(|(x, y)| frame.point(x, y)).collect();
            canvas.polyline(&points, *thickness, *colour);
        }
    }
    legend::draw(&mut canvas, legend_left, frame.top, &entries);
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(canvas: &Canvas, colour: [u8; 3]) -> usize {
        (0..canvas.width()).flat_map(|x| (0..canvas.height()).map(move |y| (x, y))).filter(|&(x, y)| canvas.pixel(x, y) == colour).count()
    }

    #[test]
    fn draws_every_present_class_in_its_own_colour() {
        // Class 0 perfectly ranked, class 1 at chance (its top score is a
        // negative), class 2 absent from the labels.
        let probs = vec![vec![0.5, 0.45, 0.05], vec![0.6, 0.1, 0.3], vec![0.3, 0.4, 0.3], vec![0.2, 0.3, 0.5]];
        let labels = [0, 0, 1, 1];
        let canvas = draw(&probs, &labels, &["nv", "mel", "df"], &[false; 3], "ROC");
        assert_eq!(canvas.height(), 600);
        assert!(count(&canvas, series(0)) > 400, "class 0 curve");
        assert!(count(&canvas, series(1)) > 400, "class 1 curve");
        // The absent class only has its legend swatch; without malignant classes there is no black curve.
        assert!(count(&canvas, series(2)) < 150);
        assert_eq!(count(&canvas, EMPHASIS), 0);
        // A perfect ranking climbs the frame's left edge.
        assert_eq!(canvas.pixel(110, 300), series(0));
        let with_malignant = draw(&probs, &labels, &["nv", "mel", "df"], &[false, true, true], "ROC");
        assert!(count(&with_malignant, EMPHASIS) > 400, "malignant curve");
        let png = with_malignant.to_png().unwrap();
        let decoded = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(decoded.dimensions(), (with_malignant.width(), 600));
        // The legend fits: "malignant AUC 0.750" is wider than any class line.
        assert!(with_malignant.width() > canvas.width());
    }
}
