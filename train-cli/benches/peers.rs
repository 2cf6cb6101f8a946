//! One timing of dermlens for the peer benchmark (`benches/peers.sh`), as a
//! JSON line: the script runs it in turn with PyTorch and onnxruntime on the
//! same tasks, so that all three share the machine's state.
//!
//! `cargo bench -p train-cli --bench peers -- TASK BATCH INPUT REPEATS [wgpu] [lite0|lite1|lite2]`
//! with TASK one of `infer` (a member's forward pass, BatchNorms folded as in
//! a bundle), `train-full` (an AdamW step of the whole network) and
//! `train-top` (a step of blocks 12-15 and the head on the activations below).

use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, DeviceType, Distribution, Tensor};
use model::classifier::Classifier;
use model::efficientnet::Variant;

/// The first block of the top part in `train-top`.
const CUT: usize = 12;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Milliseconds per run of `f`, the median of `repeats` after one warm-up.
fn time(repeats: usize, mut f: impl FnMut()) -> f64 {
    f();
    let runs = (0..repeats.max(1))
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    median(runs)
}

fn main() {
    // The allocator and its setting of the dermlens command.
    train_cli::allocator::keep_freed_memory();
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let task = args.first().map(String::as_str).unwrap_or("infer");
    let number =
        |i: usize, default: usize| args.get(i).and_then(|v| v.parse().ok()).unwrap_or(default);
    let (batch, input, repeats) = (number(1, 1), number(2, 224), number(3, 5));
    let wgpu = args.iter().skip(4).any(|a| a == "wgpu");
    let variant = args.iter().skip(4).find_map(|a| Variant::from_name(a)).unwrap_or_default();
    let device = if wgpu {
        match Device::enumerate(DeviceType::Wgpu).into_iter().next() {
            Some(device) => device,
            None => {
                eprintln!("no wgpu adapter");
                return;
            }
        }
    } else {
        Device::flex()
    };
    let images = Tensor::<4>::random([batch, 3, input, input], Distribution::Default, &device);
    let ms = match task {
        "infer" => {
            let classifier = Classifier::new(variant, 7, &device).folded();
            time(repeats, || {
                let _ = classifier.forward(images.clone()).into_data();
            })
        }
        "train-full" | "train-top" => {
            let autodiff = device.clone().autodiff();
            let top = task == "train-top";
            let classifier = Classifier::new(variant, 7, &device);
            let lower = top.then(|| classifier.valid().backbone.forward_lower(images.clone(), CUT));
            let mut model = classifier.fork(&autodiff).train();
            let mut optimizer = AdamWConfig::new().init();
            time(repeats, || {
                let logits = match &lower {
                    Some(lower) => {
                        let x = Tensor::<4>::from_data(lower.to_data(), &autodiff);
                        model.classify_features(model.backbone.forward_upper(x, CUT))
                    }
                    None => model.forward(Tensor::<4>::from_data(images.to_data(), &autodiff)),
                };
                let loss = logits.powf_scalar(2.0).mean();
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optimizer.step(1e-4, model.clone(), grads);
                let _ = model.head.bias.as_ref().map(|b| b.val().into_data());
            })
        }
        other => {
            eprintln!("unknown task {other}: infer, train-full or train-top");
            return;
        }
    };
    let runner = if wgpu { "dermlens-wgpu" } else { "dermlens" };
    println!(
        "{{\"runner\": \"{runner}\", \"backbone\": \"{variant}\", \"task\": \"{task}\", \"batch\": {batch}, \"input\": {input}, \"ms_per_image\": {:.3}}}",
        ms / batch as f64
    );
}
