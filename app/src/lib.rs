//! dermlens in the browser. The page (`page`, binary `app`) holds no model:
//! it hands the photo to a dedicated worker (`worker`, binary `worker`) that
//! runs the ensemble on WebGPU or, without it, on the CPU, so the page never
//! freezes. `protocol` is what they say to each other.

pub mod i18n;
pub mod protocol;

#[cfg(target_arch = "wasm32")]
mod envelope;
#[cfg(target_arch = "wasm32")]
pub mod page;
#[cfg(target_arch = "wasm32")]
pub mod worker;
