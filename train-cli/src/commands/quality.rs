//! `dermlens quality`: the image-quality measures over a collection, how
//! often the default thresholds flag its (presumed good) images, and how
//! often they catch the same images degraded in memory: the robustness
//! benchmark's phone-like degradations at their severe strength
//! (`model::degrade`), washed out and flattened. With `dermlens
//! robustness` (where the model's accuracy falls apart) this is how
//! `QualityThresholds::DEFAULT` was chosen and how it can be re-checked.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use image::{Rgb, RgbImage};
use model::degrade::{Kind, Severity};
use model::quality::{self, QualityIssue, QualityMeasures, QualityThresholds};

use crate::context::Context;
use crate::data::images::print_unreadable;
use crate::data::split::Part;
use crate::data::split::image_files;
use crate::stats::percent;

/// Measure image quality (blur, contrast, exposure) over a folder or split:
/// percentiles, false flags of the default thresholds, and detection of
/// degraded copies made in memory.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A folder of images (searched recursively), one image, or a split CSV.
    pub input: PathBuf,
    /// With a split CSV: only this part (train, val or test).
    #[arg(long)]
    pub part: Option<Part>,
    /// Markdown report.
    #[arg(long, default_value = "quality.md")]
    pub out: PathBuf,
    /// Also write every image's measures and issues, per degradation, to this CSV.
    #[arg(long)]
    pub measures: Option<PathBuf>,
}

/// How a degraded copy is made.
#[derive(Debug, Clone, Copy)]
pub enum How {
    /// A phone photo's degradation, as the robustness benchmark makes it at
    /// its "severe" severity (`model::degrade`).
    Phone(Kind),
    /// Towards white, hardly any clipping: 0.4 x + 0.6 x 255.
    WashedOut,
    /// Contrast reduced to 25% around each channel's mean.
    Flat,
}

/// One way of spoiling a photo, and the issues that count as catching it.
pub struct Degradation {
    pub name: &'static str,
    pub how: How,
    pub expected: &'static [QualityIssue],
}

impl Degradation {
    pub fn apply(&self, image: &RgbImage, seed: u64) -> RgbImage {
        match self.how {
            How::Phone(kind) => {
                model::degrade::Degradation::at(kind, Severity::Severe).apply(image, seed)
            }
            How::WashedOut => map(image, |v| 0.4 * v + 0.6 * 255.0),
            How::Flat => flatten(image),
        }
    }

    pub fn description(&self) -> String {
        match self.how {
            How::Phone(kind) => format!("{} (severe)", kind.describe(Severity::Severe.strength())),
            How::WashedOut => "0.4 x + 0.6 x 255 (towards white, hardly any clipping)".into(),
            How::Flat => "contrast reduced to 25% around each channel's mean".into(),
        }
    }
}

fn map(image: &RgbImage, f: impl Fn(f32) -> f32) -> RgbImage {
    let mut out = image.clone();
    for px in out.pixels_mut() {
        for c in 0..3 {
            px[c] = f(f32::from(px[c])).round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

fn flatten(image: &RgbImage) -> RgbImage {
    let n = f64::from(image.width()) * f64::from(image.height());
    let mut mean = [0.0f64; 3];
    for px in image.pixels() {
        for c in 0..3 {
            mean[c] += f64::from(px[c]);
        }
    }
    let mean = mean.map(|m| (m / n.max(1.0)) as f32);
    let mut out = image.clone();
    for px in out.pixels_mut() {
        *px = Rgb(std::array::from_fn(|c| {
            (mean[c] + 0.25 * (f32::from(px[c]) - mean[c])).round().clamp(0.0, 255.0) as u8
        }));
    }
    out
}

use QualityIssue::{
    Blurred, ColourCast, Compressed, Flat, LowResolution, Noisy, TooBright, TooDark, TooSmall,
};

pub const DEGRADATIONS: [Degradation; 13] = [
    Degradation { name: "blur", how: How::Phone(Kind::Defocus), expected: &[Blurred] },
    Degradation { name: "motion", how: How::Phone(Kind::Motion), expected: &[Blurred] },
    Degradation { name: "dark", how: How::Phone(Kind::Dim), expected: &[TooDark] },
    Degradation { name: "overexposed", how: How::Phone(Kind::Overexposed), expected: &[TooBright] },
    Degradation { name: "warm light", how: How::Phone(Kind::WarmLight), expected: &[ColourCast] },
    Degradation { name: "cool light", how: How::Phone(Kind::CoolLight), expected: &[ColourCast] },
    Degradation { name: "noise", how: How::Phone(Kind::Noise), expected: &[Noisy] },
    Degradation { name: "jpeg", how: How::Phone(Kind::Jpeg), expected: &[Compressed] },
    Degradation {
        name: "low resolution",
        how: How::Phone(Kind::LowResolution),
        expected: &[Blurred, LowResolution],
    },
    Degradation { name: "distance", how: How::Phone(Kind::Distance), expected: &[TooSmall] },
    Degradation {
        name: "combined",
        how: How::Phone(Kind::Combined),
        expected: &[TooDark, ColourCast, Noisy, Blurred, TooSmall, Compressed],
    },
    Degradation { name: "washed out", how: How::WashedOut, expected: &[TooBright, Flat] },
    Degradation { name: "flat", how: How::Flat, expected: &[Flat] },
];

const ISSUES: [QualityIssue; QualityIssue::ALL.len()] = QualityIssue::ALL;
const PERCENTILES: [f64; 9] = [0.1, 1.0, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0, 99.9];

/// Measures and issues of one image and of each degradation of it.
type Row = Vec<(QualityMeasures, Vec<QualityIssue>)>;

fn assess_all(image: &RgbImage, thresholds: &QualityThresholds) -> Row {
    let mut row = vec![quality::assess(image, thresholds)];
    row.extend(
        DEGRADATIONS
            .iter()
            .enumerate()
            .map(|(k, d)| quality::assess(&d.apply(image, k as u64), thresholds)),
    );
    row
}

pub fn run(options: Args, _ctx: &Context) -> Result<()> {
    let mut outputs = vec![options.out.as_path()];
    outputs.extend(options.measures.as_deref());
    for out in outputs {
        crate::files::check_output(out, &[&options.input])?;
    }
    let (files, what) = image_files(&options.input, options.part)?;
    if files.is_empty() {
        bail!("no images found in {}", options.input.display());
    }
    let thresholds = QualityThresholds::DEFAULT;
    let bar = crate::progress::bar(files.len() as u64, "measuring");
    let mut rows: Vec<(PathBuf, Row)> = Vec::with_capacity(files.len());
    let mut failed = Vec::new();
    for path in &files {
        let decoded = crate::files::read_limited(path, crate::files::MAX_PHOTO_BYTES)
            .map_err(|e| e.to_string())
            .and_then(|bytes| model::preprocess::decode(&bytes).map_err(|e| e.to_string()));
        match decoded {
            Ok(image) => rows.push((path.clone(), assess_all(&image, &thresholds))),
            Err(reason) => failed.push(format!("{}: {reason}", path.display())),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    print_unreadable(&failed);
    if rows.is_empty() {
        bail!("none of the {} images could be read", files.len());
    }

    let report = report(&what, &rows, failed.len(), &thresholds);
    print!("{report}");
    crate::files::write_atomic(&options.out, report.as_bytes())?;
    if let Some(path) = &options.measures {
        write_measures(path, &rows).with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!("report written to {}", options.out.display());
    Ok(())
}

fn variant_name(v: usize) -> &'static str {
    if v == 0 { "original" } else { DEGRADATIONS[v - 1].name }
}

fn issue_list(issues: &[QualityIssue]) -> String {
    issues.iter().map(|i| format!("{i:?}")).collect::<Vec<_>>().join(" ")
}

fn write_measures(path: &Path, rows: &[(PathBuf, Row)]) -> Result<()> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["image", "variant"];
    header.extend(QualityMeasures::NAMES);
    header.push("issues");
    writer.write_record(&header)?;
    for (file, row) in rows {
        let image = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        for (v, (m, issues)) in row.iter().enumerate() {
            let mut record = vec![image.clone(), variant_name(v).to_string()];
            record.extend(m.values().iter().map(|v| format!("{v:.5}")));
            record.push(issue_list(issues));
            writer.write_record(&record)?;
        }
    }
    let bytes = writer.into_inner().map_err(|e| anyhow::anyhow!("cannot encode the CSV: {e}"))?;
    crate::files::write_atomic(path, &bytes)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f32], p: f64) -> f32 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn share(count: usize, total: usize) -> String {
    percent(count, total, 2)
}

/// The share of degraded copies the checks flag, per degradation.
fn detection(out: &mut String, rows: &[(PathBuf, Row)]) {
    let n = rows.len();
    let _ = writeln!(out, "## Detection of degraded copies\n");
    let _ = writeln!(
        out,
        "Each image is degraded in memory at its stored resolution, then assessed like a photo.\n"
    );
    let _ = writeln!(
        out,
        "| degradation | how | expected issue | detected | any flag | {} |",
        ISSUES.map(|i| format!("{i:?}")).join(" | ")
    );
    let _ = writeln!(out, "|---|---|---|---:|---:|{}", "---:|".repeat(ISSUES.len()));
    for (d, degradation) in DEGRADATIONS.iter().enumerate() {
        let v = d + 1;
        let count =
            |f: &dyn Fn(&[QualityIssue]) -> bool| rows.iter().filter(|(_, r)| f(&r[v].1)).count();
        let detected = count(&|i| degradation.expected.iter().any(|e| i.contains(e)));
        let flagged = count(&|i| !i.is_empty());
        let per: Vec<String> =
            ISSUES.iter().map(|issue| share(count(&|i| i.contains(issue)), n)).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | **{}** | {} | {} |",
            degradation.name,
            degradation.description(),
            degradation.expected.iter().map(|e| format!("{e:?}")).collect::<Vec<_>>().join(" or "),
            share(detected, n),
            share(flagged, n),
            per.join(" | ")
        );
    }
    let _ = writeln!(out);
}

/// Percentiles of every measure, on the originals and each degradation.
fn percentiles(out: &mut String, rows: &[(PathBuf, Row)]) {
    let _ = writeln!(out, "## Measures (percentiles over the images)\n");
    type Measure = (&'static str, fn(&QualityMeasures) -> f32);
    let measures: [Measure; 9] = [
        ("sharpness (Laplacian variance)", |m| m.sharpness),
        ("contrast (grey std)", |m| m.contrast),
        ("brightness (grey mean)", |m| m.brightness),
        ("dark-clipped share", |m| m.dark_clipped),
        ("bright-clipped share", |m| m.bright_clipped),
        ("warmth (ln R/B of the light)", |m| m.warmth),
        ("noise (sigma)", |m| m.noise),
        ("lesion area (share of the frame)", |m| m.lesion_area),
        ("blockiness (JPEG's grid, 1: none)", |m| m.blockiness),
    ];
    let header: Vec<String> = PERCENTILES.iter().map(|p| format!("p{p}")).collect();
    for (name, get) in measures {
        let _ = writeln!(out, "### {name}\n");
        let _ = writeln!(out, "| variant | {} |", header.join(" | "));
        let _ = writeln!(out, "|---|{}", "---:|".repeat(PERCENTILES.len()));
        for v in 0..=DEGRADATIONS.len() {
            let mut values: Vec<f32> = rows.iter().map(|(_, r)| get(&r[v].0)).collect();
            values.sort_by(f32::total_cmp);
            let cells: Vec<String> =
                PERCENTILES.iter().map(|&p| format_value(percentile(&values, p))).collect();
            let _ = writeln!(out, "| {} | {} |", variant_name(v), cells.join(" | "));
        }
        let _ = writeln!(out);
    }
}

/// The Markdown report.
pub fn report(
    what: &str,
    rows: &[(PathBuf, Row)],
    unreadable: usize,
    t: &QualityThresholds,
) -> String {
    let n = rows.len();
    let mut out = String::new();
    let _ = writeln!(out, "# Image quality: {what}\n");
    let _ = writeln!(
        out,
        "{n} {} measured{}, each resized to {size}x{size} (the network's input, whole frame) before measuring; \
         grey = Rec. 601 luma; clip levels: luma <= {dark} and >= {bright}.\n",
        if n == 1 { "image" } else { "images" },
        if unreadable > 0 { format!(" ({unreadable} unreadable, skipped)") } else { String::new() },
        size = quality::ANALYSIS_SIZE,
        dark = quality::DARK_CLIP,
        bright = quality::BRIGHT_CLIP,
    );
    let _ = writeln!(
        out,
        "Thresholds (`QualityThresholds::DEFAULT`): sharpness >= {}, contrast >= {}, brightness {}..{}, \
        dark-clipped <= {}, bright-clipped <= {}, warmth {}..{}, noise <= {}, shorter side >= {} px, \
        lesion area >= {}, blockiness <= {}.\n",
        t.min_sharpness,
        t.min_contrast,
        t.min_brightness,
        t.max_brightness,
        t.max_dark_clipped,
        t.max_bright_clipped,
        t.min_warmth,
        t.max_warmth,
        t.max_noise,
        t.min_side,
        t.min_lesion_area,
        t.max_blockiness
    );

    // False flags on the images as they are.
    let _ = writeln!(out, "## Flags on the original images (false-flag rate)\n");
    let _ = writeln!(out, "| issue | images | rate |\n|---|---:|---:|");
    for issue in ISSUES {
        let k = rows.iter().filter(|(_, r)| r[0].1.contains(&issue)).count();
        let _ = writeln!(out, "| {issue:?} | {k} | {} |", share(k, n));
    }
    let any = rows.iter().filter(|(_, r)| !r[0].1.is_empty()).count();
    let _ = writeln!(out, "| **any** | {any} | {} |\n", share(any, n));

    detection(&mut out, rows);
    percentiles(&mut out, rows);

    // The originals flagged, so a person can look at them.
    let flagged: Vec<String> = rows
        .iter()
        .filter(|(_, r)| !r[0].1.is_empty())
        .take(30)
        .map(|(p, r)| format!("- {}: {}", p.display(), issue_list(&r[0].1)))
        .collect();
    if !flagged.is_empty() {
        let _ = writeln!(
            out,
            "## Original images flagged{}\n",
            if any > flagged.len() { " (first 30)" } else { "" }
        );
        let _ = writeln!(out, "{}\n", flagged.join("\n"));
    }
    out
}

fn format_value(v: f32) -> String {
    if v.abs() < 1.0 { format!("{v:.3}") } else { format!("{v:.1}") }
}
