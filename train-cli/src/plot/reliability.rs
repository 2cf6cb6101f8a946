//! The reliability diagram: accuracy of the top-1 prediction per bin of its
//! confidence, against the diagonal of perfect calibration, with each bin's
//! count above its bar.

use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{FONT, REFERENCE, legend, series, svg};
use crate::metrics::{ECE_BINS, ece, reliability};

/// `probs[sample][class]` against `labels`, in the bins of the report's
/// ECE; the ECE is appended to `heading`.
pub fn draw(probs: &[Vec<f32>], labels: &[usize], heading: &str) -> Result<String> {
    let bins = reliability(probs, labels, ECE_BINS);
    let width = 1.0 / ECE_BINS as f64;
    svg((640, 600), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(format!("{heading}, ECE {:.3}", ece(probs, labels, ECE_BINS)), (FONT, 20))
            .margin(16)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d(0.0..1.0f64, 0.0..1.12f64)?;
        chart
            .configure_mesh()
            .x_desc("confidence of the top class")
            .y_desc("accuracy")
            .y_labels(6)
            .y_label_formatter(&|v| if *v <= 1.0 { format!("{v:.1}") } else { String::new() })
            .label_style((FONT, 14))
            .light_line_style(RGBColor(236, 236, 236))
            .draw()?;
        let bar = series(0);
        chart
            .draw_series(bins.iter().enumerate().filter(|(_, b)| b.2 > 0).map(
                |(i, &(_, accuracy, _))| {
                    let x = i as f64 * width;
                    Rectangle::new(
                        [(x + width * 0.06, 0.0), (x + width * 0.94, accuracy)],
                        bar.filled(),
                    )
                },
            ))?
            .label("accuracy in bin")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], bar.filled()));
        chart
            .draw_series(DashedLineSeries::new(
                vec![(0.0, 0.0), (1.0, 1.0)],
                6,
                5,
                REFERENCE.stroke_width(2),
            ))?
            .label("perfect calibration")
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], REFERENCE.stroke_width(2))
            });
        let count_style = TextStyle::from((FONT, 11).into_font())
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Bottom));
        chart.draw_series(bins.iter().enumerate().filter(|(_, b)| b.2 > 0).map(
            |(i, &(_, accuracy, n))| {
                Text::new(
                    n.to_string(),
                    ((i as f64 + 0.5) * width, accuracy + 0.01),
                    count_style.clone(),
                )
            },
        ))?;
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_show_their_counts_and_the_ece() {
        let probs = vec![vec![0.9f32, 0.1], vec![0.9, 0.1], vec![0.6, 0.4]];
        let texts = super::super::texts(&draw(&probs, &[0, 1, 0], "test").unwrap());
        assert!(texts.iter().any(|t| t.starts_with("test, ECE 0.")), "{texts:?}");
        assert!(
            texts.iter().any(|t| t == "2") && texts.iter().any(|t| t == "1"),
            "the counts of the two filled bins: {texts:?}"
        );
    }
}
