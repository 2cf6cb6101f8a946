//! The confusion matrix as a heat map: rows are the truth, columns the
//! prediction, each cell coloured by its share of the row (so rare classes
//! are as readable as common ones) and labelled with its count.

use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{FONT, svg};

/// The colour of a whole row; an empty cell is white.
const DARK_BLUE: RGBColor = RGBColor(8, 48, 107);

/// Row share of a cell: its count over the row's total (0 for an empty row).
fn share(row: &[usize], count: usize) -> f64 {
    let total: usize = row.iter().sum();
    if total == 0 { 0.0 } else { count as f64 / total as f64 }
}

fn mix(t: f64) -> RGBColor {
    let channel = |dark: u8| (255.0 + (f64::from(dark) - 255.0) * t).round() as u8;
    RGBColor(channel(DARK_BLUE.0), channel(DARK_BLUE.1), channel(DARK_BLUE.2))
}

pub fn draw(confusion: &[Vec<usize>], codes: &[&str], heading: &str) -> Result<String> {
    let k = codes.len().max(1);
    let cell = (448 / k as u32).clamp(48, 96);
    let side = cell * k as u32;
    svg((side + 170, side + 150), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(heading, (FONT, 20))
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..k as f64, 0.0..k as f64)?;
        // Truth rows from the top: row r lies between k - r - 1 and k - r.
        let code = |v: &f64, from_top: bool| {
            let i = v.floor() as usize;
            let i = if from_top { k.wrapping_sub(i + 1) } else { i };
            if (v - v.floor() - 0.5).abs() < 1e-6 {
                codes.get(i).copied().unwrap_or("").to_string()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(2 * k + 1)
            .y_labels(2 * k + 1)
            .x_label_formatter(&|v| code(v, false))
            .y_label_formatter(&|v| code(v, true))
            .x_desc("predicted")
            .y_desc("true class")
            .label_style((FONT, 15))
            .draw()?;
        for (r, row) in confusion.iter().enumerate() {
            for (c, &count) in row.iter().enumerate() {
                let t = share(row, count);
                let (x, y) = (c as f64, (k - r - 1) as f64);
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x, y), (x + 1.0, y + 1.0)],
                    mix(t).filled(),
                )))?;
                let ink = if t > 0.5 { WHITE } else { BLACK };
                let style = TextStyle::from((FONT, 16).into_font())
                    .color(&ink)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                chart.draw_series(std::iter::once(Text::new(
                    count.to_string(),
                    (x + 0.5, y + 0.5),
                    style,
                )))?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_labelled_with_counts_and_shaded_by_row_share() {
        let texts =
            super::super::texts(&draw(&[vec![9, 1], vec![0, 0]], &["nv", "mel"], "test").unwrap());
        for text in ["9", "1", "0", "nv", "mel", "predicted", "true class"] {
            assert!(texts.iter().any(|t| t == text), "{text} missing: {texts:?}");
        }
        assert_eq!(share(&[9, 1], 9), 0.9);
        assert_eq!(share(&[0, 0], 0), 0.0, "an empty row has no share");
        assert_eq!(mix(0.0), WHITE);
        assert_eq!(mix(1.0), DARK_BLUE);
    }
}
