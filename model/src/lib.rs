//! dermlens' model: EfficientNet-Lite0, its classifier head and the
//! preprocessing both the CLI and the browser app use. No file or network
//! I/O and no platform code: callers pass bytes and choose the device.

pub mod analysis;
pub mod bundle;
pub mod burnpack;
pub mod calibration;
pub mod classes;
pub mod classifier;
pub mod colormap;
pub mod efficientnet;
pub mod ensemble;
pub mod familiarity;
pub mod gradcam;
pub mod guidance;
pub mod inference;
pub mod ops;
pub mod preprocess;
pub mod quality;
pub mod tta;
