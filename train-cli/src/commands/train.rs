//! `dermlens train`: an ensemble fine-tuned from the ImageNet backbone on a
//! saved split (the training itself: [`crate::train::ensemble`]).

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::context::Context;
use crate::recipe::RecipeArgs;
use crate::run_dir::RunDir;
use crate::train::ensemble::train;

/// Train an ensemble from the ImageNet backbone on a split: per member, the
/// head on the frozen backbone's features, then the whole network.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub recipe: RecipeArgs,
    /// Run folder for checkpoints and logs.
    #[arg(long)]
    pub out: PathBuf,
    /// Folder for the frozen backbone's features, which runs on the same
    /// split and backbone can share (default: the run folder's cache/).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Continue the run in --out with its saved recipe, after its last finished epoch.
    #[arg(long)]
    pub resume: bool,
}

pub fn run(args: Args, ctx: &Context) -> Result<()> {
    let dir = RunDir::new(&args.out);
    let recipe = if args.resume {
        if args.recipe.config.is_some() {
            bail!("--config starts a new run; --resume continues one with its own recipe");
        }
        let run = dir.load()?;
        // Continuing with other options would silently ignore them, or mix
        // two recipes in one run.
        let changed = run.options.differences(&args.recipe.command_line()?, &args.recipe.given);
        if !changed.is_empty() {
            bail!(
                "{} was started with another recipe: {}; resume without these options, or train afresh into another --out",
                args.out.display(),
                changed.join(", ")
            );
        }
        eprintln!("resuming {} with its saved recipe", args.out.display());
        run.options
    } else {
        args.recipe.resolve()?
    };
    train(&recipe, &dir, args.resume, args.cache_dir.as_deref(), ctx)
}
