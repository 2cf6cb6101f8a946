//! Training curves of a run: every member's training and validation loss
//! and validation balanced accuracy per epoch, read from its `log.csv`.

use std::ops::Range;

use anyhow::Result;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{FONT, REFERENCE, legend, series, svg};
use crate::run_dir::log::LogRow;

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One panel over the epochs `x` with `descriptions` (x, y) of its axes.
fn panel<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, Shift>,
    title: &str,
    (x, y): (Range<f64>, Range<f64>),
    epochs: usize,
    descriptions: (&str, &str),
) -> Result<Chart<'a, 'b>> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 17))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .x_labels(epochs.min(16))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .x_desc(descriptions.0)
        .y_desc(descriptions.1)
        .label_style((FONT, 13))
        .light_line_style(RGBColor(236, 236, 236))
        .draw()?;
    Ok(chart)
}

/// Two panels over the epochs of all stages: losses (training solid,
/// validation dashed) and validation balanced accuracy; a dashed grey line
/// where a member's stage changes.
pub fn draw(members: &[Vec<LogRow>], heading: &str) -> Result<String> {
    let last = members.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let finite = |v: &f64| v.is_finite();
    let highest_loss = members
        .iter()
        .flatten()
        .flat_map(|e| [e.train_loss, e.val_loss])
        .filter(finite)
        .fold(0.0, f64::max);
    let loss_top = if highest_loss > 0.0 { highest_loss * 1.1 } else { 1.0 };
    let x = 0.5..last as f64 + 0.5;
    // Stage changes: between the last epoch of one stage and the first of the next.
    let mut changes: Vec<f64> = members
        .iter()
        .flat_map(|rows| {
            rows.windows(2).position(|w| w[0].stage != w[1].stage).map(|i| i as f64 + 1.5)
        })
        .collect();
    changes.sort_by(f64::total_cmp);
    changes.dedup();
    let stages: Vec<String> = members
        .first()
        .map(|rows| {
            rows.iter().map(|r| r.stage.clone()).fold(Vec::new(), |mut v, s| {
                if v.last() != Some(&s) {
                    v.push(s);
                }
                v
            })
        })
        .unwrap_or_default();
    svg((900, 760), |root| {
        let root = root.titled(heading, (FONT, 22))?;
        let panels = root.split_evenly((2, 1));
        let stage_text = format!("epoch ({})", stages.join(", then "));
        let mut losses = panel(
            &panels[0],
            "Loss (training solid, validation dashed)",
            (x.clone(), 0.0..loss_top),
            last,
            ("", "loss"),
        )?;
        let mut accuracy = panel(
            &panels[1],
            "Validation balanced accuracy",
            (x.clone(), 0.0..1.0),
            last,
            (&stage_text, "balanced acc."),
        )?;
        for &at in &changes {
            losses.draw_series(DashedLineSeries::new(
                vec![(at, 0.0), (at, loss_top)],
                6,
                5,
                REFERENCE.stroke_width(1),
            ))?;
            accuracy.draw_series(DashedLineSeries::new(
                vec![(at, 0.0), (at, 1.0)],
                6,
                5,
                REFERENCE.stroke_width(1),
            ))?;
        }
        for (m, rows) in members.iter().enumerate() {
            let colour = series(m);
            let points = |value: fn(&LogRow) -> f64| -> Vec<(f64, f64)> {
                rows.iter()
                    .enumerate()
                    .map(|(i, r)| ((i + 1) as f64, value(r)))
                    .filter(|p| p.1.is_finite())
                    .collect()
            };
            losses
                .draw_series(
                    LineSeries::new(points(|r| r.train_loss), colour.stroke_width(2)).point_size(3),
                )?
                .label(format!("member {m}"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3))
                });
            losses.draw_series(DashedLineSeries::new(
                points(|r| r.val_loss),
                7,
                5,
                colour.stroke_width(2),
            ))?;
            accuracy.draw_series(
                LineSeries::new(points(|r| r.val_balanced_accuracy), colour.stroke_width(2))
                    .point_size(3),
            )?;
        }
        legend(&mut losses, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(stage: &str, epoch: usize, loss: f64, accuracy: f64) -> LogRow {
        LogRow {
            stage: stage.into(),
            epoch,
            learning_rate: 1e-3,
            train_loss: loss,
            val_loss: loss + 0.1,
            val_accuracy: accuracy,
            val_balanced_accuracy: accuracy,
            seconds: 1.0,
        }
    }

    #[test]
    fn every_member_is_drawn_and_the_stages_are_named() {
        let members = vec![
            vec![
                row("head", 1, 1.9, 0.2),
                row("head", 2, 1.5, 0.3),
                row("upper", 1, f64::NAN, 0.5),
            ],
            vec![row("head", 1, 1.7, 0.25)],
        ];
        let texts = super::super::texts(&draw(&members, "Training").unwrap());
        for text in ["member 0", "member 1", "epoch (head, then upper)"] {
            assert!(texts.iter().any(|t| t == text), "{text}: {texts:?}");
        }
        assert!(draw(&[], "empty").is_ok());
    }
}
