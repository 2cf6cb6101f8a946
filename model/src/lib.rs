//! dermlens' model: EfficientNet-Lite0/1/2, the classifier head and the
//! preprocessing both the CLI and the browser app use. No file or network
//! I/O and no platform code: callers pass bytes and choose the device.
//!
//! Without the `burn` feature only the parts that need no network
//! remain: classes, calibration, the ensemble's arithmetic,
//! guidance, photo checks, decoding and Grad-CAM's resampling. The browser
//! page uses those; with burn its wasm was 6.8 MB instead of 1.1.

pub mod analysis;
#[cfg(feature = "burn")]
pub mod bundle;
#[cfg(feature = "burn")]
pub mod burnpack;
pub mod calibration;
pub mod classes;
#[cfg(feature = "burn")]
pub mod classifier;
pub mod colormap;
pub mod crop;
pub mod degrade;
#[cfg(feature = "burn")]
pub mod efficientnet;
pub mod ensemble;
pub mod familiarity;
pub mod gradcam;
pub mod guidance;
#[cfg(feature = "burn")]
pub mod inference;
pub mod metadata;
#[cfg(feature = "burn")]
pub mod ops;
pub mod preprocess;
pub mod quality;
pub mod rng;
#[cfg(feature = "burn")]
pub mod tta;
