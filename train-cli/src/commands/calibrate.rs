//! `dermlens calibrate`: one temperature per member, the melanoma operating
//! point and the ensemble's decision thresholds, fitted on the validation
//! part, and each member's familiarity statistics, fitted on (a class-capped
//! sample of) the train part.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use model::calibration;
use model::ensemble::{self, Scaling, Thresholds};
use model::familiarity::Familiarity;
use model::metadata::{Metadata, MetadataPrior};
use model::tta::Tta;

use crate::context::Context;
use crate::data::Sample;
use crate::data::split::{self, Part};
use crate::infer::{SampleOutputs, looking_of_run, sample_outputs};
use crate::rng::Rng;
use crate::run_dir::RunDir;
use crate::run_dir::calibration::Calibration;
use crate::stats::quantile;

/// Fit one temperature per member and the ensemble's thresholds on the
/// validation part, and the not-a-lesion statistics on the train part.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run folder written by `dermlens train`.
    pub run: PathBuf,
    /// Test-time views each member is averaged over.
    #[arg(long, value_enum, default_value_t = TtaArg::Flips)]
    pub tta: TtaArg,
    /// The melanoma operating point: `auto` chooses the offset added to the
    /// melanoma logit on validation (the best balanced accuracy with at least
    /// 80% of melanomas found and at most 10% of nevi called melanoma, where
    /// possible), `none` adds none, a number adds that.
    #[arg(long, default_value = "auto")]
    pub melanoma_offset: String,
    /// Train images per class (at most) for the not-a-lesion statistics.
    #[arg(long, default_value_t = 400)]
    pub familiarity_per_class: usize,
    /// Principal directions the not-a-lesion statistics keep.
    #[arg(long, default_value_t = 32)]
    pub familiarity_rank: usize,
    /// The share of validation's malignant lesions the page's advice must
    /// send to a dermatologist: the referral threshold (on the total
    /// malignant probability) is the highest that refers this many.
    #[arg(long, default_value_t = 0.95)]
    pub referral_sensitivity: f64,
    /// Also fit the optional age, sex and body-site prior on the validation
    /// part, from this CSV (HAM10000's `HAM10000_metadata.csv` layout:
    /// image_id, age, sex, localization).
    #[arg(long, value_name = "CSV")]
    pub metadata: Option<PathBuf>,
}

/// The metadata prior fitted on validation's `decided` predictions (photos
/// the file names with some metadata), with its own referral threshold for
/// the same sensitivity. Prints what it changes on validation.
fn fit_metadata(
    file: &std::path::Path,
    val: &[Sample],
    decided: &[ensemble::Prediction],
    classes: &[model::classes::LesionClass],
    thresholds: &Thresholds,
    sensitivity: f64,
) -> Result<MetadataPrior> {
    let known = crate::data::metadata::read(file)?;
    let (mut probabilities, mut metas, mut labels, mut kept) = (vec![], vec![], vec![], vec![]);
    let mut groups = Vec::new();
    for (sample, p) in val.iter().zip(decided) {
        if let Some(m) = known.get(&sample.image).filter(|m| !m.is_empty()) {
            probabilities.push(p.probabilities.clone());
            metas.push(m.clone());
            labels.push(sample.label);
            kept.push(p.clone());
            groups.push(sample.group.clone());
        }
    }
    if labels.len() < val.len() / 2 {
        bail!(
            "{} gives age, sex or site for {} of the {} validation photos: too few to fit on",
            file.display(),
            labels.len(),
            val.len()
        );
    }
    let sites = crate::data::metadata::sites(metas.iter());
    let mut prior = MetadataPrior::fit(&probabilities, &metas, &labels, sites.clone(), METADATA_L2);
    // The referral threshold is chosen on predictions the prior was not
    // fitted on (two folds of lesions, each judged by the prior fitted on
    // the other): chosen on the photos it was fitted to, it would refer
    // fewer malignant lesions on new photos than asked.
    let fold: Vec<usize> =
        groups.iter().map(|g| usize::from(model::rng::stable_hash(g) % 2 == 1)).collect();
    let mut adjusted: Vec<Option<ensemble::Prediction>> = vec![None; labels.len()];
    for f in 0..2 {
        let fit_on: Vec<usize> = (0..labels.len()).filter(|&i| fold[i] != f).collect();
        let p: Vec<Vec<f32>> = fit_on.iter().map(|&i| probabilities[i].clone()).collect();
        let m: Vec<Metadata> = fit_on.iter().map(|&i| metas[i].clone()).collect();
        let y: Vec<usize> = fit_on.iter().map(|&i| labels[i]).collect();
        // A fold alone (too few lesions to split) is judged by the whole fit.
        let other = if y.is_empty() {
            prior.clone()
        } else {
            MetadataPrior::fit(&p, &m, &y, sites.clone(), METADATA_L2)
        };
        for i in (0..labels.len()).filter(|&i| fold[i] == f) {
            adjusted[i] = Some(other.adjust(kept[i].clone(), &metas[i], classes, thresholds).0);
        }
    }
    let adjusted: Vec<ensemble::Prediction> = adjusted.into_iter().flatten().collect();
    let malignant: Vec<bool> = classes.iter().map(|c| c.malignant).collect();
    let (_, without) = referral_threshold(&kept, &labels, &malignant, sensitivity);
    let (referral, with) = referral_threshold(&adjusted, &labels, &malignant, sensitivity);
    prior.referral = referral;
    println!(
        "age, sex and body site: fitted on {} validation photos ({} body sites); referring {:.0}% of \
         their malignant lesions refers {:.1}% of their benign ones with them (threshold {referral:.3}; \
         judged by priors fitted on the other half of the lesions), {:.1}% without",
        labels.len(),
        prior.sites.len(),
        100.0 * sensitivity,
        100.0 * with,
        100.0 * without
    );
    Ok(prior)
}

/// The L2 penalty of the metadata prior's weights (`benches/metadata.py`
/// tried 0.001, 0.01 and 0.1: similar figures, 0.01 the middle).
const METADATA_L2: f32 = 0.01;

/// The highest threshold on the malignant probability at which the advice
/// (that threshold, an uncertain result or a photo unlike a lesion) refers
/// at least `sensitivity` of the malignant lesions, and the share of benign
/// ones it then refers. Ties are kept together, so the share is met or passed.
pub fn referral_threshold(
    predictions: &[ensemble::Prediction],
    labels: &[usize],
    malignant: &[bool],
    sensitivity: f64,
) -> (f32, f64) {
    let is_malignant = |y: usize| malignant.get(y).copied().unwrap_or(false);
    let flagged = |p: &ensemble::Prediction| p.uncertain || p.unfamiliar;
    let total = labels.iter().filter(|&&y| is_malignant(y)).count();
    // Malignant lesions referred anyway need no threshold; the rest, by
    // malignant probability, highest first.
    let mut rest: Vec<f32> = predictions
        .iter()
        .zip(labels)
        .filter(|(p, y)| is_malignant(**y) && !flagged(p))
        .map(|(p, _)| p.malignant)
        .collect();
    rest.sort_by(|a, b| b.total_cmp(a));
    let needed = (sensitivity.clamp(0.0, 1.0) * total as f64).ceil() as usize;
    let already = total - rest.len();
    let threshold = match needed.checked_sub(already) {
        None | Some(0) => 1.0,
        Some(k) => rest.get(k - 1).copied().unwrap_or(0.0),
    };
    let benign: Vec<&ensemble::Prediction> = predictions
        .iter()
        .zip(labels)
        .filter(|(_, y)| !is_malignant(**y))
        .map(|(p, _)| p)
        .collect();
    let referred = benign.iter().filter(|p| flagged(p) || p.malignant >= threshold).count();
    (threshold, referred as f64 / benign.len().max(1) as f64)
}

/// `--tta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TtaArg {
    /// The photo alone.
    None,
    /// The photo and its three flips.
    Flips,
    /// The eight flips and quarter turns.
    Dihedral,
}

impl From<TtaArg> for Tta {
    fn from(t: TtaArg) -> Self {
        match t {
            TtaArg::None => Tta::None,
            TtaArg::Flips => Tta::Flips,
            TtaArg::Dihedral => Tta::Dihedral,
        }
    }
}

/// Melanoma recall, the share of nevi called melanoma and the balanced
/// accuracy of the ensemble on `val` under `scaling`.
pub fn operating_point(
    val: &SampleOutputs,
    scaling: &Scaling,
    classes: &[model::classes::LesionClass],
) -> (f64, f64, f64) {
    let unset = Thresholds {
        min_agreement: 0.0,
        min_confidence: 0.0,
        max_familiarity_distance: f32::MAX,
        referral: 1.0,
    };
    let mel = classes.iter().position(|c| c.code == "mel");
    let nv = classes.iter().position(|c| c.code == "nv");
    let mut confusion = vec![vec![0usize; classes.len()]; classes.len()];
    for (i, &y) in val.labels.iter().enumerate() {
        let p = ensemble::combine(&val.sample_logits(i), scaling, classes, &unset, None);
        confusion[y][p.top] += 1;
    }
    let rate = |row: Option<usize>, col: Option<usize>| match (row, col) {
        (Some(r), Some(c)) => {
            confusion[r][c] as f64 / confusion[r].iter().sum::<usize>().max(1) as f64
        }
        _ => 0.0,
    };
    let present: Vec<usize> =
        (0..classes.len()).filter(|&c| confusion[c].iter().sum::<usize>() > 0).collect();
    let balanced =
        present.iter().map(|&c| rate(Some(c), Some(c))).sum::<f64>() / present.len().max(1) as f64;
    (rate(mel, mel), rate(nv, mel), balanced)
}

/// The melanoma logit offset in [-2, 4] (steps of 0.05) with the best
/// balanced accuracy among those that find at least 80% of melanomas and
/// call at most 10% of nevi melanoma; failing that, the one that finds the
/// most melanomas within the nevus limit; failing that, 0.
/// One melanoma offset tried on the validation part.
struct Candidate {
    offset: f32,
    recall: f64,
    /// Share of nevi called melanoma.
    nevi: f64,
    balanced: f64,
}

fn melanoma_offset(
    val: &SampleOutputs,
    temperatures: &[f32],
    classes: &[model::classes::LesionClass],
) -> f32 {
    let Some(mel) = classes.iter().position(|c| c.code == "mel") else { return 0.0 };
    let mut candidates = Vec::new();
    for step in -40..=80 {
        let offset = step as f32 * 0.05;
        let mut offsets = vec![0.0; classes.len()];
        offsets[mel] = offset;
        let scaling = Scaling { temperatures: temperatures.to_vec(), offsets };
        let (recall, nevi, balanced) = operating_point(val, &scaling, classes);
        candidates.push(Candidate { offset, recall, nevi, balanced });
    }
    let within: Vec<&Candidate> = candidates.iter().filter(|c| c.nevi <= 0.10).collect();
    let best = |list: Vec<&Candidate>, key: fn(&Candidate) -> (f64, f64)| {
        list.into_iter()
            .max_by(|a, b| key(a).partial_cmp(&key(b)).unwrap_or(std::cmp::Ordering::Equal))
            .map(|c| c.offset)
    };
    best(within.iter().copied().filter(|c| c.recall >= 0.80).collect(), |c| {
        (c.balanced, -f64::from(c.offset.abs()))
    })
    .or_else(|| best(within, |c| (c.recall, c.balanced)))
    .unwrap_or(0.0)
}

/// At most `per_class` samples of each class, chosen with a fixed seed.
fn capped_per_class(mut samples: Vec<Sample>, per_class: usize) -> Vec<Sample> {
    Rng::new(2026).shuffle(&mut samples);
    let mut taken = std::collections::HashMap::new();
    samples.retain(|s| {
        let n = taken.entry(s.label).or_insert(0usize);
        *n += 1;
        *n <= per_class
    });
    samples
}

/// "Uncertain" below the confidence where validation predictions are right
/// less than half the time.
fn min_confidence(predictions: &[ensemble::Prediction], labels: &[usize]) -> f32 {
    let mut by_confidence: Vec<(f32, bool)> = predictions
        .iter()
        .zip(labels)
        .map(|(p, &y)| (p.probabilities[p.top], p.top == y))
        .collect();
    by_confidence.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut min_confidence = 0.0;
    let mut right = 0usize;
    for (k, (confidence, ok)) in by_confidence.iter().enumerate() {
        right += usize::from(*ok);
        if (right as f32) / ((k + 1) as f32) < 0.5 {
            min_confidence = *confidence;
        }
    }
    min_confidence
}

/// Each member's familiarity statistics, from its features of `seen`.
fn fit_familiarity(seen: &SampleOutputs, rank: usize) -> Result<Vec<Familiarity>> {
    seen.features
        .iter()
        .enumerate()
        .map(|(m, f)| {
            crate::familiarity_fit::fit(f, &seen.labels, rank)
                .with_context(|| format!("fitting member {m}'s familiarity statistics"))
        })
        .collect()
}

pub fn run(args: Args, ctx: &Context) -> Result<()> {
    let dir = RunDir::new(&args.run);
    let run = dir.load()?;
    let device = &ctx.device;
    let members = dir.load_members(&run, device)?;
    let tta = Tta::from(args.tta);
    let looking = looking_of_run(&run, tta);

    let split = split::load(&run.options.split)?;
    let train = capped_per_class(split.part(Part::Train), args.familiarity_per_class);
    if train.is_empty() {
        bail!("the train part is empty");
    }
    println!("fitting familiarity statistics on {} train images", train.len());
    let seen = sample_outputs(&members, &train, &looking, device)?;
    let familiarity = fit_familiarity(&seen, args.familiarity_rank)?;

    let val = sample_outputs(&members, &split.part(Part::Val), &looking, device)?;
    let (logits, labels) = (&val.logits, &val.labels);
    if labels.is_empty() {
        bail!("the validation part is empty");
    }
    let temperatures: Vec<f32> =
        logits.iter().map(|l| calibration::fit_temperature(l, labels)).collect();
    let offset = match args.melanoma_offset.as_str() {
        "auto" => melanoma_offset(&val, &temperatures, &run.classes),
        "none" => 0.0,
        text => text.parse::<f32>().ok().filter(|v| v.is_finite()).with_context(|| {
            format!("--melanoma-offset must be auto, none or a number, not '{text}'")
        })?,
    };
    let mut offsets = vec![0.0; run.classes.len()];
    if let Some(mel) = run.classes.iter().position(|c| c.code == "mel") {
        offsets[mel] = offset;
    }
    let scaling = Scaling { temperatures, offsets };
    let (recall, nevi, balanced) = operating_point(&val, &scaling, &run.classes);

    // Combine on validation to place the thresholds.
    let unset = Thresholds {
        min_agreement: 0.0,
        min_confidence: 0.0,
        max_familiarity_distance: f32::MAX,
        referral: 1.0,
    };
    let predictions = val.predictions(&familiarity, &scaling, &run.classes, &unset);
    // Lesion photos like the training ones: flag at most 1% of them as unfamiliar.
    let mut distances: Vec<f32> =
        predictions.iter().filter_map(|p| p.familiarity_distance).collect();
    let max_familiarity_distance = quantile(&mut distances, 0.99);
    let min_confidence = min_confidence(&predictions, labels);
    let mut thresholds = Thresholds {
        // A majority of members must agree (always met by a single member).
        min_agreement: if members.len() > 1 { 0.5 + 0.5 / members.len() as f32 } else { 0.0 },
        min_confidence,
        max_familiarity_distance,
        referral: 1.0,
    };
    let malignant: Vec<bool> = run.classes.iter().map(|c| c.malignant).collect();
    let decided = val.predictions(&familiarity, &scaling, &run.classes, &thresholds);
    let (referral, benign_referred) =
        referral_threshold(&decided, labels, &malignant, args.referral_sensitivity);
    thresholds.referral = referral;
    let metadata = match &args.metadata {
        Some(file) => Some(fit_metadata(
            file,
            &split.part(Part::Val),
            &decided,
            &run.classes,
            &thresholds,
            args.referral_sensitivity,
        )?),
        None => None,
    };
    let calibration = Calibration { scaling, thresholds, tta, familiarity, metadata };
    dir.save_calibration(&calibration)?;
    for (m, t) in calibration.scaling.temperatures.iter().enumerate() {
        let before = calibration::nll(&logits[m], labels, 1.0);
        let after = calibration::nll(&logits[m], labels, *t);
        println!("member {m}: temperature {t:.3} (validation NLL {before:.4} -> {after:.4})");
    }
    println!(
        "melanoma offset {offset:+.2}: validation melanoma recall {recall:.3}, nevi called melanoma {nevi:.3}, \
         balanced accuracy {balanced:.3}"
    );
    let mut seen_distances: Vec<f32> =
        (0..seen.labels.len()).filter_map(|i| seen.distance(&calibration.familiarity, i)).collect();
    println!(
        "referral: malignant probability >= {referral:.3} (or uncertain, or unlike a lesion) refers {:.0}% of \
         validation's malignant lesions and {:.1}% of its benign ones",
        100.0 * args.referral_sensitivity,
        100.0 * benign_referred
    );
    println!(
        "thresholds: agreement >= {:.2}, confidence >= {:.3}, familiarity distance <= {:.3} (train images: median {:.3})",
        calibration.thresholds.min_agreement,
        calibration.thresholds.min_confidence,
        calibration.thresholds.max_familiarity_distance,
        quantile(&mut seen_distances, 0.5)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prediction(malignant: f32, uncertain: bool) -> ensemble::Prediction {
        ensemble::Prediction {
            members: Vec::new(),
            probabilities: vec![malignant, 1.0 - malignant],
            top: usize::from(malignant < 0.5),
            agreement: 1.0,
            entropy: 0.0,
            malignant,
            energy: 0.0,
            familiarity_distance: None,
            uncertain,
            unfamiliar: false,
        }
    }

    #[test]
    fn the_referral_threshold_refers_the_share_asked_for() {
        // Classes: 0 malignant, 1 benign.
        let malignant = [true, false];
        let predictions = vec![
            prediction(0.9, false),
            prediction(0.5, false),
            prediction(0.3, false),
            prediction(0.05, true), // referred as uncertain whatever the threshold
            prediction(0.02, false),
            prediction(0.4, false),
            prediction(0.1, false),
            prediction(0.01, false),
        ];
        let labels = [0, 0, 0, 0, 0, 1, 1, 1];
        // 4 of 5 malignant: the uncertain one and the three highest.
        let (t, benign) = referral_threshold(&predictions, &labels, &malignant, 0.8);
        assert_eq!(t, 0.3);
        assert!((benign - 1.0 / 3.0).abs() < 1e-9, "the benign 0.4 is referred: {benign}");
        // All five: down to the lowest malignant probability.
        assert_eq!(referral_threshold(&predictions, &labels, &malignant, 1.0).0, 0.02);
        // One of five is referred anyway.
        assert_eq!(referral_threshold(&predictions, &labels, &malignant, 0.2).0, 1.0);
    }
}
