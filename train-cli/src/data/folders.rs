//! A folder per class: `root/<class>/<image>`, class names from the folder
//! names (sorted), images found recursively. No lesion ids: each image is its
//! own group.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::images::images_under;
use super::{Dataset, Problems, Sample};

pub fn load(root: &Path, skip_bad: bool) -> Result<Dataset> {
    let mut class_dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .with_context(|| format!("cannot list {}", root.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    class_dirs.sort();
    if class_dirs.len() < 2 {
        bail!(
            "{} is not a dataset: expected HAM10000_metadata.csv, ISIC_2019_Training_GroundTruth.csv, \
             or one subfolder per class (found {} subfolders)",
            root.display(),
            class_dirs.len()
        );
    }
    let mut problems = Problems::default();
    let mut classes = Vec::new();
    let mut samples: Vec<Sample> = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for dir in &class_dirs {
        let label = classes.len();
        classes.push(dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        let files = images_under(dir)?;
        if files.is_empty() {
            problems.add("empty class folders", dir.display().to_string());
        }
        for path in files {
            let image =
                path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            if let Some(previous) = seen.insert(image.clone(), path.clone()) {
                problems.add(
                    "duplicate image ids",
                    format!("{image} ({} and {})", previous.display(), path.display()),
                );
                continue;
            }
            samples.push(Sample { group: image.clone(), image, path, label });
        }
    }
    problems.resolve(skip_bad)?;
    Ok(Dataset { classes, samples })
}
