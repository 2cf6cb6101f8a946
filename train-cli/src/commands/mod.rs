//! One module per `dermlens` command, each with its `Args` and
//! `run(args, &context)`, in the order a workflow uses them.

pub mod calibrate;
pub mod degrade;
pub mod evaluate;
pub mod explain;
pub mod export;
pub mod familiarity;
pub mod import_backbone;
pub mod predict;
pub mod quality;
pub mod robustness;
pub mod split;
pub mod sweep;
pub mod train;
