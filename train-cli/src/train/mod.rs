//! The training machinery behind `dermlens train`: augmentation, the cache
//! of frozen-backbone activations, sampling, losses, the learning-rate
//! schedule and the per-member training loop.

pub mod augment;
pub mod cache;
pub mod fit;
pub mod loss;
pub mod sampler;
pub mod schedule;
