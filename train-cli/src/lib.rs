//! The `dermlens` command-line tool as a library: `commands` holds one
//! module per command; the modules below them hold what commands share.
//!
//! - `context`: the device `--device` chose;
//! - `recipe`, `run_dir`: what a training run is and its folder on disk;
//! - `train`: the training machinery (used by the `train` command only);
//! - `infer`: running members over image files;
//! - `degraded`: a split part's photos as the robustness benchmark spoils them;
//! - `data`: datasets, splits and finding image files;
//! - `metrics`, `plot`, `stats`: the figures and plots of the reports;
//! - `backbone`, `bundle_dir`, `familiarity_fit`: the ImageNet backbone,
//!   bundles on disk, fitting the not-a-lesion statistics;
//! - `allocator`: the process's memory allocator;
//! - `files`, `npy`, `progress`, `rng`, `tensors`: small utilities.

pub mod allocator;
pub mod backbone;
pub mod bundle_dir;
pub mod commands;
pub mod context;
pub mod data;
pub mod degraded;
pub mod familiarity_fit;
pub mod files;
pub mod infer;
pub mod metrics;
pub mod npy;
pub mod plot;
pub mod progress;
pub mod recipe;
pub use model::rng;
pub mod run_dir;
pub mod stats;
pub mod tensors;
pub mod termination;
pub mod train;
