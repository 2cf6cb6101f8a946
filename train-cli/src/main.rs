//! `dermlens`: import, train, evaluate and run dermlens models natively.

mod data;
mod files;
mod import;
mod metrics;
mod rng;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "dermlens", version, about = "Train, evaluate and run dermlens skin-lesion classifiers")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Convert the ImageNet EfficientNet-Lite0 PyTorch weights (.pth) into dermlens' format.
    ImportBackbone {
        /// The reference weight file, e.g. efficientnet-lite0-57934424.pth.
        pth: PathBuf,
        /// Where to write the converted weights.
        #[arg(long, default_value = "lite0-imagenet.bpk")]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::ImportBackbone { pth, out } => import::run(&pth, &out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line: the outermost context, then its causes.
            let causes: Vec<String> = error.chain().map(|c| c.to_string()).collect();
            eprintln!("error: {}", causes.join(": "));
            ExitCode::FAILURE
        }
    }
}
