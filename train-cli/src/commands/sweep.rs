//! `dermlens sweep`: trains a recipe with some of its options varied over a
//! grid (or a random sample of it), scores every trial on the validation
//! part and keeps one table of the results. Trials are ordinary run folders
//! that share one feature cache; a killed sweep continues where it stopped.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};

use model::degrade::{Kind, Severity};

use crate::context::Context;
use crate::data::split::{self, Part};
use crate::degraded::{self, Condition};
use crate::infer::{looking_of_run, sample_outputs};
use crate::metrics;
use crate::recipe::{Recipe, RecipeArgs};
use crate::rng::Rng;
use crate::run_dir::RunDir;
use crate::run_dir::sweep::SweepDir;
use crate::train::ensemble::train;

/// Train a recipe with options varied over a grid and compare the trials on
/// the validation part.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub recipe: RecipeArgs,
    /// An option and its values, e.g. `ema=0,0.998` or `inputs=160,192+224`
    /// (`+` joins the items of a list option); repeat for a grid.
    #[arg(long = "grid", value_name = "OPTION=VALUES", required = true)]
    pub grid: Vec<String>,
    /// `grid`: every combination of the values; `one-at-a-time`: the base
    /// recipe, then each option's other values alone (an ablation).
    #[arg(long, value_enum, default_value_t = Vary::Grid)]
    pub vary: Vary,
    /// Train only this many trials of the grid, drawn at random (0: all).
    #[arg(long, default_value_t = 0)]
    pub trials: usize,
    /// Seed of the random draw of trials.
    #[arg(long, default_value_t = 1)]
    pub draw_seed: u64,
    /// Validation photos (a fixed share of each class) also scored spoilt
    /// the ways phone photos are: every `model::degrade` kind at the
    /// robustness benchmark's moderate severity (0: clean only).
    #[arg(long, default_value_t = 300)]
    pub degraded: usize,
    /// Sweep folder: a run folder per trial and the results table.
    #[arg(long)]
    pub out: PathBuf,
}

/// How trials are made from the options' values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Vary {
    Grid,
    OneAtATime,
}

/// One option and the values it takes.
#[derive(Debug, Clone, PartialEq)]
struct Axis {
    name: String,
    values: Vec<serde_json::Value>,
}

/// Parses `name=a,b,c` against the recipe's own fields, so a typo is an
/// error before anything trains.
fn axis(text: &str, base: &serde_json::Map<String, serde_json::Value>) -> Result<Axis> {
    let (name, values) =
        text.split_once('=').with_context(|| format!("--grid '{text}' is not OPTION=VALUES"))?;
    let name = name.trim().trim_start_matches("--").replace('-', "_");
    let Some(current) = base.get(&name) else {
        let mut known: Vec<&String> = base.keys().collect();
        known.sort();
        bail!(
            "--grid names '{name}', which is not a recipe option (they are: {})",
            known.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
        );
    };
    let parse = |v: &str| {
        serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_string()))
    };
    let values: Vec<serde_json::Value> = values
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            if current.is_array() {
                serde_json::Value::Array(v.split('+').map(parse).collect())
            } else {
                parse(v)
            }
        })
        .collect();
    if values.is_empty() {
        bail!("--grid '{text}' gives no values");
    }
    Ok(Axis { name, values })
}

/// Every combination of the axes' values, as overrides.
fn combinations(axes: &[Axis]) -> Vec<Vec<(String, serde_json::Value)>> {
    let mut out = vec![Vec::new()];
    for axis in axes {
        out = out
            .into_iter()
            .flat_map(|partial: Vec<(String, serde_json::Value)>| {
                axis.values.iter().map(move |v| {
                    let mut next = partial.clone();
                    next.push((axis.name.clone(), v.clone()));
                    next
                })
            })
            .collect();
    }
    out
}

/// The base (no override), then each axis's values that differ from the base, alone.
fn one_at_a_time(
    axes: &[Axis],
    base: &serde_json::Map<String, serde_json::Value>,
) -> Vec<Vec<(String, serde_json::Value)>> {
    let mut out = vec![Vec::new()];
    for axis in axes {
        for value in &axis.values {
            if base.get(&axis.name) != Some(value) {
                out.push(vec![(axis.name.clone(), value.clone())]);
            }
        }
    }
    out
}

fn describe(overrides: &[(String, serde_json::Value)]) -> String {
    if overrides.is_empty() {
        return "(base recipe)".into();
    }
    overrides.iter().map(|(k, v)| format!("{k}={}", short(v))).collect::<Vec<_>>().join(" ")
}

/// A value as a table shows it: paths by their file name, lists of them
/// joined with `+` as on the command line.
fn short(value: &serde_json::Value) -> String {
    let name =
        |s: &str| Path::new(s).file_name().map_or(s.to_string(), |n| n.to_string_lossy().into());
    match value {
        serde_json::Value::String(s) => name(s),
        serde_json::Value::Array(items) if items.iter().all(serde_json::Value::is_string) => items
            .iter()
            .filter_map(serde_json::Value::as_str)
            .map(name)
            .collect::<Vec<_>>()
            .join("+"),
        other => other.to_string(),
    }
}

/// A finished trial's validation figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TrialResult {
    trial: String,
    overrides: String,
    balanced_accuracy: f64,
    accuracy: f64,
    macro_f1: f64,
    mean_auc: f64,
    melanoma_recall: f64,
    nevi_called_melanoma: f64,
    nll: f64,
    minutes: f64,
    /// Over the degraded validation photos: the mean and the lowest
    /// balanced accuracy of the kinds, and that kind.
    #[serde(default)]
    degraded_mean: Option<f64>,
    #[serde(default)]
    degraded_worst: Option<f64>,
    #[serde(default)]
    degraded_worst_kind: Option<String>,
}

/// Scores a trained trial: every member over the plain validation photos,
/// averaged, without calibration.
fn score(
    dir: &RunDir,
    name: &str,
    overrides: &str,
    degraded: usize,
    ctx: &Context,
) -> Result<TrialResult> {
    let run = dir.load()?;
    let members = dir.load_members(&run, &ctx.device)?;
    let split = split::load(&run.options.split)?;
    let val = sample_outputs(
        &members,
        &split.part(Part::Val),
        &looking_of_run(&run, model::tta::Tta::None),
        &ctx.device,
    )?;
    let probabilities: Vec<Vec<f32>> =
        (0..val.labels.len()).map(|i| mean_softmax(&val.sample_logits(i))).collect();
    let malignant: Vec<bool> = run.classes.iter().map(|c| c.malignant).collect();
    let spoilt = degraded_scores(&members, &run, &split, degraded, ctx)?;
    let worst = spoilt.iter().min_by(|a, b| a.1.total_cmp(&b.1));
    let m = metrics::compute(&probabilities, &val.labels, &malignant);
    let code = |c: &str| run.classes.iter().position(|k| k.code == c);
    let (mel, nv) = (code("mel"), code("nv"));
    let rate = |row: Option<usize>, col: Option<usize>| match (row, col) {
        (Some(r), Some(c)) => {
            m.confusion[r][c] as f64 / m.confusion[r].iter().sum::<usize>().max(1) as f64
        }
        _ => f64::NAN,
    };
    Ok(TrialResult {
        trial: name.into(),
        overrides: overrides.into(),
        balanced_accuracy: m.balanced_accuracy,
        accuracy: m.accuracy,
        macro_f1: m.macro_f1,
        mean_auc: m.mean_auc,
        melanoma_recall: rate(mel, mel),
        nevi_called_melanoma: rate(nv, mel),
        nll: m.nll,
        minutes: run.seconds.iter().sum::<f64>() / 60.0,
        degraded_mean: (!spoilt.is_empty())
            .then(|| spoilt.iter().map(|(_, b)| b).sum::<f64>() / spoilt.len() as f64),
        degraded_worst: worst.map(|w| w.1),
        degraded_worst_kind: worst.map(|w| w.0.clone()),
    })
}

/// The members' mean uncalibrated probabilities.
fn mean_softmax(member_logits: &[Vec<f32>]) -> Vec<f32> {
    let per_member: Vec<Vec<f32>> =
        member_logits.iter().map(|l| model::calibration::softmax(l, 1.0)).collect();
    let classes = per_member.first().map_or(0, Vec::len);
    (0..classes)
        .map(|c| per_member.iter().map(|p| p[c]).sum::<f32>() / per_member.len() as f32)
        .collect()
}

/// Balanced accuracy on `limit` validation photos spoilt by each kind at
/// the benchmark's moderate severity (none when `limit` is 0).
fn degraded_scores(
    members: &[model::classifier::Classifier],
    run: &crate::run_dir::Run,
    split: &split::Split,
    limit: usize,
    ctx: &Context,
) -> Result<Vec<(String, f64)>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let samples = degraded::sample(&split.part(Part::Val), &split.classes, limit);
    let photos = degraded::decode(&samples)?;
    let labels: Vec<usize> = samples.iter().map(|s| s.label).collect();
    let malignant: Vec<bool> = run.classes.iter().map(|c| c.malignant).collect();
    let looking = looking_of_run(run, model::tta::Tta::None);
    let conditions = Condition::list(&Kind::ALL, &[Severity::Moderate]);
    let bar = crate::progress::bar((conditions.len() * photos.len()) as u64, "degraded validation");
    let mut out = Vec::new();
    for condition in conditions.iter().skip(1) {
        let outputs =
            degraded::outputs(members, &looking, &photos, &samples, condition, &ctx.device, &bar)?;
        let probabilities: Vec<Vec<f32>> =
            outputs.iter().map(|o| mean_softmax(&o.logits)).collect();
        let m = metrics::compute(&probabilities, &labels, &malignant);
        out.push((condition.kind().to_string(), m.balanced_accuracy));
    }
    bar.finish_and_clear();
    Ok(out)
}

fn table(results: &[TrialResult], pending: usize) -> String {
    let mut out = String::from(
        "| trial | options | val balanced acc. | accuracy | macro F1 | mean AUC | mel recall | nevi called mel | NLL | degraded: mean | degraded: worst | minutes |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in results {
        let _ = writeln!(
            out,
            "| {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {} | {:.0} |",
            r.trial,
            r.overrides,
            r.balanced_accuracy,
            r.accuracy,
            r.macro_f1,
            r.mean_auc,
            r.melanoma_recall,
            r.nevi_called_melanoma,
            r.nll,
            r.degraded_mean.map_or("-".into(), |v| format!("{v:.3}")),
            match (r.degraded_worst, &r.degraded_worst_kind) {
                (Some(v), Some(k)) => format!("{v:.3} ({k})"),
                _ => "-".into(),
            },
            r.minutes
        );
    }
    if pending > 0 {
        let _ = writeln!(out, "\n{pending} trial(s) not finished yet.");
    }
    out
}

pub fn run(args: Args, ctx: &Context) -> Result<()> {
    let base = args.recipe.resolve()?;
    let fields = base.fields()?;
    let axes: Vec<Axis> = args.grid.iter().map(|g| axis(g, &fields)).collect::<Result<_>>()?;
    let mut trials = match args.vary {
        Vary::Grid => combinations(&axes),
        Vary::OneAtATime => one_at_a_time(&axes, &fields),
    };
    if args.trials > 0 && args.trials < trials.len() {
        let mut rng = Rng::new(args.draw_seed);
        rng.shuffle(&mut trials);
        trials.truncate(args.trials);
    }
    // Every trial's recipe is checked before the first trains.
    let mut recipes = Vec::with_capacity(trials.len());
    for overrides in &trials {
        let mut value = serde_json::Value::Object(fields.clone());
        for (k, v) in overrides {
            value[k] = v.clone();
        }
        let recipe: Recipe = serde_json::from_value(value)
            .with_context(|| format!("the trial {} is not a usable recipe", describe(overrides)))?;
        let problems = recipe.problems();
        if !problems.is_empty() {
            bail!("the trial {}: {}", describe(overrides), problems.join("; "));
        }
        recipes.push(recipe);
    }
    let sweep = SweepDir::new(&args.out);
    sweep.create()?;
    let cache = sweep.cache_dir();
    let mut results = Vec::new();
    let report = sweep.report();
    for (i, (overrides, recipe)) in trials.iter().zip(&recipes).enumerate() {
        let name = SweepDir::trial_name(i);
        let dir = sweep.trial(i);
        let result_file = SweepDir::result_file(&dir);
        if let Ok(result) = crate::files::read_json::<TrialResult>(&result_file, String::new) {
            results.push(result);
            continue;
        }
        eprintln!("{name}: {}", describe(overrides));
        if dir.run_file().exists() && dir.load()?.options != *recipe {
            bail!(
                "{} holds a run of another recipe: remove it or choose another --out",
                dir.path.display()
            );
        }
        train(recipe, &dir, dir.run_file().exists(), Some(&cache), ctx)?;
        let result = score(&dir, &name, &describe(overrides), args.degraded, ctx)?;
        crate::files::write_atomic(
            &result_file,
            serde_json::to_string_pretty(&result)?.as_bytes(),
        )?;
        results.push(result);
        write_report(&report, &results, recipes.len() - results.len())?;
    }
    write_report(&report, &results, 0)?;
    print!("{}", table(&results, 0));
    println!("\nresults written to {}", report.display());
    Ok(())
}

fn write_report(path: &Path, results: &[TrialResult], pending: usize) -> Result<()> {
    let text = format!(
        "# Sweep\n\nValidation part, members averaged, no calibration, no test-time views; \
         \"degraded\": the balanced accuracy of each `model::degrade` kind at moderate severity on a \
         fixed subset of the part (the mean over kinds, and the worst).\n\n{}",
        table(results, pending)
    );
    crate::files::write_atomic(path, text.as_bytes())?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    for r in results {
        writer.serialize(r)?;
    }
    let bytes = writer.into_inner().map_err(|e| anyhow::anyhow!("cannot encode the CSV: {e}"))?;
    crate::files::write_atomic(&path.with_extension("csv"), &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> serde_json::Map<String, serde_json::Value> {
        let serde_json::Value::Object(m) =
            serde_json::json!({ "ema": 0.998, "inputs": [160], "sampling": "sqrt" })
        else {
            unreachable!()
        };
        m
    }

    #[test]
    fn grids_parse_against_the_recipe_and_combine() {
        let a = axis("ema=0,0.998", &base()).unwrap();
        assert_eq!(a.values, vec![serde_json::json!(0), serde_json::json!(0.998)]);
        let b = axis("--inputs=160,192+224", &base()).unwrap();
        assert_eq!(b.values, vec![serde_json::json!([160]), serde_json::json!([192, 224])]);
        let c = axis("sampling=balanced", &base()).unwrap();
        assert_eq!(c.values, vec![serde_json::json!("balanced")]);
        assert!(
            format!("{:#}", axis("emma=1", &base()).unwrap_err()).contains("not a recipe option")
        );
        assert!(axis("ema", &base()).is_err());
        let all = combinations(&[a.clone(), b.clone()]);
        assert_eq!(all.len(), 4);
        assert_eq!(describe(&all[3]), "ema=0.998 inputs=[192,224]");
        let backbones = serde_json::json!(["/runs/lite0.bpk", "/runs/lite1.bpk"]);
        assert_eq!(describe(&[("backbone".into(), backbones)]), "backbone=lite0.bpk+lite1.bpk");
        // One at a time: the base, then ema=0 and inputs=[192,224] alone (the base's own values are skipped).
        let ablation = one_at_a_time(&[a, b], &base());
        assert_eq!(
            ablation.iter().map(|o| describe(o)).collect::<Vec<_>>(),
            ["(base recipe)", "ema=0", "inputs=[192,224]"]
        );
    }
}
