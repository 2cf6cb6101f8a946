//! The run folder `dermlens train` writes and every later command reads:
//!
//! ```text
//! <run>/run.json                 the recipe, classes, split checksum, device, versions
//! <run>/train.lock               while a `train` runs: its process id and recipe fingerprint
//! <run>/cache/pooled-*.bin       the frozen backbone's features (shareable, see --cache-dir)
//! <run>/member-N/checkpoint.bin  everything needed to resume member N exactly
//! <run>/member-N/weights.bpk     member N's final weights (the weight average)
//! <run>/member-N/weights.sha256  their checksum, checked whenever they are loaded
//! <run>/member-N/log.csv         one row per finished epoch (see `log`)
//! <run>/calibration.json         temperatures, offsets, thresholds, views, familiarity
//! <run>/evaluation.md, .json     the last `evaluate` table and figures (for the model card)
//! ```

pub mod calibration;
pub mod lock;
pub mod log;
pub mod sweep;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::tensor::Device;
use model::classes::LesionClass;
use model::classifier::Classifier;
use model::efficientnet::Variant;
use model::preprocess::{Normalization, Preparation};
use serde::{Deserialize, Serialize};

use crate::recipe::Recipe;

pub const RUN_FILE: &str = "run.json";

/// A run folder's paths.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub path: PathBuf,
}

impl RunDir {
    pub fn new(path: &Path) -> Self {
        Self { path: path.to_path_buf() }
    }

    pub fn run_file(&self) -> PathBuf {
        self.path.join(RUN_FILE)
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.path.join("cache")
    }

    pub fn calibration_file(&self) -> PathBuf {
        self.path.join(calibration::CALIBRATION_FILE)
    }

    pub fn member(&self, member: usize) -> MemberDir {
        MemberDir { path: self.path.join(format!("member-{member}")) }
    }

    /// The run's description; an error when the folder holds no run.
    pub fn load(&self) -> Result<Run> {
        crate::files::read_json(&self.run_file(), || {
            format!("{} is not a training run folder (no {RUN_FILE})", self.path.display())
        })
    }

    pub fn save(&self, run: &Run) -> Result<()> {
        crate::files::write_atomic(&self.run_file(), serde_json::to_string_pretty(run)?.as_bytes())
    }

    /// Keeps the last evaluation's summary table and figures.
    pub fn save_evaluation(&self, table: &str, figures: &serde_json::Value) -> Result<()> {
        crate::files::write_atomic(&self.path.join("evaluation.md"), table.as_bytes())?;
        crate::files::write_atomic(
            &self.path.join("evaluation.json"),
            serde_json::to_string_pretty(figures)?.as_bytes(),
        )
    }

    /// The last evaluation's summary table, if the run was evaluated.
    pub fn evaluation_table(&self) -> Option<String> {
        std::fs::read_to_string(self.path.join("evaluation.md")).ok()
    }

    /// The kept weights of every member of `run`.
    pub fn load_members(&self, run: &Run, device: &Device) -> Result<Vec<Classifier>> {
        (0..run.options.members)
            .map(|m| {
                let member = self.member(m);
                let path = member.weights();
                let bytes = member.load_weights().with_context(|| format!("member {m}"))?;
                model::burnpack::load(
                    Classifier::new(run.variant(m), run.classes.len(), device),
                    bytes,
                )
                .with_context(|| format!("{} does not fit the run", path.display()))
            })
            .collect()
    }
}

/// One member's folder.
#[derive(Debug, Clone)]
pub struct MemberDir {
    pub path: PathBuf,
}

impl MemberDir {
    pub fn checkpoint(&self) -> PathBuf {
        self.path.join("checkpoint.bin")
    }
    pub fn weights(&self) -> PathBuf {
        self.path.join("weights.bpk")
    }
    pub fn log(&self) -> PathBuf {
        self.path.join("log.csv")
    }

    fn weights_checksum(&self) -> PathBuf {
        self.path.join("weights.sha256")
    }

    /// Writes the member's final weights and their checksum.
    pub fn save_weights(&self, bytes: &[u8]) -> Result<()> {
        crate::files::write_atomic(&self.weights(), bytes)?;
        crate::files::write_atomic(
            &self.weights_checksum(),
            model::bundle::sha256_hex(bytes).as_bytes(),
        )
    }

    /// The member's final weights, checked against their checksum.
    pub fn load_weights(&self) -> Result<Vec<u8>> {
        let path = self.weights();
        let bytes = std::fs::read(&path)
            .with_context(|| format!("has not finished training (no {})", path.display()))?;
        let expected = std::fs::read_to_string(self.weights_checksum())
            .with_context(|| format!("{} has no checksum beside it", path.display()))?;
        let found = model::bundle::sha256_hex(&bytes);
        if expected.trim() != found {
            anyhow::bail!(
                "{} is damaged: its checksum is {found}, not {}",
                path.display(),
                expected.trim()
            );
        }
        Ok(bytes)
    }
}

/// What later commands need to know about a run (`run.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub options: Recipe,
    /// Each member's backbone (runs from before Lite1 and Lite2: all Lite0).
    #[serde(default)]
    pub variants: Vec<Variant>,
    pub classes: Vec<LesionClass>,
    pub normalization: Normalization,
    /// sha256 of the split file the run was started on: resuming on another split would leak.
    #[serde(default)]
    pub split_sha256: String,
    /// Seconds spent per member, filled in as members finish.
    #[serde(default)]
    pub seconds: Vec<f64>,
    /// Where it was trained (`--device`) and with what.
    #[serde(default)]
    pub device: String,
    #[serde(default)]
    pub dermlens_version: String,
    #[serde(default)]
    pub burn_version: String,
}

/// The burn release this build uses (the `=` pin in the workspace manifest).
pub const BURN_VERSION: &str = "0.22.1";

impl Run {
    /// Each member's input `[height, width]`.
    pub fn inputs(&self) -> Vec<[u32; 2]> {
        (0..self.options.members).map(|m| self.options.input(m)).map(|s| [s, s]).collect()
    }

    /// Member `m`'s backbone.
    pub fn variant(&self, m: usize) -> Variant {
        self.variants.get(m).copied().unwrap_or_default()
    }

    /// How photos become the members' inputs.
    pub fn preparation(&self) -> Preparation {
        Preparation {
            geometry: self.options.geometry.into(),
            normalization: self.normalization,
            colour_constancy: self.options.colour_constancy,
        }
    }
}
