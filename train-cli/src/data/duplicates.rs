//! Images that are the same bytes under two names. HAM10000 holds such
//! pairs (always of one lesion); in another dataset they could belong to
//! two lesions and so land in two parts: the model would be tested on an
//! image it trained on. `split` keeps identical images in one group, and
//! `train` refuses a split that has them in two parts.

use std::collections::HashMap;

use anyhow::{Result, bail};
use rayon::prelude::*;

use super::Sample;
use super::split::{Part, Split};

/// The checksum that identifies an image's content.
pub fn content_hash(bytes: &[u8]) -> String {
    model::bundle::sha256_hex(bytes)
}

/// Puts samples with identical content (`hashes[i]` is sample `i`'s) in one
/// group, joining their lesions' groups. Returns how many groups were joined.
pub fn join_identical(samples: &mut [Sample], hashes: &[String]) -> usize {
    let mut parent: HashMap<String, String> = HashMap::new();
    fn root(parent: &HashMap<String, String>, group: &str) -> String {
        let mut at = group.to_string();
        while let Some(up) = parent.get(&at) {
            at = up.clone();
        }
        at
    }
    let mut first: HashMap<&str, &str> = HashMap::new();
    let mut joined = 0;
    for (sample, hash) in samples.iter().zip(hashes) {
        let earlier = *first.entry(hash.as_str()).or_insert(sample.group.as_str());
        let (a, b) = (root(&parent, earlier), root(&parent, &sample.group));
        if a != b {
            parent.insert(b, a);
            joined += 1;
        }
    }
    for sample in samples.iter_mut() {
        sample.group = root(&parent, &sample.group);
    }
    joined
}

/// Refuses a split whose parts share an image's content, naming the pair.
pub fn check_disjoint(split: &Split) -> Result<()> {
    let hashes: Vec<Result<String>> = split
        .samples
        .par_iter()
        .map(|(s, _)| {
            Ok(content_hash(&crate::files::read_limited(&s.path, crate::files::MAX_PHOTO_BYTES)?))
        })
        .collect();
    let mut seen: HashMap<String, (&Sample, Part)> = HashMap::new();
    for ((sample, part), hash) in split.samples.iter().zip(hashes) {
        let (other, other_part) = *seen.entry(hash?).or_insert((sample, *part));
        if other_part != *part {
            bail!(
                "{} ({other_part}) and {} ({part}) are the same image: the model would be tested on a training image; split again (dermlens split keeps identical images in one part)",
                other.path.display(),
                sample.path.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(image: &str, group: &str) -> Sample {
        Sample { image: image.into(), path: image.into(), label: 0, group: group.into() }
    }

    #[test]
    fn identical_images_share_a_group_even_through_a_chain() {
        let mut samples =
            vec![sample("a", "L1"), sample("b", "L2"), sample("c", "L3"), sample("d", "L2")];
        let hashes: Vec<String> = ["x", "x", "y", "y"].map(String::from).to_vec();
        assert_eq!(join_identical(&mut samples, &hashes), 2);
        let groups: Vec<&str> = samples.iter().map(|s| s.group.as_str()).collect();
        assert!(groups.iter().all(|g| *g == groups[0]), "{groups:?}");
        let mut apart = vec![sample("a", "L1"), sample("b", "L2")];
        assert_eq!(join_identical(&mut apart, &["x".into(), "y".into()]), 0);
        assert_eq!(apart[1].group, "L2");
    }
}
