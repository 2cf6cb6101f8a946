//! Prints speed figures of the network on this machine: inference per image
//! (batch 1 and 16), the cached-feature split used for training, one
//! training step of the top blocks and one of the whole network at several
//! input sizes. Run with `cargo bench -p train-cli`; `DERMLENS_BENCH_WGPU=1`
//! adds the wgpu backend, `DERMLENS_BENCH_QUICK=1` only the whole-network steps.

use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, DeviceType, Tensor};
use model::classifier::Classifier;

fn time<T>(repeats: usize, mut f: impl FnMut() -> T) -> f64 {
    f(); // warm-up
    let started = Instant::now();
    for _ in 0..repeats {
        std::hint::black_box(f());
    }
    started.elapsed().as_secs_f64() * 1000.0 / repeats as f64
}

fn bench(name: &str, device: &Device) {
    let classifier = Classifier::new(model::efficientnet::Variant::Lite0, 7, device).valid();
    for batch in [1usize, 16] {
        let x = Tensor::<4>::ones([batch, 3, 224, 224], device);
        let ms =
            time(if batch == 1 { 20 } else { 3 }, || classifier.forward(x.clone()).into_data());
        println!(
            "{name}: inference 224x224, batch {batch:>2}: {:.1} ms per image",
            ms / batch as f64
        );
    }
    let x = Tensor::<4>::ones([16, 3, 224, 224], device);
    for cut in [11usize, 12, 13] {
        let ms = time(3, || classifier.backbone.forward_lower(x.clone(), cut).into_data());
        let lower = classifier.backbone.forward_lower(x.clone(), cut);
        let upper = time(3, || {
            classifier
                .classify_features(classifier.backbone.forward_upper(lower.clone(), cut))
                .into_data()
        });
        println!(
            "{name}: cut {cut}: blocks below {:.1} ms, above {:.1} ms per image",
            ms / 16.0,
            upper / 16.0
        );
    }
}

fn train_step(name: &str, device: &Device, cut: usize) {
    let autodiff = device.clone().autodiff();
    let mut model =
        Classifier::new(model::efficientnet::Variant::Lite0, 7, device).fork(&autodiff).train();
    let mut optimizer = AdamWConfig::new().init();
    let lower = Classifier::new(model::efficientnet::Variant::Lite0, 7, device)
        .valid()
        .backbone
        .forward_lower(Tensor::<4>::ones([32, 3, 224, 224], device), cut);
    let ms = time(3, || {
        let x = Tensor::<4>::from_data(lower.to_data(), &autodiff);
        let logits = model.classify_features(model.backbone.forward_upper(x, cut));
        let loss = logits.powf_scalar(2.0).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(1e-4, model.clone(), grads);
    });
    println!(
        "{name}: training step of blocks {cut}..16 + head, batch 32: {:.1} ms per image",
        ms / 32.0
    );
}

/// One AdamW step of the whole network (the stem frozen or not) on a batch of 32.
fn full_train_step(name: &str, device: &Device, input: usize, freeze_stem: bool) {
    let autodiff = device.clone().autodiff();
    let mut model =
        Classifier::new(model::efficientnet::Variant::Lite0, 7, device).fork(&autodiff).train();
    if freeze_stem {
        model.backbone.conv_stem = model.backbone.conv_stem.clone().no_grad();
        model.backbone.bn0 = model.backbone.bn0.clone().no_grad();
    }
    let mut optimizer = AdamWConfig::new().init();
    let images =
        Tensor::<4>::random([32, 3, input, input], burn::tensor::Distribution::Default, device);
    let ms = time(2, || {
        let x = Tensor::<4>::from_data(images.to_data(), &autodiff);
        let loss = model.forward(x).powf_scalar(2.0).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(1e-4, model.clone(), grads);
    });
    let stem = if freeze_stem { ", stem frozen" } else { "" };
    println!(
        "{name}: training step of the whole network at {input}x{input}{stem}, batch 32: {:.1} ms per image",
        ms / 32.0
    );
}

fn main() {
    // The allocator and its setting of the dermlens command.
    train_cli::allocator::keep_freed_memory();
    let quick = std::env::var_os("DERMLENS_BENCH_QUICK").is_some();
    if !quick {
        bench("flex", &Device::flex());
        for cut in [12, 13] {
            train_step("flex", &Device::flex(), cut);
        }
    }
    for input in [160, 192, 224] {
        full_train_step("flex", &Device::flex(), input, false);
    }
    full_train_step("flex", &Device::flex(), 160, true);
    if std::env::var_os("DERMLENS_BENCH_WGPU").is_some()
        && let Some(device) = Device::enumerate(DeviceType::Wgpu).into_iter().next()
    {
        bench("wgpu", &device);
        full_train_step("wgpu", &device, 160, false);
    }
}
