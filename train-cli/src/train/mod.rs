//! The training machinery behind `dermlens train`: the photos in memory,
//! their augmented views, the frozen backbone's cached features, sampling,
//! the loss, the learning-rate schedule, the weight average, checkpoints
//! the per-member training loop, distillation's teacher and a whole run's
//! training.

pub mod augment;
pub mod checkpoint;
pub mod ema;
pub mod ensemble;
pub mod features;
pub mod fit;
pub mod images;
pub mod loss;
pub mod sampler;
pub mod schedule;
pub mod teacher;
