//! The benchmark's report: a Markdown table (printed too), the same as CSV
//! and JSON, every photo's outcome as CSV, and the plot of balanced
//! accuracy against severity.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::conditions::{Outcome, Tally};
use crate::degraded::Condition;
use model::classes::LesionClass;
use model::quality::QualityMeasures;

use crate::data::Sample;
use crate::files::{AtomicFile, write_atomic};

/// One condition's figures and every photo's outcome.
pub type Measured = (Condition, Tally, Vec<Outcome>);

fn beside(out: &Path, suffix: &str) -> PathBuf {
    let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    out.with_file_name(format!("{stem}{suffix}"))
}

fn percent(v: f64) -> String {
    if v.is_nan() { "-".into() } else { format!("{:.1}%", 100.0 * v) }
}

/// Every file the report writes: the Markdown, then its companions.
pub fn files(out: &Path) -> [PathBuf; 5] {
    [
        out.to_path_buf(),
        beside(out, ".csv"),
        beside(out, ".json"),
        beside(out, "-photos.csv"),
        beside(out, "-accuracy.svg"),
    ]
}

const HEADER: &str = "| degradation | severity | what | balanced acc. | change | mel recall | malignant referred | malignant referred or retake | nevi referred | uncertain | retake |\n|---|---|---|---|---|---|---|---|---|---|---|";

/// The Markdown table of `results` (the first is the clean condition).
pub fn table(results: &[Measured]) -> String {
    let clean = results.first().map_or(f64::NAN, |(_, t, _)| t.balanced_accuracy);
    let mut rows = vec![HEADER.to_string()];
    for (_, t, _) in results {
        let change = t.balanced_accuracy - clean;
        let change = if t.kind == "none" { "-".into() } else { format!("{change:+.3}") };
        let mel = t.melanoma_recall.map_or("-".into(), |r| format!("{r:.3}"));
        rows.push(format!(
            "| {} | {} | {} | {:.3} | {change} | {mel} | {} | {} | {} | {} | {} |",
            t.kind,
            t.severity,
            t.description,
            t.balanced_accuracy,
            percent(t.malignant_referred),
            percent(t.malignant_caught),
            percent(t.nevi_referred),
            percent(t.uncertain),
            percent(t.retake)
        ));
    }
    rows.join("\n")
}

/// The report, its CSV and JSON copies and its plot; the Markdown is
/// written through `out` (opened before any work).
pub fn write(
    mut out: AtomicFile,
    path: &Path,
    model: &Path,
    what: &str,
    results: &[Measured],
) -> Result<()> {
    let table = table(results);
    println!("{table}");
    let tallies: Vec<&Tally> = results.iter().map(|(_, t, _)| t).collect();
    let [_, csv_file, json_file, _, plot_file] = files(path);
    let points: Vec<crate::plot::RobustnessPoint> = tallies
        .iter()
        .map(|t| crate::plot::RobustnessPoint {
            kind: &t.kind,
            severity: &t.severity,
            balanced_accuracy: t.balanced_accuracy,
        })
        .collect();
    write_atomic(&plot_file, crate::plot::robustness(&points)?.as_bytes())?;
    write_atomic(&json_file, serde_json::to_string_pretty(&tallies)?.as_bytes())?;
    let mut csv = csv::Writer::from_writer(Vec::new());
    for t in &tallies {
        csv.serialize(t)?;
    }
    write_atomic(&csv_file, &csv.into_inner()?)?;
    let mut report = String::new();
    writeln!(report, "# Robustness of {}\n\nOn {what}.", model.display())?;
    writeln!(
        report,
        "\"Referred\" is the page's advice to see a dermatologist (a malignant class at or above the \
         referral threshold, an uncertain result, or a photo unlike the training photos); \
         \"retake\" is the photo checks asking for a new photo.\n\n{table}\n"
    )?;
    let plot_name =
        plot_file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    writeln!(report, "![Balanced accuracy against severity]({})", crate::plot::link(&plot_name))?;
    out.write_all(report.as_bytes())?;
    out.finish()?;
    println!("\nreport written to {}", path.display());
    Ok(())
}

/// Every photo's outcome under every condition, as CSV: its measures
/// (to fit the photo checks' thresholds on) and what the bundle made of it.
pub fn write_photos(
    path: &Path,
    results: &[Measured],
    samples: &[Sample],
    labels: &[usize],
    classes: &[LesionClass],
) -> Result<()> {
    let mut csv = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<&str> = vec![
        "image",
        "class",
        "degradation",
        "severity",
        "prediction",
        "correct",
        "malignant",
        "referred",
        "uncertain",
        "unfamiliar",
        "retake",
    ];
    header.extend(QualityMeasures::NAMES);
    csv.write_record(&header)?;
    for (condition, _, outcomes) in results {
        for ((sample, &label), o) in samples.iter().zip(labels).zip(outcomes) {
            let m = &o.measures;
            let retake: Vec<&str> = o.retake.iter().map(|i| i.code()).collect();
            let malignant: f32 = o
                .probabilities
                .iter()
                .zip(classes)
                .filter(|(_, c)| c.malignant)
                .map(|(p, _)| p)
                .sum();
            let code = |i: usize| classes.get(i).map_or("?", |c| c.code.as_str()).to_string();
            let mut row = vec![
                sample.image.clone(),
                code(label),
                condition.kind().into(),
                condition.severity().into(),
                code(o.top),
                (o.top == label).to_string(),
                format!("{malignant:.4}"),
                o.referred.to_string(),
                o.uncertain.to_string(),
                o.unfamiliar.to_string(),
                retake.join(" "),
            ];
            row.extend(m.values().iter().map(|v| format!("{v:.4}")));
            csv.write_record(&row)?;
        }
    }
    let [.., photos_file, _] = files(path);
    write_atomic(&photos_file, &csv.into_inner()?)?;
    Ok(())
}
