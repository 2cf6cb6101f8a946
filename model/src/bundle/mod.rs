//! The exported model bundle: a versioned, self-describing manifest plus
//! weight files, loadable from bytes by the CLI and the browser alike.
//!
//! Tensors that are byte-identical in every member (a backbone part all
//! members kept frozen) are stored once in a shared file; each member file
//! holds the rest. Weights of convolutions and linear layers can be stored
//! as f16 or as int8 with one scale per output row, to shrink the download;
//! everything else stays f32.
//!
//! - [`manifest`]: the manifest schema and its checks;
//! - [`checksum`]: the checksum naming and binding the files;
//! - [`codec`]: the weight-file format and its verification;
//! - [`familiarity`]: how the familiarity statistics are stored;
//! - [`loader`]: manifest plus bytes to ready classifiers.

pub mod checksum;
pub mod codec;
pub mod familiarity;
pub mod loader;
pub mod manifest;

pub use checksum::sha256_hex;
pub use codec::{NamedTensor, decode, encode, factor_shared, tensors_of, verify};
pub use loader::{LoadedBundle, classifier_from, load};
pub use manifest::{
    Encoding, FORMAT, MANIFEST, MAX_INPUT, MAX_MANIFEST_BYTES, MAX_WEIGHT_BYTES, Manifest, Member,
    VERSION, WeightFile,
};

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("the manifest is not valid: {0}")]
    Manifest(String),
    #[error("bundle format version {found} is not supported (this build reads version {VERSION})")]
    Version { found: u32 },
    #[error(
        "{file} is corrupt or incomplete: checksum {found} does not match the manifest's {expected}"
    )]
    Checksum { file: String, expected: String, found: String },
    #[error("{file} is not a valid weight file: {reason}")]
    Weights { file: String, reason: String },
    #[error(transparent)]
    Mismatch(#[from] crate::burnpack::BurnpackError),
    #[error("{file}: {source}")]
    Familiarity { file: String, source: crate::familiarity::FamiliarityError },
}
