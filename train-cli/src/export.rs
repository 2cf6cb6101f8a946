//! `dermlens export`: the bundle the web app and `predict` load.

use std::path::Path;

use anyhow::{Result, bail};
use burn::tensor::Device;
use model::bundle::{self, Encoding, FORMAT, MANIFEST, Manifest, Member, VERSION, WeightFile};

use crate::train::Run;

/// The default provenance note, for models trained on HAM10000.
pub const HAM10000_PROVENANCE: &str = "EfficientNet-Lite0 (ImageNet weights, Apache-2.0) fine-tuned by dermlens on HAM10000 \
     (Tschandl et al. 2018, doi:10.1038/sdata.2018.161, CC BY-NC 4.0): non-commercial use only. Not a diagnosis.";

/// Names carry the start of the checksum: a changed file gets a new name,
/// so browsers and the app's service worker can cache weights forever.
fn weight_file(stem: &str, bytes: &[u8]) -> WeightFile {
    let sha256 = bundle::sha256_hex(bytes);
    WeightFile { file: format!("{stem}-{}.bin", &sha256[..12]), sha256, bytes: bytes.len() as u64 }
}

/// Weight files an earlier export left in `out` that the new manifest no longer names.
fn remove_stale(out: &Path, keep: &[String]) -> Result<()> {
    for entry in std::fs::read_dir(out)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let ours = (name.starts_with("shared") || name.starts_with("member-")) && name.ends_with(".bin");
        if ours && !keep.contains(&name) {
            std::fs::remove_file(out.join(&name))?;
        }
    }
    Ok(())
}

/// Whether no member has its own copy of a tensor of the stem or of the
/// blocks below `cut`: then those run once for the whole ensemble.
fn lower_blocks_shared(own: &[Vec<bundle::NamedTensor>], cut: usize) -> bool {
    let lower = |name: &str| {
        let name = name.strip_prefix("backbone.").unwrap_or(name);
        name.starts_with("conv_stem.")
            || name.starts_with("bn0.")
            || name
                .strip_prefix("blocks.")
                .and_then(|rest| rest.split('.').next())
                .and_then(|index| index.parse::<usize>().ok())
                .is_some_and(|index| index < cut)
    };
    cut > 0 && own.iter().flatten().all(|t| !lower(&t.name))
}

pub fn run(run_dir: &Path, out: &Path, encoding: Encoding, provenance: &str) -> Result<()> {
    let run = Run::load(run_dir)?;
    let calibration = crate::calibrate::load(run_dir)?;
    if calibration.temperatures.len() != run.options.members || calibration.familiarity.len() != run.options.members {
        bail!("the calibration does not cover the run's {} members: calibrate again", run.options.members);
    }
    let device = Device::flex();
    let members = crate::calibrate::load_members(run_dir, &run, &device)?;
    let tensors: Vec<_> = members.iter().map(bundle::tensors_of).collect();
    let (shared, own) = bundle::factor_shared(&tensors);

    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let shared_file = if shared.is_empty() {
        None
    } else {
        let bytes = bundle::encode(&shared, encoding);
        let file = weight_file("shared", &bytes);
        files.push((file.file.clone(), bytes));
        Some(file)
    };
    let mut manifest_members = Vec::new();
    for (m, tensors) in own.iter().enumerate() {
        // The familiarity statistics are small and stay f32 (their names do not end in ".weight").
        let mut tensors = tensors.clone();
        tensors.extend(calibration.familiarity[m].to_tensors());
        let bytes = bundle::encode(&tensors, encoding);
        let file = weight_file(&format!("member-{m}"), &bytes);
        files.push((file.file.clone(), bytes));
        manifest_members.push(Member { name: format!("member-{m}"), weights: file, temperature: calibration.temperatures[m] });
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        version: VERSION,
        classes: run.classes.clone(),
        input: run.input(),
        normalization: run.normalization,
        encoding,
        shared: shared_file,
        // Frozen while training, so stored once and run once.
        shared_blocks: if members.len() > 1 && lower_blocks_shared(&own, run.options.cut) { run.options.cut } else { 0 },
        members: manifest_members,
        thresholds: calibration.thresholds.clone(),
        flip_tta: calibration.flip_tta,
        provenance: provenance.into(),
    };
    std::fs::create_dir_all(out)?;
    // Weights first, manifest last: a bundle folder with a manifest is complete.
    for (name, bytes) in &files {
        crate::files::write_atomic(&out.join(name), bytes)?;
    }
    crate::files::write_atomic(&out.join(MANIFEST), manifest.to_json().as_bytes())?;
    remove_stale(out, &files.iter().map(|(name, _)| name.clone()).collect::<Vec<_>>())?;
    let total: usize = files.iter().map(|(_, b)| b.len()).sum();
    println!(
        "exported {} members ({} shared tensors) to {}: {} bytes of weights",
        members.len(),
        shared.len(),
        out.display(),
        total
    );
    Ok(())
}
