//! `dermlens split`: read a dataset, check its images, split it by lesion
//! and save the split every later command reads.

use std::path::PathBuf;

use anyhow::Result;

use crate::data::{self, Problems, split};
use crate::progress;

pub struct Options {
    pub dataset: PathBuf,
    pub images: Vec<PathBuf>,
    pub out: PathBuf,
    pub val: f64,
    pub test: f64,
    pub seed: u64,
    pub skip_bad: bool,
}

/// Opens every image's header: a file that cannot even say its size is
/// reported now rather than halfway through training.
fn check_images(dataset: &mut data::Dataset, skip_bad: bool) -> Result<()> {
    let bar = progress::bar(dataset.samples.len() as u64, "checking images");
    let mut problems = Problems::default();
    dataset.samples.retain(|s| {
        bar.inc(1);
        let readable = image::ImageReader::open(&s.path)
            .and_then(|r| r.with_guessed_format())
            .map_err(|e| e.to_string())
            .and_then(|r| r.into_dimensions().map_err(|e| e.to_string()));
        match readable {
            Ok(_) => true,
            Err(e) => {
                problems.add("unreadable images", format!("{} ({e})", s.path.display()));
                false
            }
        }
    });
    bar.finish_and_clear();
    problems.resolve(skip_bad)
}

pub fn run(o: &Options) -> Result<()> {
    let mut dataset = data::load(&o.dataset, &o.images, o.skip_bad)?;
    check_images(&mut dataset, o.skip_bad)?;
    let split = split::split(&dataset, o.val, o.test, o.seed)?;
    split::save(&split, &o.out)?;
    let groups: std::collections::HashSet<&str> = split.samples.iter().map(|(s, _)| s.group.as_str()).collect();
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

