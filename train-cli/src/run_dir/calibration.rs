//! `calibration.json`: what `dermlens calibrate` fitted on a run, read by
//! `evaluate` and `export`.

use anyhow::Result;
use model::ensemble::Thresholds;
use model::familiarity::Familiarity;
use serde::{Deserialize, Serialize};

use super::RunDir;

pub const CALIBRATION_FILE: &str = "calibration.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Calibration {
    pub temperatures: Vec<f32>,
    pub thresholds: Thresholds,
    pub flip_tta: bool,
    /// One per member.
    pub familiarity: Vec<Familiarity>,
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
