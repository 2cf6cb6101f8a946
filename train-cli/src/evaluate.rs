//! `dermlens evaluate`: every member and the ensemble on split parts, side
//! by side, printed and written as a Markdown report with a JSON copy and
//! PNG plots beside it.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use burn::tensor::Device;
use model::calibration::softmax;
use model::ensemble;

use crate::calibrate::{self, part_outputs};
use crate::data::split::Part;
use crate::metrics::{self, Metrics};
use crate::plot::Plots;
use crate::train::Run;

fn row(name: &str, part: Part, m: &Metrics, mel: Option<usize>) -> String {
    let f = |v: Option<f64>| v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into());
    let malignant = m.malignant.as_ref();
    format!(
        "| {name} | {part} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {} | {} | {} | {:.3} | {:.3} |",
        m.n,
        m.accuracy,
        m.balanced_accuracy,
        m.macro_f1,
        m.mcc,
        m.mean_auc,
        f(mel.map(|c| m.per_class[c].recall)),
        f(malignant.map(|b| b.sensitivity)),
        f(malignant.map(|b| b.specificity)),
        f(malignant.and_then(|b| b.auc)),
        m.nll,
        m.ece
    )
}

const HEADER: &str = "| model | part | n | accuracy | balanced acc. | macro F1 | MCC | mean AUC | mel recall | malignant sens. | malignant spec. | malignant AUC | NLL | ECE |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|";

pub fn run(run_dir: &Path, parts: &[Part], out: &Path) -> Result<()> {
    let run = Run::load(run_dir)?;
    let calibration = calibrate::load(run_dir)?;
    let device = Device::flex();
    let members = calibrate::load_members(run_dir, &run, &device)?;
    let malignant: Vec<bool> = run.classes.iter().map(|c| c.malignant).collect();
    let mel = run.classes.iter().position(|c| c.code == "mel");
    let codes: Vec<&str> = run.classes.iter().map(|c| c.code.as_str()).collect();
    let plots = Plots::beside(out);
    let mut table = vec![HEADER.to_string()];
    let mut details = String::new();
    let mut json = serde_json::Map::new();
    for &part in parts {
        let outputs = part_outputs(&members, &run, part, calibration.flip_tta, &device)?;
        let (logits, labels) = (&outputs.logits, &outputs.labels);
        for (m, member_logits) in logits.iter().enumerate() {
            let probs: Vec<Vec<f32>> =
                member_logits.iter().map(|l| softmax(l, calibration.temperatures[m])).collect();
            let metrics = metrics::compute(&probs, labels, &malignant);
            table.push(row(&format!("member {m}"), part, &metrics, mel));
            json.insert(format!("{part}/member-{m}"), serde_json::to_value(&metrics)?);
        }
        let predictions: Vec<ensemble::Prediction> = (0..labels.len())
            .map(|i| {
                let distance = outputs.distance(&calibration.familiarity, i);
                ensemble::combine(&outputs.sample_logits(i), &calibration.temperatures, &run.classes, &calibration.thresholds, distance)
            })
            .collect();
        let probs: Vec<Vec<f32>> = predictions.iter().map(|p| p.probabilities.clone()).collect();
        let metrics = metrics::compute(&probs, labels, &malignant);
        let flagged = predictions.iter().filter(|p| p.out_of_distribution).count();
        let uncertain = predictions.iter().filter(|p| p.uncertain).count();
        table.push(row("**ensemble**", part, &metrics, mel));
        writeln!(details, "\n### Ensemble on the {part} part\n")?;
        writeln!(details, "| class | precision | recall | F1 | AUC | support |\n|---|---|---|---|---|---|")?;
        for (c, class) in run.classes.iter().enumerate() {
            let k = &metrics.per_class[c];
            let auc = k.auc.map(|a| format!("{a:.3}")).unwrap_or_else(|| "-".into());
            writeln!(details, "| {} | {:.3} | {:.3} | {:.3} | {auc} | {} |", class.code, k.precision, k.recall, k.f1, k.support)?;
        }
        writeln!(details, "\nConfusion matrix (rows: truth, columns: prediction)\n\n| | {} |\n|---|{}", codes.join(" | "), "---|".repeat(codes.len()))?;
        for (c, counts) in metrics.confusion.iter().enumerate() {
            let cells: Vec<String> = counts.iter().map(|n| n.to_string()).collect();
            writeln!(details, "| **{}** | {} |", codes[c], cells.join(" | "))?;
        }
        writeln!(details, "\n{}", plots.confusion(part, &metrics.confusion, &codes)?)?;
        writeln!(details, "\n{}", plots.roc(part, &probs, labels, &codes, &malignant)?)?;
        writeln!(details, "\n{}", plots.reliability(part, &probs, labels)?)?;
        let share = |n: usize| format!("{n} of {} ({:.1}%)", labels.len(), 100.0 * n as f64 / labels.len().max(1) as f64);
        writeln!(details, "\nMarked uncertain: {}. Marked as not looking like a lesion: {}.", share(uncertain), share(flagged))?;
        json.insert(format!("{part}/ensemble"), serde_json::to_value(&metrics)?);
    }
    writeln!(details, "\n### Training\n\n{}", plots.training(run_dir, run.options.members)?)?;
    let summary = table.join("\n");
    println!("{summary}");
    let report = format!(
        "# Evaluation of {}\n\nProbabilities after temperature scaling{}; the ensemble is the mean of its members.\n\n{summary}\n{details}",
        run_dir.display(),
        if calibration.flip_tta { " and flip test-time augmentation" } else { "" }
    );
    crate::files::write_atomic(out, report.as_bytes())?;
    crate::files::write_atomic(&out.with_extension("json"), serde_json::to_string_pretty(&json)?.as_bytes())?;
    println!("\nreport written to {}", out.display());
    Ok(())
}
