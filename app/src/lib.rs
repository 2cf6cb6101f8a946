//! dermlens in the browser. The page (`page`, binary `app`) holds no model:
//! it hands the photo to a dedicated worker (the `worker` crate in
//! `app/worker`) that runs the ensemble on WebGPU or, without it, on the
//! CPU, so the page never freezes. `protocol` is what they say to each
//! other and `envelope` how it travels.

pub mod i18n;
pub mod protocol;

#[cfg(target_arch = "wasm32")]
pub mod envelope;
#[cfg(target_arch = "wasm32")]
pub mod page;
