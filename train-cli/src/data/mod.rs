//! Labelled image collections: HAM10000, ISIC 2019 and folder-per-class
//! trees, read into one shape, and the saved train/validation/test split.

pub mod duplicates;
pub mod folders;
pub mod ham10000;
pub mod images;
pub mod isic2019;
pub mod metadata;
pub mod split;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use images::is_image_file;

use anyhow::{Result, bail};

/// One labelled image.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Unique image id (the file stem).
    pub image: String,
    pub path: PathBuf,
    /// Index into the dataset's class list.
    pub label: usize,
    /// Images of one lesion share a group and never straddle split parts;
    /// without lesion ids each image is its own group.
    pub group: String,
}

/// A labelled collection and its class list.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub classes: Vec<String>,
    pub samples: Vec<Sample>,
}

/// What went wrong with some items; reported as the first few of each kind.
#[derive(Debug, Default)]
pub struct Problems {
    kinds: Vec<(String, Vec<String>)>,
}

impl Problems {
    pub fn add(&mut self, kind: &str, item: impl Into<String>) {
        match self.kinds.iter_mut().find(|(k, _)| k == kind) {
            Some((_, items)) => items.push(item.into()),
            None => self.kinds.push((kind.to_string(), vec![item.into()])),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    pub fn count(&self) -> usize {
        self.kinds.iter().map(|(_, items)| items.len()).sum()
    }

    /// "3 missing image files: a, b, c; 1 unknown label: x (first few shown)".
    pub fn summary(&self) -> String {
        const SHOWN: usize = 5;
        self.kinds
            .iter()
            .map(|(kind, items)| {
                let more = if items.len() > SHOWN {
                    format!(", ... ({} more)", items.len() - SHOWN)
                } else {
                    String::new()
                };
                let first: Vec<&str> = items.iter().take(SHOWN).map(String::as_str).collect();
                format!("{} {kind}: {}{more}", items.len(), first.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Fails on any problem unless `skip_bad`, in which case they are listed and skipped.
    pub fn resolve(&self, skip_bad: bool) -> Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        if skip_bad {
            // Every reject on its own line: the user chose to go on without
            // them and should be able to find each one.
            eprintln!("skipping {} bad items:", self.count());
            for (kind, items) in &self.kinds {
                for item in items {
                    eprintln!("  {kind}: {item}");
                }
            }
            Ok(())
        } else {
            bail!("{} (use --skip-bad to list and skip them)", self.summary())
        }
    }
}

/// The folders that may hold a CSV-described dataset's images: its root,
/// those of `names` below it that exist, and the `extra` ones given.
pub fn image_dirs(root: &Path, names: &[&str], extra: &[PathBuf]) -> Vec<PathBuf> {
    std::iter::once(root.to_path_buf())
        .chain(names.iter().map(|d| root.join(d)))
        .filter(|d| d.is_dir())
        .chain(extra.iter().cloned())
        .collect()
}

/// Image files under `dirs` (not recursive), by file stem.
pub fn index_images(dirs: &[PathBuf], problems: &mut Problems) -> Result<HashMap<String, PathBuf>> {
    let mut found: HashMap<String, PathBuf> = HashMap::new();
    for dir in dirs {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| anyhow::anyhow!("cannot list {}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if !is_image_file(&path) {
                continue;
            }
            let Some(stem) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
                continue;
            };
            if let Some(previous) = found.insert(stem.clone(), path.clone())
                && previous != path
            {
                problems.add(
                    "duplicate image ids",
                    format!("{stem} ({} and {})", previous.display(), path.display()),
                );
            }
        }
    }
    Ok(found)
}

/// Reads any supported collection at `path`: a HAM10000 or ISIC 2019 folder
/// (recognised by their CSV files) or a folder with one subfolder per class.
/// `images` adds folders to search for the images of a CSV-described set.
pub fn load(path: &Path, images: &[PathBuf], skip_bad: bool) -> Result<Dataset> {
    if !path.exists() {
        bail!("{} does not exist", path.display());
    }
    let (dir, csv) = if path.is_file() {
        (path.parent().unwrap_or(Path::new(".")).to_path_buf(), Some(path.to_path_buf()))
    } else {
        (path.to_path_buf(), None)
    };
    let ham =
        csv.clone().filter(|c| ham10000::is_metadata(c)).or_else(|| ham10000::find_metadata(&dir));
    if let Some(metadata) = ham {
        return ham10000::load(&metadata, images, skip_bad);
    }
    let isic = csv
        .clone()
        .filter(|c| isic2019::is_ground_truth(c))
        .or_else(|| isic2019::find_ground_truth(&dir));
    if let Some(truth) = isic {
        return isic2019::load(&truth, images, skip_bad);
    }
    if let Some(csv) = csv {
        bail!("{} is neither HAM10000 metadata nor an ISIC 2019 ground-truth file", csv.display());
    }
    folders::load(&dir, skip_bad)
}

/// Per-class image counts.
pub fn class_counts(samples: &[Sample], num_classes: usize) -> Vec<usize> {
    let mut counts = vec![0; num_classes];
    for s in samples {
        counts[s.label] += 1;
    }
    counts
}
