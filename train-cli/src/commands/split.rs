//! `dermlens split`: reads a dataset, checks its images, splits it by
//! lesion and saves the split every later command reads.

use std::path::PathBuf;

use anyhow::Result;

use crate::context::Context;
use crate::data::{self, Problems, duplicates, split};
use crate::progress;

/// Split a dataset into train / validation / test parts by lesion, stratified by class.
///
/// Reads HAM10000 (HAM10000_metadata.csv and its image folders), ISIC 2019
/// (ISIC_2019_Training_GroundTruth.csv) or a folder with one subfolder per class.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Dataset folder (or its CSV file).
    pub dataset: PathBuf,
    /// Further folders holding the images of a CSV-described dataset.
    #[arg(long)]
    pub images: Vec<PathBuf>,
    /// Where to write the split.
    #[arg(long, default_value = "split.csv")]
    pub out: PathBuf,
    /// Share of each class's images for validation.
    #[arg(long, default_value_t = 0.15)]
    pub val: f64,
    /// Share of each class's images for the final test.
    #[arg(long, default_value_t = 0.15)]
    pub test: f64,
    /// Seed of the shuffle that assigns lesions to parts.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// List and skip missing, unreadable, duplicate or unlabelled images instead of failing.
    #[arg(long)]
    pub skip_bad: bool,
}

/// Decodes every image completely, once: a truncated or unreadable file is
/// reported now instead of entering training as a half-grey picture.
/// Returns each kept image's content hash, in order.
fn check_images(dataset: &mut data::Dataset, skip_bad: bool) -> Result<Vec<String>> {
    let bar = progress::bar(dataset.samples.len() as u64, "decoding images");
    let mut problems = Problems::default();
    let mut hashes = Vec::new();
    dataset.samples.retain(|s| {
        bar.inc(1);
        // The split file is UTF-8 text: such a path would be written mangled
        // and found missing later, in train. Named now instead.
        if s.path.to_str().is_none() {
            problems.add(
                "file names that are not UTF-8 text (the split file is text: rename them)",
                crate::data::images::display_name(&s.path),
            );
            return false;
        }
        let decoded = crate::files::read_limited(&s.path, crate::files::MAX_PHOTO_BYTES)
            .map_err(|e| format!("{e:#}"))
            .and_then(|bytes| {
                model::preprocess::decode(&bytes).map_err(|e| e.to_string())?;
                Ok(duplicates::content_hash(&bytes))
            });
        match decoded {
            Ok(hash) => {
                hashes.push(hash);
                true
            }
            Err(e) => {
                problems.add("unreadable images", format!("{} ({e})", s.path.display()));
                false
            }
        }
    });
    bar.finish_and_clear();
    problems.resolve(skip_bad)?;
    Ok(hashes)
}

pub fn run(o: Args, _ctx: &Context) -> Result<()> {
    crate::files::check_output(&o.out, &[&o.dataset])?;
    let mut dataset = data::load(&o.dataset, &o.images, o.skip_bad)?;
    let hashes = check_images(&mut dataset, o.skip_bad)?;
    let joined = duplicates::join_identical(&mut dataset.samples, &hashes);
    if joined > 0 {
        eprintln!("{joined} lesions share an identical image with another: kept in one part");
    }
    let split = split::split(&dataset, o.val, o.test, o.seed)?;
    split::save(&split, &o.out)?;
    let groups: std::collections::HashSet<&str> =
        split.samples.iter().map(|(s, _)| s.group.as_str()).collect();
    println!(
        "{} images of {} lesions, {} classes, seed {}; split written to {}\n",
        split.samples.len(),
        groups.len(),
        split.classes.len(),
        o.seed,
        o.out.display()
    );
    print!("{}", split.table());
    Ok(())
}
