//! ROC curves: one-vs-rest per class and benign vs malignant, with the area
//! under each in the legend.

use anyhow::Result;
use plotters::prelude::*;

use super::{FONT, REFERENCE, legend, series, svg};
use crate::metrics::{roc_auc, roc_curve};

/// One ROC curve: a score per sample and which samples are positive.
struct Curve {
    name: String,
    colour: RGBColor,
    width: u32,
    scores: Vec<f32>,
    positive: Vec<bool>,
}

/// `probs[sample][class]` against `labels`; `malignant` flags classes whose
/// summed probability is the malignant score. Classes missing from `labels`
/// (or alone in them) have no curve and show "n/a" for the AUC.
pub fn draw(
    probs: &[Vec<f32>],
    labels: &[usize],
    codes: &[&str],
    malignant: &[bool],
    heading: &str,
) -> Result<String> {
    // Benign vs malignant last, so it stays visible where it runs along a class curve.
    let mut curves: Vec<Curve> = codes
        .iter()
        .enumerate()
        .map(|(c, code)| Curve {
            name: code.to_string(),
            colour: series(c),
            width: 2,
            scores: probs.iter().map(|p| p[c]).collect(),
            positive: labels.iter().map(|&y| y == c).collect(),
        })
        .collect();
    if malignant.iter().any(|&m| m) {
        curves.push(Curve {
            name: "malignant".into(),
            colour: BLACK,
            width: 4,
            scores: probs
                .iter()
                .map(|p| p.iter().zip(malignant).filter(|(_, m)| **m).map(|(v, _)| v).sum())
                .collect(),
            positive: labels.iter().map(|&y| malignant[y]).collect(),
        });
    }
    svg((760, 560), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(heading, (FONT, 20))
            .margin(16)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .right_y_label_area_size(0)
            .build_cartesian_2d(0.0..1.0f64, 0.0..1.0f64)?;
        chart
            .configure_mesh()
            .x_desc("false positive rate")
            .y_desc("true positive rate")
            .label_style((FONT, 14))
            .light_line_style(RGBColor(236, 236, 236))
            .draw()?;
        chart.draw_series(DashedLineSeries::new(
            vec![(0.0, 0.0), (1.0, 1.0)],
            6,
            5,
            REFERENCE.stroke_width(1),
        ))?;
        for Curve { name, colour, width, scores, positive } in &curves {
            let auc =
                roc_auc(scores, positive).map_or_else(|| "n/a".to_string(), |a| format!("{a:.3}"));
            let points = if positive.iter().any(|&p| p) && positive.iter().any(|&p| !p) {
                roc_curve(scores, positive)
            } else {
                Vec::new()
            };
            let style = colour.stroke_width(*width);
            chart
                .draw_series(LineSeries::new(points, style))?
                .label(format!("{name}  AUC {auc}"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_and_the_malignant_total_get_a_curve_with_its_area() {
        let probs = vec![vec![0.9, 0.1], vec![0.2, 0.8], vec![0.6, 0.4]];
        let texts = super::super::texts(
            &draw(&probs, &[0, 1, 0], &["nv", "mel"], &[false, true], "test").unwrap(),
        );
        for legend in ["nv  AUC 1.000", "mel  AUC 1.000", "malignant  AUC 1.000"] {
            assert!(texts.iter().any(|t| t == legend), "{legend}: {texts:?}");
        }
        let missing = super::super::texts(
            &draw(&probs, &[0, 0, 0], &["nv", "mel"], &[false, true], "test").unwrap(),
        );
        assert!(missing.iter().any(|t| t == "mel  AUC n/a"), "{missing:?}");
    }
}
