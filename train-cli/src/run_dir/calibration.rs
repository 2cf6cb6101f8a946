//! `calibration.json`: what `dermlens calibrate` fitted on a run, read by
//! `evaluate` and `export`.

use anyhow::Result;
use model::ensemble::{Scaling, Thresholds};
use model::familiarity::Familiarity;
use model::metadata::MetadataPrior;
use model::tta::Tta;
use serde::{Deserialize, Serialize};

use super::RunDir;

pub const CALIBRATION_FILE: &str = "calibration.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Calibration {
    /// Temperatures per member and offsets per class.
    pub scaling: Scaling,
    pub thresholds: Thresholds,
    /// The test-time views the members are averaged over.
    pub tta: Tta,
    /// One per member.
    pub familiarity: Vec<Familiarity>,
    /// The age, sex and body-site prior (`calibrate --metadata`).
    #[serde(default)]
    pub metadata: Option<MetadataPrior>,
}

impl RunDir {
    pub fn load_calibration(&self) -> Result<Calibration> {
        crate::files::read_json(&self.calibration_file(), || {
            format!("{} is not calibrated yet: run `dermlens calibrate` first", self.path.display())
        })
    }

    pub fn save_calibration(&self, calibration: &Calibration) -> Result<()> {
        crate::files::write_atomic(
            &self.calibration_file(),
            serde_json::to_string_pretty(calibration)?.as_bytes(),
        )
    }
}
