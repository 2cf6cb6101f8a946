//! ISIC 2019: `ISIC_2019_Training_GroundTruth.csv`, one-hot
//! (`image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK`; the UNK column is ignored),
//! with lesion ids from `ISIC_2019_Training_Metadata.csv` when present.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::{Dataset, Problems, Sample, image_dirs, index_images};

pub const GROUND_TRUTH: &str = "ISIC_2019_Training_GroundTruth.csv";
const METADATA: &str = "ISIC_2019_Training_Metadata.csv";
const IMAGE_DIRS: [&str; 2] = ["ISIC_2019_Training_Input", "images"];

pub fn find_ground_truth(dir: &Path) -> Option<PathBuf> {
    let path = dir.join(GROUND_TRUTH);
    path.is_file().then_some(path)
}

pub fn is_ground_truth(csv: &Path) -> bool {
    csv::Reader::from_path(csv).ok().and_then(|mut r| r.headers().ok().cloned()).is_some_and(|h| {
        h.get(0) == Some("image") && h.iter().any(|c| c == "MEL") && h.iter().any(|c| c == "SCC")
    })
}

/// Lesion id per image from the metadata file, where it has one.
fn lesion_ids(path: &Path) -> Result<HashMap<String, String>> {
    let mut ids = HashMap::new();
    if !path.is_file() {
        return Ok(ids);
    }
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let (Some(image_col), Some(lesion_col)) =
        (headers.iter().position(|h| h == "image"), headers.iter().position(|h| h == "lesion_id"))
    else {
        return Ok(ids);
    };
    for record in reader.records().flatten() {
        if let (Some(image), Some(lesion)) = (record.get(image_col), record.get(lesion_col))
            && !lesion.is_empty()
        {
            ids.insert(image.to_string(), lesion.to_string());
        }
    }
    Ok(ids)
}

pub fn load(truth: &Path, extra_dirs: &[PathBuf], skip_bad: bool) -> Result<Dataset> {
    let root = truth.parent().unwrap_or(Path::new("."));
    let dirs = image_dirs(root, &IMAGE_DIRS, extra_dirs);
    let mut problems = Problems::default();
    let files = index_images(&dirs, &mut problems)?;
    let lesions = lesion_ids(&root.join(METADATA))?;

    let mut reader = csv::Reader::from_path(truth)
        .with_context(|| format!("cannot read {}", truth.display()))?;
    let headers = reader.headers()?.clone();
    // Class columns are every column after `image` except UNK, in file order.
    let class_cols: Vec<(usize, String)> = headers
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(_, h)| !h.eq_ignore_ascii_case("UNK"))
        .map(|(i, h)| (i, h.to_ascii_lowercase()))
        .collect();
    let classes: Vec<String> = class_cols.iter().map(|(_, c)| c.clone()).collect();

    let mut samples = Vec::new();
    let mut seen = HashSet::new();
    for (line, record) in reader.records().enumerate() {
        let line = line + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                problems.add("unreadable CSV lines", format!("line {line} ({e})"));
                continue;
            }
        };
        let image = record.get(0).unwrap_or_default().to_string();
        let mut hot = Vec::new();
        let mut malformed = false;
        for (label, (col, _)) in class_cols.iter().enumerate() {
            match record.get(*col).map(|v| v.trim().parse::<f64>()) {
                Some(Ok(v)) if v >= 0.5 => hot.push(label),
                Some(Ok(_)) => {}
                _ => malformed = true,
            }
        }
        if malformed {
            problems.add(
                "unreadable CSV lines",
                format!("line {line} ({image}: non-numeric label column)"),
            );
            continue;
        }
        let label = match hot.as_slice() {
            [label] => *label,
            [] => {
                problems.add("unknown labels", format!("{image}: no class set"));
                continue;
            }
            _ => {
                problems.add("unknown labels", format!("{image}: several classes set"));
                continue;
            }
        };
        if !seen.insert(image.clone()) {
            problems.add("duplicate image ids", image);
            continue;
        }
        let Some(path) = files.get(&image) else {
            problems.add("missing image files", image);
            continue;
        };
        let group = lesions.get(&image).cloned().unwrap_or_else(|| image.clone());
        samples.push(Sample { image, path: path.clone(), label, group });
    }
    problems.resolve(skip_bad)?;
    if samples.is_empty() {
        bail!("{} lists no usable images", truth.display());
    }
    Ok(Dataset { classes, samples })
}
