//! `dermlens familiarity`: how often the bundle's not-a-lesion check (the
//! members' familiarity distance above the threshold fitted on validation lesions)
//! fires on lesion photos, and how often on clearly unrelated pictures:
//! photos given on the command line (image files, or `.npy` arrays of
//! `u8` height x width x 3 such as the ImageNet reference inputs) and a
//! fixed set of synthetic patterns generated here.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use burn::tensor::Device;
use image::{Rgb, RgbImage, imageops};
use model::analysis;
use model::bundle::LoadedBundle;
use model::ensemble::Prediction;
use model::inference::Looking;
use model::preprocess;

use crate::context::Context;
use crate::data::split::Part;
use crate::data::split::image_files;
use crate::infer;
use crate::stats::{quantile, share};

/// Measure the not-a-lesion check: how often it flags lesion photos and
/// how often unrelated photos and synthetic patterns.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Lesion photos: a split CSV (see --part), a folder or one image.
    pub lesions: PathBuf,
    /// With a split CSV: only this part (train, val or test).
    #[arg(long)]
    pub part: Option<Part>,
    /// Bundle folder written by `dermlens export`.
    #[arg(long, default_value = "public/model")]
    pub model: PathBuf,
    /// Unrelated photos: image files or .npy arrays (u8, height x width x 3).
    #[arg(long, num_args = 1..)]
    pub unrelated: Vec<PathBuf>,
    /// The Markdown report.
    #[arg(long, default_value = "familiarity.md")]
    pub out: PathBuf,
}

/// Side of the synthetic patterns.
const SIDE: u32 = 224;

/// A deterministic pseudo-random sequence for the noise patterns.
fn noise(seed: u64) -> impl FnMut() -> u8 {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 56) as u8
    }
}

fn pattern(f: impl Fn(u32, u32) -> [u8; 3]) -> RgbImage {
    RgbImage::from_fn(SIDE, SIDE, |x, y| Rgb(f(x, y)))
}

/// Pictures that are nothing like a skin lesion: flat colours, gradients,
/// checkerboards, stripes, rings and noise.
pub fn synthetic_patterns() -> Vec<(String, RgbImage)> {
    let mut out: Vec<(String, RgbImage)> = Vec::new();
    for (name, colour) in [
        ("black", [0, 0, 0]),
        ("white", [255, 255, 255]),
        ("grey", [128, 128, 128]),
        ("red", [220, 30, 30]),
        ("green", [30, 200, 60]),
        ("blue", [30, 60, 220]),
    ] {
        out.push((format!("solid {name}"), pattern(|_, _| colour)));
    }
    let ramp = |v: u32| (v * 255 / (SIDE - 1)) as u8;
    out.push(("horizontal gradient".into(), pattern(|x, _| [ramp(x); 3])));
    out.push(("colour gradient".into(), pattern(|x, y| [ramp(x), ramp(y), 255 - ramp(x)])));
    out.push((
        "radial gradient".into(),
        pattern(|x, y| {
            let d = ((x as f32 - 112.0).hypot(y as f32 - 112.0) / 158.0 * 255.0).min(255.0) as u8;
            [d, 255 - d, 128]
        }),
    ));
    for cell in [4, 16, 56] {
        out.push((
            format!("checkerboard {cell} px"),
            pattern(|x, y| [if (x / cell + y / cell).is_multiple_of(2) { 0 } else { 255 }; 3]),
        ));
    }
    out.push((
        "vertical stripes".into(),
        pattern(|x, _| if (x / 8).is_multiple_of(2) { [200, 40, 40] } else { [240, 240, 240] }),
    ));
    out.push((
        "horizontal stripes".into(),
        pattern(|_, y| if (y / 12).is_multiple_of(2) { [20, 20, 120] } else { [250, 220, 60] }),
    ));
    out.push((
        "diagonal stripes".into(),
        pattern(|x, y| if ((x + y) / 10).is_multiple_of(2) { [0, 0, 0] } else { [255, 255, 255] }),
    ));
    out.push((
        "rings".into(),
        pattern(|x, y| {
            let r = (x as f32 - 112.0).hypot(y as f32 - 112.0) as u32;
            if (r / 9).is_multiple_of(2) { [30, 30, 30] } else { [230, 230, 230] }
        }),
    ));
    let mut grey = noise(1);
    out.push(("grey noise".into(), RgbImage::from_fn(SIDE, SIDE, |_, _| Rgb([grey(); 3]))));
    let mut colour = noise(2);
    out.push((
        "colour noise".into(),
        RgbImage::from_fn(SIDE, SIDE, |_, _| Rgb([colour(), colour(), colour()])),
    ));
    let mut smooth = noise(3);
    let coarse = RgbImage::from_fn(8, 8, |_, _| Rgb([smooth(), smooth(), smooth()]));
    out.push((
        "smooth colour noise".into(),
        imageops::resize(&coarse, SIDE, SIDE, imageops::FilterType::Triangle),
    ));
    out
}

fn load_picture(path: &Path) -> Result<RgbImage> {
    let bytes = crate::files::read_limited(path, crate::files::MAX_PHOTO_BYTES)?;
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy")) {
        crate::npy::parse(&bytes)
            .and_then(|a| a.rgb_image())
            .with_context(|| format!("{} is not a usable array", path.display()))
    } else {
        preprocess::decode(&bytes)
            .with_context(|| format!("{} is not a usable image", path.display()))
    }
}

/// A photo, and its four corner crops (each two thirds of a side), to get
/// several differently framed views of few photos.
fn with_crops(name: &str, image: &RgbImage) -> Vec<(String, RgbImage)> {
    let (w, h) = image.dimensions();
    let (cw, ch) = (w * 2 / 3, h * 2 / 3);
    let mut out = vec![(name.to_string(), image.clone())];
    for (corner, x, y) in [
        ("top-left", 0, 0),
        ("top-right", w - cw, 0),
        ("bottom-left", 0, h - ch),
        ("bottom-right", w - cw, h - ch),
    ] {
        out.push((
            format!("{name} ({corner} crop)"),
            imageops::crop_imm(image, x, y, cw, ch).to_image(),
        ));
    }
    out
}

/// The prediction for each in-memory picture.
fn predict_pictures(
    bundle: &LoadedBundle,
    pictures: &[(String, RgbImage)],
    device: &Device,
) -> Result<Vec<Prediction>> {
    let looking = Looking::of(bundle);
    let mut out = Vec::with_capacity(pictures.len());
    for chunk in pictures.chunks(16) {
        let photos: Vec<RgbImage> = chunk.iter().map(|(_, image)| image.clone()).collect();
        for outputs in infer::photo_outputs(&bundle.members, &looking, &photos, device)? {
            out.push(analysis::predict(bundle, &outputs.logits, &outputs.features));
        }
    }
    Ok(out)
}

/// How many of `flags` are set, as "3 of 40 (7.5%)".
fn rate(flags: impl Iterator<Item = bool>) -> String {
    let (hit, n) = flags.fold((0, 0), |(hit, n), f| (hit + usize::from(f), n + 1));
    share(hit, n)
}

pub fn run(options: Args, ctx: &Context) -> Result<()> {
    let mut inputs = vec![options.lesions.as_path()];
    inputs.extend(options.unrelated.iter().map(PathBuf::as_path));
    crate::files::check_output(&options.out, &inputs)?;
    let device = &ctx.device;
    let bundle = crate::bundle_dir::load(&options.model, device)?;
    let manifest = &bundle.manifest;

    let (files, what) = image_files(&options.lesions, options.part)?;
    if files.is_empty() {
        bail!("no lesion images found in {}", options.lesions.display());
    }
    if bundle.familiarity.iter().any(Option::is_none) {
        bail!(
            "{} has no familiarity statistics, so it has no not-a-lesion check: export it again",
            options.model.display()
        );
    }
    let lesions: Vec<Prediction> =
        infer::outputs_for_files(&bundle.members, &files, &Looking::of(&bundle), device)?
            .into_iter()
            .filter_map(Result::ok)
            .map(|outputs| analysis::predict(&bundle, &outputs.logits, &outputs.features))
            .collect();
    if lesions.is_empty() {
        bail!("none of the {} lesion images could be read", files.len());
    }

    let mut photos = Vec::new();
    for path in &options.unrelated {
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        photos.extend(with_crops(&name, &load_picture(path)?));
    }
    let patterns = synthetic_patterns();
    let photo_scores = predict_pictures(&bundle, &photos, device)?;
    let pattern_scores = predict_pictures(&bundle, &patterns, device)?;
    let flags = |predictions: &[Prediction]| rate(predictions.iter().map(|p| p.unfamiliar));
    let distance = |p: &Prediction| p.familiarity_distance.unwrap_or(f32::NAN);
    let median = quantile(&mut lesions.iter().map(distance).collect::<Vec<_>>(), 0.5);
    // The energy rule an earlier bundle used, for comparison: flag what is
    // less confident than 99% of these lesions.
    let energy_bar = quantile(&mut lesions.iter().map(|p| p.energy).collect::<Vec<_>>(), 0.99);

    let mut report = String::new();
    let _ = writeln!(report, "# Not-a-lesion check\n");
    let _ = writeln!(
        report,
        "Bundle `{}`: flagged when the members' mean familiarity distance exceeds {:.3} (the 99th percentile on \
         validation lesions; the median on these lesion photos is {median:.3}).\n\n\
         For comparison, the last column flags by the energy of the mean logits instead, at the 99th percentile \
         of these lesion photos ({energy_bar:.3}).\n",
        options.model.display(),
        manifest.thresholds.max_familiarity_distance,
    );
    let energy_flags =
        |predictions: &[Prediction]| rate(predictions.iter().map(|p| p.energy > energy_bar));
    let _ = writeln!(
        report,
        "| pictures | flagged as not a lesion | by energy instead |\n| --- | --- | --- |"
    );
    let _ = writeln!(
        report,
        "| lesion photos: {what} | {} | {} |",
        flags(&lesions),
        energy_flags(&lesions)
    );
    if !photos.is_empty() {
        let _ = writeln!(
            report,
            "| unrelated photos and their corner crops | {} | {} |",
            flags(&photo_scores),
            energy_flags(&photo_scores)
        );
    }
    let _ = writeln!(
        report,
        "| synthetic patterns | {} | {} |",
        flags(&pattern_scores),
        energy_flags(&pattern_scores)
    );
    let _ = writeln!(
        report,
        "\n| unrelated picture | distance | flagged | energy |\n| --- | --- | --- | --- |"
    );
    for ((name, _), p) in
        photos.iter().chain(&patterns).zip(photo_scores.iter().chain(&pattern_scores))
    {
        let flagged = if p.unfamiliar { "yes" } else { "no" };
        let _ = writeln!(report, "| {name} | {:.2} | {flagged} | {:.3} |", distance(p), p.energy);
    }
    print!("{report}");
    crate::files::write_atomic(&options.out, report.as_bytes())?;
    println!("report written to {}", options.out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_distinct_and_full_size() {
        let patterns = synthetic_patterns();
        assert!(patterns.len() >= 15);
        for (i, (name, a)) in patterns.iter().enumerate() {
            assert_eq!(a.dimensions(), (SIDE, SIDE), "{name}");
            for (other, b) in &patterns[i + 1..] {
                assert_ne!(a, b, "{name} and {other} are the same picture");
            }
        }
    }
}
