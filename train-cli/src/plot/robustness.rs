//! The robustness benchmark's plot: balanced accuracy against severity, one
//! line per degradation, all starting from the clean photos' figure.

use anyhow::Result;
use plotters::prelude::*;

use super::{FONT, REFERENCE, legend, series, svg};

/// One condition's figure: a degradation (`none` for the clean photos) at a severity.
pub struct Point<'a> {
    pub kind: &'a str,
    pub severity: &'a str,
    pub balanced_accuracy: f64,
}

const SEVERITIES: [&str; 4] = ["none", "mild", "moderate", "severe"];

/// `tallies` as the benchmark lists them: the clean photos first.
pub fn draw(tallies: &[Point]) -> Result<String> {
    let clean = tallies.iter().find(|t| t.kind == "none").map(|t| t.balanced_accuracy);
    let mut kinds: Vec<&str> = tallies.iter().map(|t| t.kind).filter(|k| *k != "none").collect();
    kinds.dedup();
    let lowest =
        tallies.iter().map(|t| t.balanced_accuracy).filter(|v| v.is_finite()).fold(1.0, f64::min);
    let bottom = (lowest - 0.05).clamp(0.0, 0.9);
    svg((820, 540), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Balanced accuracy of the ensemble against severity", (FONT, 20))
            .margin(16)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.2..3.2f64, bottom..1.0f64)?;
        chart
            .configure_mesh()
            .x_labels(4)
            .x_label_formatter(&|v| {
                let i = v.round();
                if (v - i).abs() < 1e-6 && (0.0..4.0).contains(&i) {
                    SEVERITIES[i as usize].to_string()
                } else {
                    String::new()
                }
            })
            .x_desc("severity")
            .y_desc("balanced accuracy")
            .label_style((FONT, 14))
            .light_line_style(RGBColor(236, 236, 236))
            .draw()?;
        for (i, kind) in kinds.iter().enumerate() {
            let colour = series(i);
            let mut points: Vec<(f64, f64)> = clean.map(|c| vec![(0.0, c)]).unwrap_or_default();
            points.extend(tallies.iter().filter(|t| t.kind == *kind).filter_map(|t| {
                SEVERITIES
                    .iter()
                    .position(|s| *s == t.severity)
                    .map(|x| (x as f64, t.balanced_accuracy))
            }));
            // Past the palette's seven colours, lines are dashed.
            let style = colour.stroke_width(2);
            if i < 7 {
                chart.draw_series(LineSeries::new(points.clone(), style))?
            } else {
                chart.draw_series(DashedLineSeries::new(points.clone(), 8, 5, style))?
            }
            .label(*kind)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
        }
        if let Some(c) = clean {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(-0.2, c - 0.04), (3.2, c - 0.04)],
                    4,
                    4,
                    REFERENCE.into(),
                ))?
                .label("clean - 0.04")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], REFERENCE));
        }
        legend(&mut chart, SeriesLabelPosition::LowerLeft)
    })
}
