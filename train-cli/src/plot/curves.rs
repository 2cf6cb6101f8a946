//! Training curves of a run: every member's training and validation loss
//! and validation balanced accuracy per epoch, read from its `log.csv`.

use std::path::Path;

use anyhow::{Context, Result, bail};

use super::axes::{Frame, ticks, title};
use super::canvas::Canvas;
use super::font::{draw_text, text_width};
use super::legend::{self, Entry, Swatch};
use super::style::{INK, REFERENCE, TEXT, WHITE, series};

/// One line of a member's `log.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Epoch {
    /// `head` or `upper`.
    pub stage: String,
    pub train_loss: f64,
    pub val_loss: f64,
    pub val_balanced_accuracy: f64,
}

/// Reads the epochs of a `log.csv` written by `train::fit`, by column name.
pub fn read_log(path: &Path) -> Result<Vec<Epoch>> {
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let headers = reader.headers().with_context(|| format!("cannot read the header of {}", path.display()))?.clone();
    let column = |name: &str| {
        headers.iter().position(|h| h == name).with_context(|| format!("{} has no {name} column", path.display()))
    };
    let (stage, train_loss, val_loss, balanced) =
        (column("stage")?, column("train_loss")?, column("val_loss")?, column("val_balanced_accuracy")?);
    let mut epochs = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.with_context(|| format!("{} line {line} is malformed", path.display()))?;
        let number = |c: usize| -> Result<f64> {
            let text = record.get(c).unwrap_or("");
            text.trim().parse().with_context(|| format!("{} line {line}: {text:?} is not a number", path.display()))
        };
        let Some(stage) = record.get(stage) else { bail!("{} line {line} has no stage", path.display()) };
        epochs.push(Epoch {
            stage: stage.to_string(),
            train_loss: number(train_loss)?,
            val_loss: number(val_loss)?,
            val_balanced_accuracy: number(balanced)?,
        });
    }
    Ok(epochs)
}

/// Epoch ticks: every epoch while they fit, else round numbers.
fn epoch_ticks(last: usize) -> Vec<f64> {
    if last <= 16 { (1..=last).map(|e| e as f64).collect() } else { ticks(1.0, last as f64, 10).into_iter().filter(|&t| t >= 1.0).collect() }
}

/// Points of `value` for `epochs`, numbered from 1, skipping non-finite values.
fn series_points(frame: &Frame, epochs: &[Epoch], value: impl Fn(&Epoch) -> f64) -> Vec<(f64, f64)> {
    epochs.iter().enumerate().filter(|(_, e)| value(e).is_finite()).map(|(i, e)| frame.point((i + 1) as f64, value(e))).collect()
}

fn plot_series(canvas: &mut Canvas, points: &[(f64, f64)], colour: [u8; 3], dashed: bool) {
    for pair in points.windows(2) {
        if dashed {
            canvas.dashed_line(pair[0], pair[1], 2.0, 7.0, 5.0, colour);
        } else {
            canvas.line(pair[0], pair[1], 2.0, colour);
        }
    }
    for &p in points {
        canvas.disc(p, 3.0, colour);
    }
}

/// Two panels over the epochs of both stages: losses, and validation
/// balanced accuracy; validation dashed throughout, and a dashed grey
/// vertical line where a member's stage changes.
pub fn draw(members: &[Vec<Epoch>], heading: &str) -> Canvas {
    let mut canvas = Canvas::new(900, 760, WHITE);
    title(&mut canvas, heading);
    let last = members.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let x = (0.5, last as f64 + 0.5);
    let highest_loss = members.iter().flatten().flat_map(|e| [e.train_loss, e.val_loss]).filter(|v| v.is_finite()).fold(0.0, f64::max);
    // The loss axis ends on the first tick at or above the highest loss.
    let mut loss_ticks = ticks(0.0, if highest_loss > 0.0 { highest_loss } else { 1.0 }, 5);
    if let [.., before, last] = loss_ticks[..]
        && last < highest_loss
    {
        loss_ticks.push(2.0 * last - before);
    }
    let loss_top = loss_ticks.last().copied().unwrap_or(1.0).max(highest_loss);
    let losses = Frame { left: 110, top: 90, width: 560, height: 240, x, y: (0.0, loss_top) };
    let accuracy = Frame { left: 110, top: 430, width: 560, height: 240, x, y: (0.0, 1.0) };
    let x_ticks = epoch_ticks(last);
    losses.draw(&mut canvas, &x_ticks, &loss_ticks, "", "loss");
    accuracy.draw(&mut canvas, &x_ticks, &ticks(0.0, 1.0, 5), "epoch (head stage, then upper stage)", "balanced acc.");
    draw_text(&mut canvas, losses.left, losses.top - 30, "Loss", TEXT, INK);
    draw_text(&mut canvas, accuracy.left, accuracy.top - 30, "Validation balanced accuracy", TEXT, INK);

    // Stage changes: between the last epoch of one stage and the first of the next.
    let mut changes: Vec<usize> = members
        .iter()
        .flat_map(|epochs| epochs.windows(2).position(|w| w[0].stage != w[1].stage).map(|i| i + 1))
        .collect();
    changes.sort_unstable();
    changes.dedup();
    for &after in &changes {
        for frame in [&losses, &accuracy] {
            // On a whole pixel, so the thin line stays crisp.
            let px = frame.point(after as f64 + 0.5, 0.0).0.round();
            canvas.dashed_line((px, frame.top as f64), (px, frame.bottom() as f64), 1.5, 6.0, 5.0, REFERENCE);
        }
    }
    // "head" left of the first change and "upper" right of the last, at the
    // bottom of the accuracy panel where curves rarely go; left out if they do not fit.
    if let (Some(&first), Some(&last_change)) = (changes.first(), changes.last()) {
        let y = accuracy.bottom() - 6 - 7 * i64::from(TEXT);
        let first_px = accuracy.point(first as f64 + 0.5, 0.0).0.round() as i64;
        let last_px = accuracy.point(last_change as f64 + 0.5, 0.0).0.round() as i64;
        let head_width = i64::from(text_width("head", TEXT));
        if first_px - 8 - head_width > accuracy.left {
            draw_text(&mut canvas, first_px - 8 - head_width, y, "head", TEXT, REFERENCE);
        }
        if last_px + 8 + i64::from(text_width("upper", TEXT)) < accuracy.right() {
            draw_text(&mut canvas, last_px + 8, y, "upper", TEXT, REFERENCE);
        }
    }

    let mut entries = Vec::new();
    for (m, epochs) in members.iter().enumerate() {
        let colour = series(m);
        plot_series(&mut canvas, &series_points(&losses, epochs, |e| e.train_loss), colour, false);
        plot_series(&mut canvas, &series_points(&losses, epochs, |e| e.val_loss), colour, true);
        plot_series(&mut canvas, &series_points(&accuracy, epochs, |e| e.val_balanced_accuracy), colour, true);
        entries.push(Entry { colour, swatch: Swatch::Line(3.0), label: format!("member {m}") });
    }
    let below = legend::draw(&mut canvas, losses.right() + 30, losses.top, &entries);
    legend::draw(
        &mut canvas,
        losses.right() + 30,
        below + 14,
        &[
            Entry { colour: INK, swatch: Swatch::Line(2.0), label: "training".into() },
            Entry { colour: INK, swatch: Swatch::Dashed, label: "validation".into() },
            Entry { colour: REFERENCE, swatch: Swatch::Dashed, label: "stage change".into() },
        ],
    );
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(lines: &[(&str, f64, f64, f64)]) -> String {
        let mut text = "stage,epoch,learning_rate,train_loss,val_loss,val_accuracy,val_balanced_accuracy,seconds\n".to_string();
        for (i, (stage, train, val, balanced)) in lines.iter().enumerate() {
            text += &format!("{stage},{},1.000e-3,{train},{val},0.5,{balanced},1.0\n", i + 1);
        }
        text
    }

    #[test]
    fn reads_logs_by_column_name_and_reports_bad_numbers() {
        let dir = std::env::temp_dir().join(format!("dermlens-curves-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.csv");
        std::fs::write(&path, log(&[("head", 1.5, 1.6, 0.3), ("upper", 0.9, 1.1, 0.55)])).unwrap();
        let epochs = read_log(&path).unwrap();
        assert_eq!(epochs.len(), 2);
        assert_eq!(epochs[1], Epoch { stage: "upper".into(), train_loss: 0.9, val_loss: 1.1, val_balanced_accuracy: 0.55 });
        std::fs::write(&path, "stage,epoch,train_loss,val_loss,val_balanced_accuracy\nhead,1,oops,1,1\n").unwrap();
        let error = format!("{:#}", read_log(&path).unwrap_err());
        assert!(error.contains("line 2") && error.contains("oops"), "{error}");
        std::fs::write(&path, "stage,epoch\nhead,1\n").unwrap();
        assert!(format!("{:#}", read_log(&path).unwrap_err()).contains("no train_loss column"));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn draws_members_and_the_stage_change() {
        let epoch = |stage: &str, loss: f64, balanced: f64| Epoch { stage: stage.into(), train_loss: loss, val_loss: loss + 0.2, val_balanced_accuracy: balanced };
        let members = vec![
            vec![epoch("head", 1.8, 0.2), epoch("head", 1.2, 0.4), epoch("upper", 0.8, 0.6), epoch("upper", 0.6, 0.7)],
            vec![epoch("head", 1.7, 0.25), epoch("head", 1.1, 0.45), epoch("upper", 0.7, 0.65)],
        ];
        let canvas = draw(&members, "Training");
        assert_eq!((canvas.width(), canvas.height()), (900, 760));
        // Both members' colours are on the canvas beyond their legend swatches.
        for m in 0..2 {
            let count = (0..900).flat_map(|x| (0..760).map(move |y| (x, y))).filter(|&(x, y)| canvas.pixel(x, y) == series(m)).count();
            assert!(count > 300, "member {m}: {count}");
        }
        // The stage change after epoch 2 is marked at x = 2.5 in both panels.
        let frame = Frame { left: 110, top: 430, width: 560, height: 240, x: (0.5, 4.5), y: (0.0, 1.0) };
        let (px, _) = frame.point(2.5, 0.0);
        let marked = (frame.top..frame.bottom()).filter(|&y| canvas.pixel(px.round() as u32, y as u32) == REFERENCE).count();
        assert!(marked > 50, "{marked}");
        assert!(image::load_from_memory(&canvas.to_png().unwrap()).is_ok());
    }
}
