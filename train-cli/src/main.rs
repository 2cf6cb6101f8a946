//! `dermlens`: import, train, evaluate and run dermlens models natively.

mod bundle_dir;
mod calibrate;
mod data;
mod evaluate;
mod explain;
mod familiarity_fit;
mod export;
mod files;
mod import;
mod infer;
mod metrics;
mod ood_cmd;
mod plot;
mod predict;
mod progress;
mod quality_cmd;
mod rng;
mod split_cmd;
mod train;

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
    /// Split a dataset into train / validation / test parts by lesion, stratified by class.
    ///
    /// Reads HAM10000 (HAM10000_metadata.csv and its image folders), ISIC 2019
    /// (ISIC_2019_Training_GroundTruth.csv) or a folder with one subfolder per class.
    Split {
        /// Dataset folder (or its CSV file).
        dataset: PathBuf,
        /// Further folders holding the images of a CSV-described dataset.
        #[arg(long)]
        images: Vec<PathBuf>,
        /// Where to write the split.
        #[arg(long, default_value = "split.csv")]
        out: PathBuf,
        /// Share of each class's images for validation.
        #[arg(long, default_value_t = 0.15)]
        val: f64,
        /// Share of each class's images for the final test.
        #[arg(long, default_value_t = 0.15)]
        test: f64,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// List and skip missing, unreadable, duplicate or unlabelled images instead of failing.
        #[arg(long)]
        skip_bad: bool,
    },
    /// Train an ensemble from the ImageNet backbone on a split: the head on
    /// cached frozen features, then the top blocks.
    Train {
        #[command(flatten)]
        options: train::TrainOptions,
        /// Run folder for caches, checkpoints and logs.
        #[arg(long)]
        out: PathBuf,
        /// Continue the run in --out with its saved options, after the last finished epoch.
        #[arg(long)]
        resume: bool,
    },
    /// Fit one temperature per member and the ensemble's thresholds on the validation part.
    Calibrate {
        /// Run folder written by `dermlens train`.
        run: PathBuf,
        /// Do not average each member over flipped copies of the image.
        #[arg(long)]
        no_tta: bool,
        /// Train images per class (at most) for the not-a-lesion statistics.
        #[arg(long, default_value_t = 400)]
        familiarity_per_class: usize,
        /// Principal directions the not-a-lesion statistics keep.
        #[arg(long, default_value_t = 32)]
        familiarity_rank: usize,
    },
    /// Evaluate every member and the ensemble on split parts; print and write a Markdown report.
    Evaluate {
        /// Calibrated run folder.
        run: PathBuf,
        /// Parts to evaluate, comma-separated (train, val, test).
        #[arg(long, value_delimiter = ',', default_value = "val,test")]
        parts: Vec<data::split::Part>,
        #[arg(long, default_value = "evaluation.md")]
        out: PathBuf,
    },
    /// Write the model bundle the web app and `predict` load.
    Export {
        /// Calibrated run folder.
        run: PathBuf,
        /// Bundle folder to write.
        #[arg(long, default_value = "public/model")]
        out: PathBuf,
        /// Storage of convolution and linear weights.
        #[arg(long, value_enum, default_value = "int8")]
        encoding: EncodingArg,
        /// Where the model comes from and its terms of use, shown to users.
        #[arg(long, default_value = export::HAM10000_PROVENANCE)]
        provenance: String,
    },
    /// Predict image files or folders into a CSV: image, one probability per class, prediction.
    Predict {
        /// Images, or folders searched recursively.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Bundle folder written by `dermlens export`.
        #[arg(long, default_value = "public/model")]
        model: PathBuf,
        #[arg(long, default_value = "predictions.csv")]
        out: PathBuf,
    },
    /// Write a photo with the Grad-CAM heat map of one class over it and the
    /// ensemble's probabilities beside it, as a PNG.
    Explain {
        /// The photo (JPEG, PNG, WebP, BMP or GIF).
        image: PathBuf,
        /// Bundle folder written by `dermlens export`.
        #[arg(long, default_value = "public/model")]
        model: PathBuf,
        /// Class to explain, by code (e.g. mel); default: the predicted class.
        #[arg(long)]
        class: Option<String>,
        /// Opacity of the heat map over the photo, 0 to 1.
        #[arg(long, default_value_t = 0.5)]
        opacity: f32,
        #[arg(long, default_value = "explain.png")]
        out: PathBuf,
    },
    /// Measure the not-a-lesion check: how often it flags lesion photos and
    /// how often unrelated photos and synthetic patterns.
    Ood {
        /// Lesion photos: a split CSV (see --part) or a folder.
        lesions: PathBuf,
        /// With a split CSV: only this part (train, val or test).
        #[arg(long)]
        part: Option<data::split::Part>,
        /// Bundle folder written by `dermlens export`.
        #[arg(long, default_value = "public/model")]
        model: PathBuf,
        /// Unrelated photos: image files or .npy arrays (u8, height x width x 3).
        #[arg(long, num_args = 1..)]
        unrelated: Vec<PathBuf>,
        #[arg(long, default_value = "ood.md")]
        out: PathBuf,
    },
    /// Measure image quality (blur, contrast, exposure) over a folder or split:
    /// percentiles, false flags of the default thresholds, and detection of
    /// degraded copies made in memory.
    Quality {
        /// A folder of images (searched recursively) or a split CSV.
        input: PathBuf,
        /// With a split CSV: only this part (train, val or test).
        #[arg(long)]
        part: Option<data::split::Part>,
        /// Markdown report.
        #[arg(long, default_value = "quality.md")]
        out: PathBuf,
        /// Also write every image's measures and issues, per degradation, to this CSV.
        #[arg(long)]
        measures: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum EncodingArg {
    F32,
    F16,
    Int8,
}

impl From<EncodingArg> for model::bundle::Encoding {
    fn from(e: EncodingArg) -> Self {
        match e {
            EncodingArg::F32 => Self::F32,
            EncodingArg::F16 => Self::F16,
            EncodingArg::Int8 => Self::Int8,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::ImportBackbone { pth, out } => import::run(&pth, &out),
        Command::Split { dataset, images, out, val, test, seed, skip_bad } => {
            split_cmd::run(&split_cmd::Options { dataset, images, out, val, test, seed, skip_bad })
        }
        Command::Train { options, out, resume } => train::run(options, &out, resume),
        Command::Calibrate { run, no_tta, familiarity_per_class, familiarity_rank } => {
            let familiarity = calibrate::FamiliarityOptions { per_class: familiarity_per_class, rank: familiarity_rank };
            calibrate::run(&run, !no_tta, familiarity).map(|_| ())
        }
        Command::Evaluate { run, parts, out } => evaluate::run(&run, &parts, &out),
        Command::Export { run, out, encoding, provenance } => export::run(&run, &out, encoding.into(), &provenance),
        Command::Predict { paths, model, out } => predict::run(&paths, &model, &out),
        Command::Explain { image, model, class, opacity, out } => {
            explain::run(&image, &model, class.as_deref(), opacity, &out)
        }
        Command::Ood { lesions, part, model, unrelated, out } => {
            ood_cmd::run(&ood_cmd::Options { model, lesions, part, unrelated, out })
        }
        Command::Quality { input, part, out, measures } => {
            quality_cmd::run(&quality_cmd::Options { input, part, out, measures })
        }
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
