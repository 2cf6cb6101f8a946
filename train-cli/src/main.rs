//! `dermlens`: import, train, evaluate and run dermlens models natively.

use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use train_cli::commands::{
    calibrate, degrade, evaluate, explain, export, familiarity, import_backbone, predict, quality,
    robustness, split, sweep, train,
};
use train_cli::context::{Context, DeviceChoice};

const WORKFLOW: &str = "\
A whole run, from the ImageNet backbone to predictions:
  dermlens import-backbone efficientnet-lite0-57934424.pth --out lite0-imagenet.bpk
  dermlens split ../shared/data/ham10000 --out split.csv
  dermlens train --split split.csv --backbone lite0-imagenet.bpk --out runs/ham
  dermlens calibrate runs/ham
  dermlens evaluate runs/ham --out evaluation.md
  dermlens export runs/ham --out public/model
  dermlens predict photos/ --model public/model --out predictions.csv";

#[derive(Parser)]
#[command(name = "dermlens", version, about = "Train, evaluate and run dermlens skin-lesion classifiers", after_help = WORKFLOW)]
struct Cli {
    /// Where the networks run: cpu, or wgpu (Vulkan, Metal or DX12; wgpu:N
    /// for the N-th adapter).
    #[arg(long, global = true, default_value = "cpu", value_name = "DEVICE")]
    device: DeviceChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    ImportBackbone(import_backbone::Args),
    Split(split::Args),
    Train(train::Args),
    Sweep(sweep::Args),
    Calibrate(calibrate::Args),
    Evaluate(evaluate::Args),
    Export(export::Args),
    Predict(predict::Args),
    Explain(explain::Args),
    Quality(quality::Args),
    Robustness(robustness::Args),
    Degrade(degrade::Args),
    Familiarity(familiarity::Args),
}

/// The options given on the command line (not defaulted) of a subcommand.
fn given(matches: &clap::ArgMatches) -> Vec<String> {
    matches
        .ids()
        .filter(|id| matches.value_source(id.as_str()) == Some(ValueSource::CommandLine))
        .map(|id| id.to_string())
        .collect()
}

fn main() -> ExitCode {
    train_cli::termination::clean_up_when_stopped();
    train_cli::allocator::keep_freed_memory();
    let matches = Cli::command().get_matches();
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    match (&mut cli.command, matches.subcommand()) {
        (Command::Train(args), Some((_, sub))) => args.recipe.given = given(sub),
        (Command::Sweep(args), Some((_, sub))) => args.recipe.given = given(sub),
        _ => {}
    }
    let result = Context::new(cli.device).and_then(|ctx| match cli.command {
        Command::ImportBackbone(args) => import_backbone::run(args, &ctx),
        Command::Split(args) => split::run(args, &ctx),
        Command::Train(args) => train::run(args, &ctx),
        Command::Sweep(args) => sweep::run(args, &ctx),
        Command::Calibrate(args) => calibrate::run(args, &ctx),
        Command::Evaluate(args) => evaluate::run(args, &ctx),
        Command::Export(args) => export::run(args, &ctx),
        Command::Predict(args) => predict::run(args, &ctx),
        Command::Explain(args) => explain::run(args, &ctx),
        Command::Quality(args) => quality::run(args, &ctx),
        Command::Robustness(args) => robustness::run(args, &ctx),
        Command::Degrade(args) => degrade::run(args, &ctx),
        Command::Familiarity(args) => familiarity::run(args, &ctx),
    });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_is_documented() {
        let cli = Cli::command();
        for arg in cli.get_arguments() {
            assert!(arg.get_help().is_some(), "--{} has no help", arg.get_id());
        }
        for command in cli.get_subcommands() {
            assert!(command.get_about().is_some(), "{} has no description", command.get_name());
            for arg in command.get_arguments() {
                assert!(
                    arg.get_help().is_some(),
                    "{} --{} has no help",
                    command.get_name(),
                    arg.get_id()
                );
            }
        }
    }
}
