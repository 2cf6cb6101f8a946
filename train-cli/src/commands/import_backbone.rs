//! `dermlens import-backbone`: the ImageNet EfficientNet-Lite0 weights from
//! the reference PyTorch file, converted once into burnpack.

use std::path::PathBuf;

use anyhow::Result;
use burn::module::Module;

use crate::backbone;
use crate::context::Context;

/// Convert the ImageNet EfficientNet-Lite0 PyTorch weights (.pth) into dermlens' format.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The reference weight file, e.g. efficientnet-lite0-57934424.pth.
    pub pth: PathBuf,
    /// Where to write the converted weights.
    #[arg(long, default_value = "lite0-imagenet.bpk")]
    pub out: PathBuf,
}

pub fn run(args: Args, ctx: &Context) -> Result<()> {
    let classifier = backbone::read_pth(&args.pth, &ctx.device)?;
    let bytes = model::burnpack::to_bytes(&classifier)?;
    crate::files::write_atomic(&args.out, &bytes)?;
    println!(
        "imported {} parameters from {} into {} ({} bytes)",
        classifier.num_params(),
        args.pth.display(),
        args.out.display(),
        bytes.len()
    );
    Ok(())
}
