//! Age, sex and body site per image, from a CSV like HAM10000's
//! `HAM10000_metadata.csv`: a column `image_id` (or `image`: the file stem)
//! and any of `age`, `sex`, `localization` (or `site`). Other columns are
//! ignored; a missing column leaves that field unknown.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use model::metadata::Metadata;

/// Largest metadata file read (HAM10000's is 0.6 MB).
const MAX_BYTES: u64 = 200_000_000;

/// Every image's metadata, by image id (file stem).
pub fn read(path: &Path) -> Result<HashMap<String, Metadata>> {
    let bytes = crate::files::read_limited(path, MAX_BYTES)?;
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let headers =
        reader.headers().with_context(|| format!("{} is not a CSV file", path.display()))?.clone();
    let column = |names: &[&str]| headers.iter().position(|h| names.contains(&h.trim()));
    let Some(image) = column(&["image_id", "image"]) else {
        bail!("{} has no image_id (or image) column", path.display());
    };
    let (age, sex, site) = (column(&["age"]), column(&["sex"]), column(&["localization", "site"]));
    if age.is_none() && sex.is_none() && site.is_none() {
        bail!("{} has none of the columns age, sex, localization (or site)", path.display());
    }
    let mut out = HashMap::new();
    for (n, record) in reader.records().enumerate() {
        let record =
            record.with_context(|| format!("{}: row {} is not readable", path.display(), n + 2))?;
        let field = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("");
        let id = field(Some(image)).trim();
        let id = Path::new(id).file_stem().map_or(id.to_string(), |s| s.to_string_lossy().into());
        out.insert(id, Metadata::parse(field(age), field(sex), field(site)));
    }
    Ok(out)
}

/// The body sites named in `metadata`, sorted (the prior's features).
pub fn sites<'a>(metadata: impl Iterator<Item = &'a Metadata>) -> Vec<String> {
    let mut sites: Vec<String> = metadata.filter_map(|m| m.site.clone()).collect();
    sites.sort();
    sites.dedup();
    sites
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ham10000s_layout_and_refuses_others() {
        let dir = std::env::temp_dir().join(format!("dermlens-metadata-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("meta.csv");
        std::fs::write(
            &file,
            "lesion_id,image_id,dx,dx_type,age,sex,localization\n\
             HAM_1,ISIC_1,nv,histo,45.0,male,back\n\
             HAM_2,ISIC_2.jpg,mel,histo,,unknown,unknown\n",
        )
        .unwrap();
        let read = read(&file).unwrap();
        assert_eq!(read["ISIC_1"], Metadata::parse("45", "male", "back"));
        assert!(read["ISIC_2"].is_empty(), "a file name is matched by its stem");
        assert_eq!(sites(read.values()), vec!["back".to_string()]);
        std::fs::write(&file, "name,colour\na,b\n").unwrap();
        assert!(format!("{:#}", super::read(&file).unwrap_err()).contains("image_id"));
        std::fs::remove_dir_all(dir).ok();
    }
}
