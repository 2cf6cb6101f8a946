//! The train / validation / test split: grouped by lesion (no lesion in two
//! parts), stratified by class, reproducible from its seed, and saved as a
//! CSV that every later command reads so the parts never silently change.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, Result, bail};

use super::{Dataset, Sample, class_counts};
use crate::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    Train,
    Val,
    Test,
}

impl Part {
    pub const ALL: [Part; 3] = [Part::Train, Part::Val, Part::Test];
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Train => "train",
            Part::Val => "val",
            Part::Test => "test",
        })
    }
}

impl FromStr for Part {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "train" => Ok(Part::Train),
            "val" | "validation" => Ok(Part::Val),
            "test" => Ok(Part::Test),
            other => bail!("unknown split part '{other}' (expected train, val or test)"),
        }
    }
}

/// A dataset with each sample assigned to a part.
#[derive(Debug, Clone)]
pub struct Split {
    pub classes: Vec<String>,
    pub samples: Vec<(Sample, Part)>,
}

impl Split {
    pub fn part(&self, part: Part) -> Vec<Sample> {
        self.samples.iter().filter(|(_, p)| *p == part).map(|(s, _)| s.clone()).collect()
    }

    /// A table of per-class counts per part, as printed after splitting.
    pub fn table(&self) -> String {
        let mut out =
            format!("{:<10}{:>8}{:>8}{:>8}{:>8}\n", "class", "train", "val", "test", "total");
        let counts: Vec<Vec<usize>> =
            Part::ALL.iter().map(|&p| class_counts(&self.part(p), self.classes.len())).collect();
        for (c, name) in self.classes.iter().enumerate() {
            let row: Vec<usize> = counts.iter().map(|k| k[c]).collect();
            out += &format!(
                "{:<10}{:>8}{:>8}{:>8}{:>8}\n",
                name,
                row[0],
                row[1],
                row[2],
                row.iter().sum::<usize>()
            );
        }
        let totals: Vec<usize> = counts.iter().map(|k| k.iter().sum()).collect();
        out += &format!(
            "{:<10}{:>8}{:>8}{:>8}{:>8}\n",
            "all",
            totals[0],
            totals[1],
            totals[2],
            totals.iter().sum::<usize>()
        );
        out
    }
}

/// Splits by group, stratified by class. Each group takes its images'
/// majority label; within each class the groups are shuffled with `seed` and
/// each goes to the part furthest below its target share of that class.
pub fn split(dataset: &Dataset, val: f64, test: f64, seed: u64) -> Result<Split> {
    if !(0.0..1.0).contains(&val) || !(0.0..1.0).contains(&test) || val + test >= 1.0 || val <= 0.0
    {
        bail!("fractions must be positive and leave room for training (val {val}, test {test})");
    }
    // Group -> indices of its samples; BTreeMap for a deterministic order.
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, s) in dataset.samples.iter().enumerate() {
        groups.entry(&s.group).or_default().push(i);
    }
    let mut by_class: Vec<Vec<Vec<usize>>> = vec![Vec::new(); dataset.classes.len()];
    for members in groups.into_values() {
        let mut votes = vec![0usize; dataset.classes.len()];
        for &i in &members {
            votes[dataset.samples[i].label] += 1;
        }
        let majority =
            (0..votes.len()).max_by_key(|&c| (votes[c], std::cmp::Reverse(c))).unwrap_or(0);
        by_class[majority].push(members);
    }

    let mut rng = Rng::new(seed);
    let mut parts = vec![Part::Train; dataset.samples.len()];
    let shares = [(Part::Test, test), (Part::Val, val), (Part::Train, 1.0 - val - test)];
    for (class, mut class_groups) in by_class.into_iter().enumerate() {
        let name = &dataset.classes[class];
        if class_groups.is_empty() {
            bail!("class '{name}' has no images: every class needs images in every part");
        }
        if class_groups.len() < 3 {
            bail!(
                "class '{name}' has only {} lesions: at least 3 are needed to have one in each part",
                class_groups.len()
            );
        }
        rng.shuffle(&mut class_groups);
        let total: usize = class_groups.iter().map(Vec::len).sum();
        let mut filled = [0usize; 3];
        for (n, members) in class_groups.iter().enumerate() {
            let remaining_groups = class_groups.len() - n;
            // Guarantee every part one group while groups remain for the others.
            let empty: Vec<usize> = (0..3).filter(|&k| filled[k] == 0).collect();
            let k = if !empty.is_empty() && remaining_groups <= empty.len() {
                empty[0]
            } else {
                (0..3)
                    .max_by(|&a, &b| {
                        let deficit = |k: usize| shares[k].1 * total as f64 - filled[k] as f64;
                        deficit(a).total_cmp(&deficit(b)).then(b.cmp(&a))
                    })
                    .unwrap_or(2)
            };
            filled[k] += members.len();
            for &i in members {
                parts[i] = shares[k].0;
            }
        }
    }
    Ok(Split {
        classes: dataset.classes.clone(),
        samples: dataset.samples.iter().cloned().zip(parts).collect(),
    })
}

/// `path` relative to `base` when they share a root, else as it is.
fn relative_to(path: &Path, base: &Path) -> PathBuf {
    let (Ok(path), Ok(base)) = (std::path::absolute(path), std::path::absolute(base)) else {
        return path.to_path_buf();
    };
    let p: Vec<Component> = path.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return path;
    }
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c);
    }
    out
}

/// Resolves `..` and `.` without touching the file system.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

const COLUMNS: [&str; 6] = ["image", "path", "class", "label", "group", "part"];

/// Writes the split; image paths are stored relative to the CSV's folder so
/// the pair can move together.
pub fn save(split: &Split, path: &Path) -> Result<()> {
    let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(COLUMNS)?;
    for (s, part) in &split.samples {
        let rel = relative_to(&s.path, base);
        writer.write_record([
            s.image.as_str(),
            &rel.to_string_lossy(),
            split.classes[s.label].as_str(),
            &s.label.to_string(),
            s.group.as_str(),
            &part.to_string(),
        ])?;
    }
    let bytes = writer.into_inner().map_err(|e| anyhow::anyhow!("cannot encode the split: {e}"))?;
    crate::files::write_atomic(path, &bytes)
}

/// Reads a split written by [`save`].
pub fn load(path: &Path) -> Result<Split> {
    let base =
        path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let mut reader = csv::Reader::from_path(path)
        .with_context(|| format!("cannot read the split {}", path.display()))?;
    let headers = reader
        .headers()
        .with_context(|| format!("{} is not a split file (not CSV text)", path.display()))?
        .clone();
    if headers.iter().collect::<Vec<_>>() != COLUMNS {
        bail!("{} is not a split file (its columns must be {})", path.display(), COLUMNS.join(","));
    }
    let mut classes: BTreeMap<usize, String> = BTreeMap::new();
    let mut samples = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let line = line + 2;
        let r = record.with_context(|| format!("{} line {line} is unreadable", path.display()))?;
        let label: usize = r[3].parse().with_context(|| {
            format!("{} line {line}: label '{}' is not a number", path.display(), &r[3])
        })?;
        if let Some(previous) = classes.insert(label, r[2].to_string())
            && previous != r[2]
        {
            bail!(
                "{} line {line}: label {label} is both '{previous}' and '{}'",
                path.display(),
                &r[2]
            );
        }
        let part: Part = r[5].parse().with_context(|| format!("{} line {line}", path.display()))?;
        let stored = PathBuf::from(&r[1]);
        let full = if stored.is_absolute() { stored } else { lexical(&base.join(stored)) };
        samples.push((Sample { image: r[0].into(), path: full, label, group: r[4].into() }, part));
    }
    let expected: Vec<usize> = (0..classes.len()).collect();
    if classes.keys().copied().collect::<Vec<_>>() != expected {
        bail!("{} has gaps in its label numbers", path.display());
    }
    let mut part_of: std::collections::HashMap<&str, Part> = std::collections::HashMap::new();
    let mut images = std::collections::HashSet::new();
    for (s, part) in &samples {
        if !images.insert(s.image.as_str()) {
            bail!("{}: image '{}' is listed twice", path.display(), s.image);
        }
        if *part_of.entry(s.group.as_str()).or_insert(*part) != *part {
            bail!(
                "{}: lesion '{}' is in more than one part, which would leak it into evaluation",
                path.display(),
                s.group
            );
        }
    }
    let split = Split { classes: classes.into_values().collect(), samples };
    // A classifier needs two classes, and a class named twice would give
    // two columns of one name in every report and CSV.
    if split.classes.len() < 2 {
        bail!("{} has only one class: a classifier needs at least two", path.display());
    }
    let mut names = std::collections::HashSet::new();
    if let Some(twice) = split.classes.iter().find(|c| !names.insert(c.as_str())) {
        bail!("{}: the class '{twice}' has two label numbers", path.display());
    }
    for part in Part::ALL {
        let counts = class_counts(&split.part(part), split.classes.len());
        if let Some(c) = counts.iter().position(|&n| n == 0) {
            bail!(
                "{}: class '{}' has no images in the {part} part",
                path.display(),
                split.classes[c]
            );
        }
    }
    Ok(split)
}

/// The images of a folder (recursively), one image, or the images of a
/// split CSV (one part or all), and a label for reports.
pub fn image_files(input: &Path, part: Option<Part>) -> Result<(Vec<PathBuf>, String)> {
    if super::images::is_image_file(input) {
        if part.is_some() {
            bail!("--part needs a split CSV, and {} is an image", input.display());
        }
        return Ok((vec![input.to_path_buf()], input.display().to_string()));
    }
    if input.is_file() {
        let split = load(input)?;
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
    Ok((super::images::images_under(input)?, input.display().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    /// 3 classes, unbalanced, lesions with 1-3 images each.
    fn dataset() -> Dataset {
        let mut samples = Vec::new();
        let mut rng = Rng::new(99);
        for (label, lesions) in [(0usize, 400usize), (1, 60), (2, 12)] {
            for l in 0..lesions {
                for k in 0..1 + rng.below(3) {
                    let image = format!("img_{label}_{l}_{k}");
                    samples.push(Sample {
                        path: PathBuf::from(format!("/data/{image}.jpg")),
                        image,
                        label,
                        group: format!("lesion_{label}_{l}"),
                    });
                }
            }
        }
        Dataset { classes: vec!["a".into(), "b".into(), "c".into()], samples }
    }

    #[test]
    fn no_lesion_is_in_two_parts() {
        let split = split(&dataset(), 0.15, 0.15, 1).unwrap();
        let mut part_of: HashMap<&str, Part> = HashMap::new();
        for (s, p) in &split.samples {
            assert_eq!(
                *part_of.entry(&s.group).or_insert(*p),
                *p,
                "lesion {} straddles parts",
                s.group
            );
        }
    }

    #[test]
    fn every_class_is_stratified_across_parts() {
        let data = dataset();
        let split = split(&data, 0.15, 0.15, 1).unwrap();
        let totals = class_counts(&data.samples, 3);
        for part in [Part::Val, Part::Test] {
            let counts = class_counts(&split.part(part), 3);
            for c in 0..3 {
                let share = counts[c] as f64 / totals[c] as f64;
                assert!(counts[c] > 0, "class {c} empty in {part}");
                // Within a lesion or two of the target share.
                assert!((share - 0.15).abs() < 0.08, "class {c} {part} share {share}");
            }
        }
    }

    #[test]
    fn the_seed_fixes_the_split_and_other_seeds_change_it() {
        let data = dataset();
        let parts = |seed| {
            split(&data, 0.15, 0.15, seed)
                .unwrap()
                .samples
                .into_iter()
                .map(|(_, p)| p)
                .collect::<Vec<_>>()
        };
        assert_eq!(parts(5), parts(5));
        assert_ne!(parts(5), parts(6));
    }

    #[test]
    fn too_few_lesions_is_a_clear_error() {
        let mut data = dataset();
        data.samples.retain(|s| s.label != 2 || s.group == "lesion_2_0");
        let error = split(&data, 0.15, 0.15, 1).unwrap_err().to_string();
        assert!(error.contains("class 'c'"), "{error}");
    }

    #[test]
    fn saved_and_loaded_splits_are_identical() {
        let dir = std::env::temp_dir().join(format!("dermlens-split-{}", std::process::id()));
        let data = dataset();
        let split = split(&data, 0.2, 0.1, 3).unwrap();
        let file = dir.join("split.csv");
        save(&split, &file).unwrap();
        let loaded = load(&file).unwrap();
        assert_eq!(loaded.classes, split.classes);
        assert_eq!(loaded.samples.len(), split.samples.len());
        for ((a, pa), (b, pb)) in split.samples.iter().zip(&loaded.samples) {
            assert_eq!((&a.image, a.label, &a.group, pa), (&b.image, b.label, &b.group, pb));
            assert_eq!(
                std::path::absolute(&a.path).unwrap(),
                std::path::absolute(&b.path).unwrap()
            );
        }
        let groups: HashSet<&str> = loaded.samples.iter().map(|(s, _)| s.group.as_str()).collect();
        assert!(groups.len() > 400);

        // A hand-edited split that puts one lesion in two parts is refused.
        let text = std::fs::read_to_string(&file).unwrap();
        let first = text.lines().nth(1).unwrap().to_string();
        let moved = first.replace(",train", ",test").replace(",val", ",train");
        let leaked = format!("{text}{}\n", moved.replacen(",", "_copy,", 1));
        std::fs::write(&file, leaked).unwrap();
        let error = load(&file).unwrap_err().to_string();
        assert!(error.contains("more than one part"), "{error}");

        // One class, or one class name under two labels, is refused.
        let header = "image,path,class,label,group,part\n";
        let rows = |classes: &[(&str, usize)]| -> String {
            let mut out = header.to_string();
            for (i, (name, label)) in classes.iter().enumerate() {
                for (k, part) in ["train", "val", "test"].iter().enumerate() {
                    out += &format!("im{i}{k},im{i}{k}.jpg,{name},{label},g{i}{k},{part}\n");
                }
            }
            out
        };
        std::fs::write(&file, rows(&[("nv", 0)])).unwrap();
        let error = load(&file).unwrap_err().to_string();
        assert!(error.contains("only one class"), "{error}");
        std::fs::write(&file, rows(&[("nv", 0), ("nv", 1)])).unwrap();
        let error = load(&file).unwrap_err().to_string();
        assert!(error.contains("the class 'nv' has two label numbers"), "{error}");
        std::fs::write(&file, rows(&[("nv", 0), ("mel", 1)])).unwrap();
        assert!(load(&file).is_ok());
        std::fs::remove_dir_all(dir).ok();
    }
}
