//! `MODEL_CARD.md`, written beside the bundle from the run's own files: what
//! the model was trained on, how, how well it did, and what it is not for.

use std::fmt::Write as _;

use anyhow::Result;
use clap::ValueEnum as _;
use model::bundle::Manifest;
use model::preprocess::Geometry;

use crate::data::class_counts;
use crate::data::split::{self, Part};
use crate::recipe::Sampling;
use crate::run_dir::calibration::Calibration;
use crate::run_dir::{Run, RunDir, log};

pub const FILE: &str = "MODEL_CARD.md";

pub fn write(
    dir: &RunDir,
    run: &Run,
    calibration: &Calibration,
    manifest: &Manifest,
    bytes: usize,
    notes: Option<&str>,
) -> Result<String> {
    let mut card = String::new();
    header(&mut card, run, manifest, bytes)?;
    data(&mut card, run)?;
    training(&mut card, dir, run, manifest)?;
    calibration_words(&mut card, calibration)?;
    if let Some(notes) = notes {
        writeln!(card, "## How the recipe was chosen\n\n{}\n", notes.trim())?;
    }
    writeln!(card, "## Evaluation\n")?;
    match dir.evaluation_table() {
        Some(table) => writeln!(
            card,
            "From `dermlens evaluate` (the test part was used only for this table):\n\n{table}\n"
        )?,
        None => {
            writeln!(card, "Not evaluated: run `dermlens evaluate` on the run before exporting.\n")?
        }
    }

    writeln!(card, "## Limitations\n")?;
    writeln!(
        card,
        "- Learned from dermatoscope images (HAM10000: Austria and Australia), mostly of light skin. Phone \
         photos without a dermatoscope, other skin tones, body sites and lesion types outside these classes \
         are unlike its training data; its answers on them mean less than the figures above suggest.\n\
         - It sees the centred square of the photo: keep the spot in the middle.\n\
         - The figures come from one split of one dataset; a clinic's own photos may differ.\n\
         - The not-a-lesion warning is a safety net, not a guarantee.\n\
         - HAM10000 is CC BY-NC 4.0 (Tschandl, Rosendahl and Kittler, 2018): the model inherits the \
         non-commercial condition."
    )?;
    Ok(card)
}

fn header(card: &mut String, run: &Run, manifest: &Manifest, bytes: usize) -> Result<()> {
    writeln!(card, "# Model card: dermlens skin-lesion classifier\n")?;
    writeln!(card, "{}\n", manifest.provenance)?;
    writeln!(
        card,
        "Bundle format {} version {}, {}, {} weights ({:.1} MB), exported by dermlens {} with burn {}.\n",
        manifest.format,
        manifest.version,
        count(manifest.members.len(), "member"),
        format!("{:?}", manifest.encoding).to_lowercase(),
        bytes as f64 / 1e6,
        env!("CARGO_PKG_VERSION"),
        run.burn_version
    )?;

    writeln!(card, "## Intended use\n")?;
    writeln!(
        card,
        "A second look at a photo of one skin spot, privately, in the browser: which of the {} lesion \
         classes below it resembles, how sure the ensemble is, and where in the photo it looked. **It is not \
         a diagnosis** and not a medical device: anything worrying belongs in front of a dermatologist.\n",
        manifest.classes.len()
    )?;

    Ok(())
}

fn data(card: &mut String, run: &Run) -> Result<()> {
    let recipe = &run.options;
    writeln!(card, "## Data\n")?;
    let split = split::load(&recipe.split)?;
    writeln!(
        card,
        "Split file `{}` (sha256 `{}`): by lesion, stratified by class; no lesion in two parts.\n",
        recipe.split.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        run.split_sha256
    )?;
    writeln!(card, "| class | name | malignant | train | val | test |\n|---|---|---|---|---|---|")?;
    let counts: Vec<Vec<usize>> =
        Part::ALL.iter().map(|&p| class_counts(&split.part(p), split.classes.len())).collect();
    for (c, class) in run.classes.iter().enumerate() {
        writeln!(
            card,
            "| {} | {} | {} | {} | {} | {} |",
            class.code,
            class.name,
            if class.malignant { "yes" } else { "no" },
            counts[0][c],
            counts[1][c],
            counts[2][c]
        )?;
    }

    Ok(())
}

fn training(card: &mut String, dir: &RunDir, run: &Run, manifest: &Manifest) -> Result<()> {
    let recipe = &run.options;
    writeln!(card, "\n## Training\n")?;
    let inputs: Vec<String> = run
        .inputs()
        .iter()
        .enumerate()
        .map(|(m, i)| format!("{} at {}", run.variant(m).name().replace("lite", "Lite"), i[0]))
        .collect();
    writeln!(
        card,
        "From an ImageNet EfficientNet-Lite backbone, per member: the head on the frozen backbone's \
         features ({} epochs), then the whole network for {} epochs of {} images (batch {}, AdamW, peak \
         learning rate {}, weight decay {} except BatchNorm and biases, cosine schedule after {}), views \
         drawn afresh each epoch from {} (crops of {}-100% of it, any rotation, flips, colour and hue \
         jitter), {} with a logit-adjusted loss (tau {}), label smoothing {}, and a moving average of the \
         weights (decay {}) kept as the member. Members' backbones and inputs: {} px. Seed {}. Trained on {}.\n",
        recipe.head_epochs,
        recipe.epochs,
        recipe.epoch_images,
        recipe.batch,
        recipe.lr,
        recipe.weight_decay,
        count(recipe.warmup_epochs, "warm-up epoch"),
        geometry_words(manifest.geometry),
        (recipe.min_area * 100.0).round(),
        sampling_words(recipe.sampling),
        recipe.logit_adjust,
        recipe.label_smoothing,
        recipe.ema,
        inputs.join(", "),
        recipe.seed,
        run.device
    )?;
    if recipe.phone > 0.0 {
        writeln!(
            card,
            "{:.0}% of the views were first spoilt the ways a phone photo differs from a dermatoscope image \
             (the light's colour, distance, blur or resolution, exposure, noise, JPEG; up to strength {} of \
             `dermlens robustness`'s scale).\n",
            recipe.phone * 100.0,
            recipe.phone_strength
        )?;
    }
    if recipe.colour_constancy {
        writeln!(
            card,
            "Every photo's colours are evened out (shades-of-grey colour constancy) before the network sees \
             it, in training and in use.\n"
        )?;
    }
    if let Some(teacher) = &recipe.teacher {
        let name =
            teacher.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        writeln!(
            card,
            "Distilled: in the whole-network epochs, {:.0}% of each view's target was the mean prediction of \
             the members of a finished run on the same split (`{name}`) on the same view, softened by \
             temperature {}.\n",
            recipe.distill_weight * 100.0,
            recipe.distill_temperature
        )?;
    }
    let minutes: f64 = run.seconds.iter().sum::<f64>() / 60.0;
    if minutes > 0.0 {
        writeln!(card, "Training took {minutes:.0} minutes in all.\n")?;
    }
    for m in 0..recipe.members {
        if let Ok(rows) = log::read(&dir.member(m).log())
            && let Some(last) = rows.last()
        {
            writeln!(
                card,
                "- member {m}: final validation balanced accuracy {:.3} (weights averaged)",
                last.val_balanced_accuracy
            )?;
        }
    }
    Ok(())
}

fn calibration_words(card: &mut String, calibration: &Calibration) -> Result<()> {
    writeln!(
        card,
        "\nCalibration on the validation part: temperatures {:?}; melanoma logit offset {:+.2}; \"uncertain\" \
         below {:.0}% of members agreeing or a top probability under {:.2}; \"not like a lesion photo\" above a \
         familiarity distance of {:.2}; {} test-time views.\n",
        calibration.scaling.temperatures.iter().map(|t| format!("{t:.3}")).collect::<Vec<_>>(),
        calibration.scaling.offsets.iter().copied().fold(0.0f32, |a, b| if b.abs() > a.abs() {
            b
        } else {
            a
        }),
        calibration.thresholds.min_agreement * 100.0,
        calibration.thresholds.min_confidence,
        calibration.thresholds.max_familiarity_distance,
        calibration.tta.count()
    )?;
    writeln!(
        card,
        "The advice sends the photo to a dermatologist when the malignant classes together reach {:.3} \
         (chosen on validation for the share of malignant lesions it must refer), or the result is uncertain \
         or unlike a lesion photo.\n",
        calibration.thresholds.referral
    )?;
    if let Some(prior) = &calibration.metadata {
        writeln!(
            card,
            "Age, sex and body site, when a person gives them (optional; never stored): a prior on top \
             of the image model, one shift per class from the age, the sex and {} body sites, fitted on \
             the validation part with the image model's probabilities kept as they are. With it the \
             referral threshold is {:.3}, chosen for the same share of malignant lesions on \
             validation photos judged by priors fitted on the other half of its lesions. The \
             evaluation rows \"ensemble + age/sex/site\" score it.\n",
            prior.sites.len(),
            prior.referral
        )?;
    }
    Ok(())
}

/// The card is prose for people: the recipe's enums in words.
fn geometry_words(geometry: Geometry) -> &'static str {
    match geometry {
        Geometry::Crop => "the photo's centred square",
        Geometry::Stretch => "the whole photo squashed to a square",
    }
}

/// The option's own help text (`--sampling`), as a phrase.
fn sampling_words(sampling: Sampling) -> String {
    let help = sampling.to_possible_value().and_then(|v| v.get_help().map(|h| h.to_string()));
    let help = help.unwrap_or_else(|| format!("{sampling:?} sampling"));
    let mut words = help.trim_end_matches('.').to_string();
    if let Some(first) = words.get(..1) {
        words.replace_range(..1, &first.to_lowercase());
    }
    words
}

fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}
