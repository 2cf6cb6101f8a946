//! What dermlens finds in one photo ([`Analysis`]), and, with the
//! `burn` feature, how a bundle finds it (`analyse`). The page only
//! shows analyses, so it builds without burn.

use serde::{Deserialize, Serialize};

use crate::ensemble::Prediction;
use crate::quality::{QualityIssue, QualityMeasures};

#[cfg(feature = "burn")]
mod analyse;
#[cfg(feature = "burn")]
pub use analyse::*;

/// Everything the page and `dermlens explain` show about one photo.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Analysis {
    pub prediction: Prediction,
    pub quality: QualityMeasures,
    pub issues: Vec<QualityIssue>,
    /// Per class: the members' mean raw Grad-CAM map, row-major at `cam_size`.
    pub cams: Vec<Vec<f32>>,
    /// `[height, width]` of the maps.
    pub cam_size: [usize; 2],
    /// The part of the photo the maps cover (the part the network saw), `[x, y, width, height]`.
    pub cam_region: [u32; 4],
}
