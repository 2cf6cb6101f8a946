//! `dermlens ood`: how often the bundle's not-a-lesion check (the members'
//! familiarity distance above the threshold fitted on validation lesions)
//! fires on lesion photos, and how often on clearly unrelated pictures:
//! photos given on the command line (image files, or `.npy` arrays of
//! `u8` height x width x 3 such as the ImageNet reference inputs) and a
//! fixed set of synthetic patterns generated here.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use image::{Rgb, RgbImage, imageops};
use model::analysis;
use model::bundle::LoadedBundle;
use model::ensemble::Prediction;
use model::preprocess;

use crate::data::split::Part;
use crate::infer::{self, Inputs};

pub struct Options {
    pub model: PathBuf,
    /// Lesion photos: a split CSV or a folder.
    pub lesions: PathBuf,
    pub part: Option<Part>,
    /// Unrelated photos: image files or `.npy` arrays.
    pub unrelated: Vec<PathBuf>,
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
        out.push((format!("checkerboard {cell} px"), pattern(|x, y| [if (x / cell + y / cell) % 2 == 0 { 0 } else { 255 }; 3])));
    }
    out.push(("vertical stripes".into(), pattern(|x, _| if x / 8 % 2 == 0 { [200, 40, 40] } else { [240, 240, 240] })));
    out.push(("horizontal stripes".into(), pattern(|_, y| if y / 12 % 2 == 0 { [20, 20, 120] } else { [250, 220, 60] })));
    out.push(("diagonal stripes".into(), pattern(|x, y| if (x + y) / 10 % 2 == 0 { [0, 0, 0] } else { [255, 255, 255] })));
    out.push((
        "rings".into(),
        pattern(|x, y| {
            let r = (x as f32 - 112.0).hypot(y as f32 - 112.0) as u32;
            if r / 9 % 2 == 0 { [30, 30, 30] } else { [230, 230, 230] }
        }),
    ));
    let mut grey = noise(1);
    out.push(("grey noise".into(), RgbImage::from_fn(SIDE, SIDE, |_, _| Rgb([grey(); 3]))));
    let mut colour = noise(2);
    out.push(("colour noise".into(), RgbImage::from_fn(SIDE, SIDE, |_, _| Rgb([colour(), colour(), colour()]))));
    let mut smooth = noise(3);
    let coarse = RgbImage::from_fn(8, 8, |_, _| Rgb([smooth(), smooth(), smooth()]));
    out.push(("smooth colour noise".into(), imageops::resize(&coarse, SIDE, SIDE, imageops::FilterType::Triangle)));
    out
}

/// Reads a `.npy` array of `u8` with shape `(height, width, 3)`, C order.
pub fn read_npy_rgb(bytes: &[u8]) -> Result<RgbImage> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        bail!("not a .npy file");
    }
    let (header_len, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => bail!("unsupported .npy version {v}"),
    };
    let header = bytes.get(start..start + header_len).context("truncated .npy header")?;
    let header = String::from_utf8_lossy(header);
    if !header.contains("'|u1'") || header.contains("'fortran_order': True") {
        bail!("expected a C-ordered u8 array, the header says {}", header.trim());
    }
    let shape = header
        .split("'shape':")
        .nth(1)
        .and_then(|rest| rest.split(['(', ')']).nth(1))
        .context("no shape in the .npy header")?;
    let dims: Vec<usize> = shape.split(',').filter_map(|d| d.trim().parse().ok()).collect();
    let [h, w, 3] = dims[..] else { bail!("expected a (height, width, 3) array, found ({shape})") };
    let data = &bytes[start + header_len..];
    if data.len() != h * w * 3 {
        bail!("the array should hold {} bytes but holds {}", h * w * 3, data.len());
    }
    RgbImage::from_raw(w as u32, h as u32, data.to_vec()).context("array too large")
}

fn load_picture(path: &Path) -> Result<RgbImage> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy")) {
        read_npy_rgb(&bytes).with_context(|| format!("{} is not a usable array", path.display()))
    } else {
        preprocess::decode(&bytes).with_context(|| format!("{} is not a usable image", path.display()))
    }
}

/// A photo, and its four corner crops (each two thirds of a side), to get
/// several differently framed views of few photos.
fn with_crops(name: &str, image: &RgbImage) -> Vec<(String, RgbImage)> {
    let (w, h) = image.dimensions();
    let (cw, ch) = (w * 2 / 3, h * 2 / 3);
    let mut out = vec![(name.to_string(), image.clone())];
    for (corner, x, y) in [("top-left", 0, 0), ("top-right", w - cw, 0), ("bottom-left", 0, h - ch), ("bottom-right", w - cw, h - ch)] {
        out.push((format!("{name} ({corner} crop)"), imageops::crop_imm(image, x, y, cw, ch).to_image()));
    }
    out
}

/// The prediction for each in-memory picture.
fn predict_pictures(bundle: &LoadedBundle, inputs: &Inputs, pictures: &[(String, RgbImage)], device: &Device) -> Result<Vec<Prediction>> {
    let manifest = &bundle.manifest;
    let [h, w] = manifest.input;
    let mut out = Vec::with_capacity(pictures.len());
    for chunk in pictures.chunks(16) {
        let prepared: Vec<Vec<f32>> = chunk
            .iter()
            .map(|(_, image)| preprocess::to_chw(&preprocess::resize(image, w, h), &manifest.normalization))
            .collect();
        for outputs in infer::prepared_outputs(&bundle.members, &prepared, inputs, device)? {
            out.push(analysis::predict(bundle, &outputs.logits, &outputs.features));
        }
    }
    Ok(out)
}

fn rate(flags: impl Iterator<Item = bool>) -> (usize, usize) {
    flags.fold((0, 0), |(hit, n), f| (hit + usize::from(f), n + 1))
}

fn percent((hit, n): (usize, usize)) -> String {
    format!("{hit} of {n} ({:.1}%)", 100.0 * hit as f64 / n.max(1) as f64)
}

pub fn run(options: &Options) -> Result<()> {
    let device = Device::flex();
    let bundle = crate::bundle_dir::load(&options.model, &device)?;
    let manifest = &bundle.manifest;

    let (files, what) = crate::quality_cmd::image_files(&options.lesions, options.part)?;
    if files.is_empty() {
        bail!("no lesion images found in {}", options.lesions.display());
    }
    if bundle.familiarity.iter().any(Option::is_none) {
        bail!("{} has no familiarity statistics, so it has no not-a-lesion check: export it again", options.model.display());
    }
    let inputs = Inputs::of(manifest);
    let lesions: Vec<Prediction> = infer::outputs_for_files(&bundle.members, &files, &inputs, &device)?
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
    let photo_scores = predict_pictures(&bundle, &inputs, &photos, &device)?;
    let pattern_scores = predict_pictures(&bundle, &inputs, &patterns, &device)?;
    let flags = |predictions: &[Prediction]| rate(predictions.iter().map(|p| p.out_of_distribution));
    let distance = |p: &Prediction| p.distance.unwrap_or(f32::NAN);
    let mut lesion_distances: Vec<f32> = lesions.iter().map(distance).collect();
    lesion_distances.sort_by(f32::total_cmp);
    let median = lesion_distances[lesion_distances.len() / 2];
    // The energy rule an earlier bundle used, for comparison: flag what is
    // less confident than 99% of these lesions.
    let mut lesion_energies: Vec<f32> = lesions.iter().map(|p| p.energy).collect();
    lesion_energies.sort_by(f32::total_cmp);
    let energy_bar = lesion_energies[((lesion_energies.len() - 1) as f32 * 0.99).round() as usize];

    let mut report = String::new();
    let _ = writeln!(report, "# Not-a-lesion check\n");
    let _ = writeln!(
        report,
        "Bundle `{}`: flagged when the members' mean familiarity distance exceeds {:.3} (the 99th percentile on \
         validation lesions; the median on these lesion photos is {median:.3}).\n\n\
         For comparison, the last column flags by the energy of the mean logits instead, at the 99th percentile \
         of these lesion photos ({energy_bar:.3}).\n",
        options.model.display(),
        manifest.thresholds.max_distance,
    );
    let energy_flags = |predictions: &[Prediction]| rate(predictions.iter().map(|p| p.energy > energy_bar));
    let _ = writeln!(report, "| pictures | flagged as not a lesion | by energy instead |\n| --- | --- | --- |");
    let _ = writeln!(report, "| lesion photos: {what} | {} | {} |", percent(flags(&lesions)), percent(energy_flags(&lesions)));
    if !photos.is_empty() {
        let _ = writeln!(
            report,
            "| unrelated photos and their corner crops | {} | {} |",
            percent(flags(&photo_scores)),
            percent(energy_flags(&photo_scores))
        );
    }
    let _ = writeln!(
        report,
        "| synthetic patterns | {} | {} |",
        percent(flags(&pattern_scores)),
        percent(energy_flags(&pattern_scores))
    );
    let _ = writeln!(report, "\n| unrelated picture | distance | flagged | energy |\n| --- | --- | --- | --- |");
    for ((name, _), p) in photos.iter().chain(&patterns).zip(photo_scores.iter().chain(&pattern_scores)) {
        let flagged = if p.out_of_distribution { "yes" } else { "no" };
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

    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        bytes.extend(data);
        bytes
    }

    #[test]
    fn npy_arrays_are_read_and_checked() {
        let image = read_npy_rgb(&npy("|u1", "(2, 1, 3)", &[1, 2, 3, 4, 5, 6])).unwrap();
        assert_eq!(image.dimensions(), (1, 2));
        assert_eq!(image.get_pixel(0, 1).0, [4, 5, 6]);
        let short = read_npy_rgb(&npy("|u1", "(2, 1, 3)", &[1, 2, 3, 4, 5])).unwrap_err();
        assert!(short.to_string().contains("should hold 6 bytes"), "{short}");
        assert!(read_npy_rgb(&npy("<f4", "(2, 1, 3)", &[0; 24])).is_err());
        assert!(read_npy_rgb(&npy("|u1", "(6,)", &[0; 6])).is_err());
        assert!(read_npy_rgb(b"not numpy").is_err());
    }

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
