//! HAM10000: `HAM10000_metadata.csv` (lesion_id, image_id, dx, ...) and the
//! images in one or more folders (`images/`, or the original release's
//! `HAM10000_images_part_1` and `_part_2`), at any resolution.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::{Dataset, Problems, Sample, image_dirs, index_images};

pub const METADATA: &str = "HAM10000_metadata.csv";
const IMAGE_DIRS: [&str; 3] = ["images", "HAM10000_images_part_1", "HAM10000_images_part_2"];

pub fn find_metadata(dir: &Path) -> Option<PathBuf> {
    let path = dir.join(METADATA);
    path.is_file().then_some(path)
}

/// Recognises the metadata file by its header.
pub fn is_metadata(csv: &Path) -> bool {
    header(csv)
        .is_some_and(|h| ["lesion_id", "image_id", "dx"].iter().all(|c| h.iter().any(|x| x == c)))
}

fn header(csv: &Path) -> Option<Vec<String>> {
    let mut reader = csv::Reader::from_path(csv).ok()?;
    Some(reader.headers().ok()?.iter().map(str::to_string).collect())
}

pub fn load(metadata: &Path, extra_dirs: &[PathBuf], skip_bad: bool) -> Result<Dataset> {
    let root = metadata.parent().unwrap_or(Path::new("."));
    let dirs = image_dirs(root, &IMAGE_DIRS, extra_dirs);

    let mut problems = Problems::default();
    let files = index_images(&dirs, &mut problems)?;
    let classes: Vec<String> = model::classes::HAM10000.iter().map(|c| c.to_string()).collect();

    let mut reader = csv::Reader::from_path(metadata)
        .with_context(|| format!("cannot read {}", metadata.display()))?;
    let headers =
        reader.headers().with_context(|| format!("{} has no header", metadata.display()))?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("{} has no '{name}' column", metadata.display()))
    };
    let (lesion_col, image_col, dx_col) =
        (column("lesion_id")?, column("image_id")?, column("dx")?);

    let mut samples = Vec::new();
    let mut seen = HashSet::new();
    for (line, record) in reader.records().enumerate() {
        let line = line + 2; // 1-based, after the header
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                problems.add("unreadable CSV lines", format!("line {line} ({e})"));
                continue;
            }
        };
        let (Some(lesion), Some(image), Some(dx)) =
            (record.get(lesion_col), record.get(image_col), record.get(dx_col))
        else {
            problems.add("unreadable CSV lines", format!("line {line} (too few fields)"));
            continue;
        };
        let Some(label) = classes.iter().position(|c| c == dx) else {
            problems.add("unknown labels", format!("{image}: '{dx}'"));
            continue;
        };
        if !seen.insert(image.to_string()) {
            problems.add("duplicate image ids", image);
            continue;
        }
        let Some(path) = files.get(image) else {
            problems.add("missing image files", image);
            continue;
        };
        let group = if lesion.is_empty() { image } else { lesion };
        samples.push(Sample {
            image: image.into(),
            path: path.clone(),
            label,
            group: group.into(),
        });
    }
    problems.resolve(skip_bad)?;
    if samples.is_empty() {
        bail!("{} lists no usable images", metadata.display());
    }
    Ok(Dataset { classes, samples })
}
