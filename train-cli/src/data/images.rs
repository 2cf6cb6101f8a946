//! Finding image files: by extension, recursively below folders, or as
//! listed in a saved split.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::split::{self, Part};

/// Whether a path names an image file the decoder reads, by extension.
pub fn is_image_file(path: &Path) -> bool {
    let ext =
        path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    path.is_file() && matches!(ext.as_str(), "jpg" | "jpeg" | "png" | "webp" | "bmp" | "gif")
}

/// Image files below `dir`, recursively, in sorted order.
pub fn images_under(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot list {}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            images_under(&path, out)?;
        } else if is_image_file(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// Image files named directly or found (recursively, sorted) in folders.
pub fn collect_images(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            images_under(p, &mut out)?;
        } else if p.exists() {
            out.push(p.clone());
        } else {
            bail!("{} does not exist", p.display());
        }
    }
    Ok(out)
}

/// The images of a folder (recursively) or of a split CSV (one part or all),
/// and a label for reports.
pub fn image_files(input: &Path, part: Option<Part>) -> Result<(Vec<PathBuf>, String)> {
    if input.is_file() {
        let split = split::load(input)?;
        let (files, what): (Vec<PathBuf>, String) = match part {
            Some(part) => (
                split.part(part).into_iter().map(|s| s.path).collect(),
                format!("{} ({part} part)", input.display()),
            ),
            None => (
                split.samples.into_iter().map(|(s, _)| s.path).collect(),
                format!("{} (all parts)", input.display()),
            ),
        };
        return Ok((files, what));
    }
    if part.is_some() {
        bail!("--part needs a split CSV, and {} is a folder", input.display());
    }
    Ok((collect_images(&[input.to_path_buf()])?, input.display().to_string()))
}

/// Names the first unreadable files on stderr (each entry: "path: reason").
pub fn print_unreadable(failed: &[String]) {
    const SHOWN: usize = 10;
    for f in failed.iter().take(SHOWN) {
        eprintln!("unreadable: {f}");
    }
    if failed.len() > SHOWN {
        eprintln!("unreadable: ... and {} more", failed.len() - SHOWN);
    }
}
