//! `dermlens evaluate`: every member and the ensemble on split parts, side
//! by side, printed and written as a Markdown report with a JSON copy and
//! PNG plots beside it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Result;
use model::classes::LesionClass;
use model::metadata::{Metadata, MetadataPrior};
use model::{ensemble, guidance};

use crate::context::Context;
use crate::data::Sample;
use crate::data::split::{self, Part};
use crate::infer::{looking_of_run, sample_outputs};
use crate::metrics::{self, Metrics};
use crate::plot::Plots;
use crate::run_dir::RunDir;
use crate::stats::share;

/// Evaluate every member and the ensemble on split parts; print and write a Markdown report.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Calibrated run folder.
    pub run: PathBuf,
    /// Parts to evaluate, comma-separated (train, val, test).
    #[arg(long, value_delimiter = ',', default_value = "val,test")]
    pub parts: Vec<Part>,
    /// The Markdown report; a JSON copy and the plots go beside it.
    #[arg(long, default_value = "evaluation.md")]
    pub out: PathBuf,
    /// Also score the ensemble with the age, sex and body-site prior
    /// (`calibrate --metadata`), from this CSV of the photos' metadata.
    #[arg(long, value_name = "CSV")]
    pub metadata: Option<PathBuf>,
}

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

/// How many lesions the page's advice sends to a dermatologist.
#[derive(Debug, serde::Serialize)]
struct Referral {
    malignant: usize,
    malignant_referred: usize,
    benign: usize,
    benign_referred: usize,
    nevi: usize,
    nevi_referred: usize,
}

impl Referral {
    fn sentence(&self, threshold: f32) -> String {
        let r = self;
        format!(
            "\nSent to a dermatologist by the page's advice (malignant probability >= {threshold:.3}, \
             uncertain, or unlike a lesion): {} of the malignant lesions (sensitivity), {} of the \
             benign ones, {} of the nevi; the ROC point (1 - specificity, sensitivity) is ({:.3}, {:.3}).\n",
            share(r.malignant_referred, r.malignant),
            share(r.benign_referred, r.benign),
            share(r.nevi_referred, r.nevi),
            r.benign_referred as f64 / r.benign.max(1) as f64,
            r.malignant_referred as f64 / r.malignant.max(1) as f64,
        )
    }

    /// With each photo's own thresholds (the metadata prior's referral
    /// threshold where it was used).
    fn of(
        predictions: &[ensemble::Prediction],
        labels: &[usize],
        classes: &[model::classes::LesionClass],
        thresholds: &[&ensemble::Thresholds],
    ) -> Self {
        let mut r = Referral {
            malignant: 0,
            malignant_referred: 0,
            benign: 0,
            benign_referred: 0,
            nevi: 0,
            nevi_referred: 0,
        };
        for ((p, &y), t) in predictions.iter().zip(labels).zip(thresholds) {
            let referred = usize::from(guidance::assess(p, classes, Some(t)).see_doctor);
            let class = &classes[y];
            if class.malignant {
                r.malignant += 1;
                r.malignant_referred += referred;
            } else {
                r.benign += 1;
                r.benign_referred += referred;
            }
            if class.code == "nv" {
                r.nevi += 1;
                r.nevi_referred += referred;
            }
        }
        r
    }
}

/// The ensemble's figures with the age, sex and body-site prior applied.
struct Scored {
    metrics: Metrics,
    referral: Referral,
    uncertain: usize,
}

impl Scored {
    /// Photos the metadata does not name stay as the image model has them.
    fn with_metadata(
        prior: &MetadataPrior,
        known: &HashMap<String, Metadata>,
        predictions: &[ensemble::Prediction],
        samples: &[Sample],
        labels: &[usize],
        classes: &[LesionClass],
        thresholds: &ensemble::Thresholds,
    ) -> Self {
        let (adjusted, own): (Vec<_>, Vec<_>) = predictions
            .iter()
            .zip(samples)
            .map(|(p, s)| {
                let m = known.get(&s.image).cloned().unwrap_or_default();
                prior.adjust(p.clone(), &m, classes, thresholds)
            })
            .unzip();
        let probs: Vec<Vec<f32>> = adjusted.iter().map(|p| p.probabilities.clone()).collect();
        let malignant: Vec<bool> = classes.iter().map(|c| c.malignant).collect();
        Self {
            metrics: metrics::compute(&probs, labels, &malignant),
            referral: Referral::of(&adjusted, labels, classes, &own.iter().collect::<Vec<_>>()),
            uncertain: adjusted.iter().filter(|p| p.uncertain).count(),
        }
    }

    fn sentence(&self, mel: Option<usize>) -> String {
        let (m, r) = (&self.metrics, &self.referral);
        format!(
            "\nWith age, sex and body site: balanced accuracy {:.3}, melanoma recall {}, marked \
             uncertain {}; sent to a dermatologist: {} of the malignant lesions, {} of the benign ones, \
             {} of the nevi.\n",
            m.balanced_accuracy,
            mel.map_or("-".into(), |c| format!("{:.3}", m.per_class[c].recall)),
            share(self.uncertain, m.n),
            share(r.malignant_referred, r.malignant),
            share(r.benign_referred, r.benign),
            share(r.nevi_referred, r.nevi),
        )
    }
}

const HEADER: &str = "| model | part | n | accuracy | balanced acc. | macro F1 | MCC | mean AUC | mel recall | malignant sens. | malignant spec. | malignant AUC | NLL | ECE |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|";

/// The per-class figures and the confusion matrix of the ensemble on `part`, in Markdown.
fn class_tables(part: Part, classes: &[LesionClass], metrics: &Metrics) -> Result<String> {
    let codes: Vec<&str> = classes.iter().map(|c| c.code.as_str()).collect();
    let mut out = String::new();
    writeln!(out, "\n### Ensemble on the {part} part\n")?;
    writeln!(
        out,
        "| class | precision | recall | F1 | AUC | support |\n|---|---|---|---|---|---|"
    )?;
    for (class, k) in classes.iter().zip(&metrics.per_class) {
        let auc = k.auc.map(|a| format!("{a:.3}")).unwrap_or_else(|| "-".into());
        writeln!(
            out,
            "| {} | {:.3} | {:.3} | {:.3} | {auc} | {} |",
            class.code, k.precision, k.recall, k.f1, k.support
        )?;
    }
    writeln!(
        out,
        "\nConfusion matrix (rows: truth, columns: prediction)\n\n| | {} |\n|---|{}",
        codes.join(" | "),
        "---|".repeat(codes.len())
    )?;
    for (c, counts) in metrics.confusion.iter().enumerate() {
        let cells: Vec<String> = counts.iter().map(|n| n.to_string()).collect();
        writeln!(out, "| **{}** | {} |", codes[c], cells.join(" | "))?;
    }
    Ok(out)
}

/// The prior and the photos' metadata, when `--metadata` asks for them.
fn load_metadata<'a>(
    file: Option<&std::path::Path>,
    prior: Option<&'a MetadataPrior>,
    run: &std::path::Path,
) -> Result<Option<(&'a MetadataPrior, HashMap<String, Metadata>)>> {
    match (file, prior) {
        (Some(file), Some(prior)) => Ok(Some((prior, crate::data::metadata::read(file)?))),
        (Some(_), None) => anyhow::bail!(
            "{} was calibrated without metadata: run `dermlens calibrate --metadata` first",
            run.display()
        ),
        (None, _) => Ok(None),
    }
}

pub fn run(args: Args, ctx: &Context) -> Result<()> {
    let (run_dir, parts, out) = (&args.run, &args.parts, &args.out);
    // The report and its JSON copy (`--out RUN/run.md` would name run.json).
    crate::files::check_output(out, &[])?;
    crate::files::check_output(&out.with_extension("json"), &[])?;
    let dir = RunDir::new(run_dir);
    let run = dir.load()?;
    let calibration = dir.load_calibration()?;
    let device = &ctx.device;
    let members = dir.load_members(&run, device)?;
    let split = split::load(&run.options.split)?;
    let metadata = load_metadata(args.metadata.as_deref(), calibration.metadata.as_ref(), run_dir)?;
    let looking = looking_of_run(&run, calibration.tta);
    let malignant: Vec<bool> = run.classes.iter().map(|c| c.malignant).collect();
    let mel = run.classes.iter().position(|c| c.code == "mel");
    let codes: Vec<&str> = run.classes.iter().map(|c| c.code.as_str()).collect();
    let plots = Plots::beside(out);
    let mut table = vec![HEADER.to_string()];
    let mut details = String::new();
    let mut json = serde_json::Map::new();
    for &part in parts {
        let outputs = sample_outputs(&members, &split.part(part), &looking, device)?;
        let (logits, labels) = (&outputs.logits, &outputs.labels);
        for (m, member_logits) in logits.iter().enumerate() {
            let probs: Vec<Vec<f32>> =
                member_logits.iter().map(|l| calibration.scaling.probabilities(m, l)).collect();
            let metrics = metrics::compute(&probs, labels, &malignant);
            table.push(row(&format!("member {m}"), part, &metrics, mel));
            json.insert(format!("{part}/member-{m}"), serde_json::to_value(&metrics)?);
        }
        let predictions = outputs.predictions(
            &calibration.familiarity,
            &calibration.scaling,
            &run.classes,
            &calibration.thresholds,
        );
        let probs: Vec<Vec<f32>> = predictions.iter().map(|p| p.probabilities.clone()).collect();
        let metrics = metrics::compute(&probs, labels, &malignant);
        let flagged = predictions.iter().filter(|p| p.unfamiliar).count();
        let uncertain = predictions.iter().filter(|p| p.uncertain).count();
        let same = vec![&calibration.thresholds; predictions.len()];
        let referral = Referral::of(&predictions, labels, &run.classes, &same);
        table.push(row("**ensemble**", part, &metrics, mel));
        if let Some((prior, known)) = &metadata {
            let scored = Scored::with_metadata(
                prior,
                known,
                &predictions,
                &split.part(part),
                labels,
                &run.classes,
                &calibration.thresholds,
            );
            table.push(row("**ensemble + age/sex/site**", part, &scored.metrics, mel));
            details.push_str(&scored.sentence(mel));
            json.insert(
                format!("{part}/ensemble-metadata"),
                serde_json::to_value(&scored.metrics)?,
            );
            json.insert(
                format!("{part}/referral-metadata"),
                serde_json::to_value(&scored.referral)?,
            );
        }
        json.insert(
            format!("{part}/flags"),
            serde_json::json!({ "n": labels.len(), "uncertain": uncertain, "not_a_lesion": flagged }),
        );
        json.insert(format!("{part}/referral"), serde_json::to_value(&referral)?);
        details.push_str(&class_tables(part, &run.classes, &metrics)?);
        writeln!(details, "\n{}", plots.confusion(part, &metrics.confusion, &codes)?)?;
        writeln!(details, "\n{}", plots.roc(part, &probs, labels, &codes, &malignant)?)?;
        writeln!(details, "\n{}", plots.reliability(part, &probs, labels)?)?;
        let n = labels.len();
        writeln!(
            details,
            "\nMarked uncertain: {}. Marked as not looking like a lesion: {}.",
            share(uncertain, n),
            share(flagged, n)
        )?;
        details.push_str(&referral.sentence(calibration.thresholds.referral));
        json.insert(format!("{part}/ensemble"), serde_json::to_value(&metrics)?);
    }
    writeln!(details, "\n### Training\n\n{}", plots.training(&dir, run.options.members)?)?;
    let summary = table.join("\n");
    println!("{summary}");
    let report = format!(
        "# Evaluation of {}\n\nProbabilities after temperature scaling{}; the ensemble is the mean of its members.\n\n{summary}\n{details}",
        run_dir.display(),
        match calibration.tta.count() {
            1 => String::new(),
            n => format!(" and {n} test-time views"),
        }
    );
    crate::files::write_atomic(out, report.as_bytes())?;
    // The run keeps its own copy, for the model card `export` writes.
    dir.save_evaluation(&summary, &serde_json::Value::Object(json.clone()))?;
    crate::files::write_atomic(
        &out.with_extension("json"),
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    println!("\nreport written to {}", out.display());
    Ok(())
}
