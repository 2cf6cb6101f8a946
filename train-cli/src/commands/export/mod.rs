//! `dermlens export`: the bundle the web app and `predict` load, with its
//! model card.

mod model_card;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use model::bundle::{self, Encoding, FORMAT, MANIFEST, Manifest, Member, VERSION, WeightFile};
use model::efficientnet::identical_lower_blocks;

use crate::context::Context;
use crate::run_dir::RunDir;

/// How convolution and linear weights are stored in the bundle.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum EncodingArg {
    F32,
    F16,
    Int8,
}

impl From<EncodingArg> for Encoding {
    fn from(e: EncodingArg) -> Self {
        match e {
            EncodingArg::F32 => Self::F32,
            EncodingArg::F16 => Self::F16,
            EncodingArg::Int8 => Self::Int8,
        }
    }
}

/// Write the model bundle the web app and `predict` load.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Calibrated run folder.
    pub run: PathBuf,
    /// Bundle folder to write.
    #[arg(long, default_value = "public/model")]
    pub out: PathBuf,
    /// Storage of convolution and linear weights.
    #[arg(long, value_enum, default_value = "int8")]
    pub encoding: EncodingArg,
    /// Where the model comes from and its terms of use, shown to users.
    #[arg(long, default_value = HAM10000_PROVENANCE)]
    pub provenance: String,
    /// Markdown added to the model card under "How the recipe was chosen"
    /// (e.g. each measured lever, before and after).
    #[arg(long, value_name = "MARKDOWN")]
    pub notes: Option<PathBuf>,
}

/// Notes longer than this are not a model card's.
const MAX_NOTES_BYTES: u64 = 1_000_000;

/// The default provenance note, for models trained on HAM10000.
pub const HAM10000_PROVENANCE: &str = "EfficientNet-Lite (ImageNet weights, Apache-2.0) fine-tuned by dermlens on HAM10000 \
     (Tschandl et al. 2018, doi:10.1038/sdata.2018.161, CC BY-NC 4.0): non-commercial use only. Not a diagnosis.";

/// Names carry the start of the checksum: a changed file gets a new name,
/// so browsers and the app's service worker can cache weights forever.
fn weight_file(stem: &str, bytes: &[u8]) -> WeightFile {
    let sha256 = bundle::sha256_hex(bytes);
    WeightFile { file: format!("{stem}-{}.bin", &sha256[..12]), sha256, bytes: bytes.len() as u64 }
}

/// The weight files of the bundle already in `out` (none if `out` is new or
/// empty). Export replaces only a dermlens bundle: a folder holding anything
/// else is refused before any work, so no file of the user's is touched.
fn previous_bundle(out: &Path) -> Result<Vec<String>> {
    if !out.exists() {
        return Ok(Vec::new());
    }
    if !out.is_dir() {
        bail!("{} is a file, not a bundle folder", out.display());
    }
    let manifest = out.join(MANIFEST);
    if !manifest.exists() {
        if std::fs::read_dir(out)?.next().is_some() {
            bail!(
                "{} holds files but no dermlens bundle: choose a new or empty folder (export replaces only a bundle)",
                out.display()
            );
        }
        return Ok(Vec::new());
    }
    let text = crate::files::read_limited(&manifest, model::bundle::MAX_MANIFEST_BYTES)?;
    let value: serde_json::Value = serde_json::from_slice(&text).unwrap_or_default();
    if value["format"] != FORMAT {
        bail!("{} is not a dermlens bundle's manifest: refusing to replace it", manifest.display());
    }
    let files = value["members"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| &m["weights"]["file"])
        .chain([&value["shared"]["file"]])
        .filter_map(|f| f.as_str())
        // Only plain names inside the folder: a manifest cannot point export elsewhere.
        .filter(|f| !f.contains(['/', '\\']) && !f.starts_with('.'))
        .map(String::from)
        .collect();
    Ok(files)
}

/// Removes the previous bundle's weight files the new manifest no longer names.
fn remove_stale(out: &Path, previous: &[String], keep: &[String]) -> Result<()> {
    for name in previous.iter().filter(|name| !keep.contains(name)) {
        let path = out.join(name);
        if path.is_file() {
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}

pub fn run(args: Args, ctx: &Context) -> Result<()> {
    let (out, encoding, provenance) = (&args.out, Encoding::from(args.encoding), &args.provenance);
    let dir = RunDir::new(&args.run);
    let run = dir.load()?;
    let calibration = dir.load_calibration()?;
    let previous = previous_bundle(out)?;
    let notes = match &args.notes {
        Some(path) => Some(
            String::from_utf8(crate::files::read_limited(path, MAX_NOTES_BYTES)?)
                .with_context(|| format!("{} is not UTF-8 text", path.display()))?,
        ),
        None => None,
    };
    if calibration.scaling.temperatures.len() != run.options.members
        || calibration.familiarity.len() != run.options.members
    {
        bail!(
            "the calibration does not cover the run's {} members: calibrate again",
            run.options.members
        );
    }
    // BatchNorms folded into the convolutions: less to download and one pass
    // fewer per layer (the same outputs, checked by the model's tests).
    let members: Vec<_> =
        dir.load_members(&run, &ctx.device)?.into_iter().map(|m| m.folded()).collect();
    let tensors: Vec<_> = members.iter().map(bundle::tensors_of).collect();
    let (shared, own) = bundle::factor_shared(&tensors);

    let unnamed = WeightFile { file: String::new(), sha256: String::new(), bytes: 0 };
    let mut manifest = Manifest {
        format: FORMAT.into(),
        version: VERSION,
        classes: run.classes.clone(),
        geometry: run.options.geometry.into(),
        normalization: run.normalization,
        colour_constancy: run.options.colour_constancy,
        encoding,
        folded: true,
        shared: None,
        // Blocks no member changed are stored once and run once.
        shared_blocks: identical_lower_blocks(
            &members.iter().map(|m| &m.backbone).collect::<Vec<_>>(),
        ),
        members: (0..members.len())
            .map(|m| Member {
                name: format!("member-{m}"),
                input: run.inputs()[m],
                weights: unnamed.clone(),
                backbone: run.variant(m),
                temperature: calibration.scaling.temperatures[m],
            })
            .collect(),
        offsets: calibration.scaling.offsets.clone(),
        thresholds: calibration.thresholds.clone(),
        tta: calibration.tta,
        metadata: calibration.metadata.clone(),
        provenance: provenance.into(),
    };
    // Every weight file carries the checksum of what the manifest says.
    let binding = manifest.binding();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    if !shared.is_empty() {
        let bytes = bundle::encode(&shared, encoding, &binding);
        let file = weight_file("shared", &bytes);
        files.push((file.file.clone(), bytes));
        manifest.shared = Some(file);
    }
    for (m, tensors) in own.iter().enumerate() {
        // The familiarity statistics are small and stay f32 (their names do not end in ".weight").
        let mut tensors = tensors.clone();
        tensors.extend(bundle::familiarity::to_tensors(&calibration.familiarity[m]));
        let bytes = bundle::encode(&tensors, encoding, &binding);
        let file = weight_file(&format!("member-{m}"), &bytes);
        files.push((file.file.clone(), bytes));
        manifest.members[m].weights = file;
    }
    std::fs::create_dir_all(out)?;
    // Weights first, manifest last: a bundle folder with a manifest is complete.
    for (name, bytes) in &files {
        crate::files::write_atomic(&out.join(name), bytes)?;
    }
    let weight_bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    let card =
        model_card::write(&dir, &run, &calibration, &manifest, weight_bytes, notes.as_deref())?;
    crate::files::write_atomic(&out.join(model_card::FILE), card.as_bytes())?;
    crate::files::write_atomic(&out.join(MANIFEST), manifest.to_json().as_bytes())?;
    remove_stale(out, &previous, &files.iter().map(|(name, _)| name.clone()).collect::<Vec<_>>())?;
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
