//! The port is exact: with the imported ImageNet weights (the reference file
//! through `import-backbone`) it reproduces the reference PyTorch logits for
//! every golden case, on the CPU backend and, where an adapter exists, on wgpu.
//! Lite0's weights are a committed fixture; Lite1's and Lite2's are read from
//! `../shared/weights` (skipped when absent) against their committed goldens
//! (made by `benches/goldens.py` with the reference implementation).

use std::path::PathBuf;

use burn::tensor::{Device, DeviceType, Tensor, TensorData};
use model::classifier::Classifier;
use model::preprocess::Normalization;
use serde_json::Value;
use train_cli::npy;

/// The design's bar for "exact".
const TOLERANCE: f32 = 1e-3;

fn fixtures_of(variant: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(variant)
}

fn fixtures() -> PathBuf {
    fixtures_of("lite0")
}

fn npy(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(format!("inputs/{name}.npy")))
        .unwrap_or_else(|e| panic!("{name}.npy: {e}"))
}

/// A case's network input, `[1, 3, side, side]`, as the reference built it,
/// and its side. `image_side` names an input at another size ("cat_240"),
/// stored beside the variant's goldens in `dir`.
fn case_input_in(dir: &std::path::Path, image: &str, norm: &str) -> (Vec<f32>, usize) {
    if let Some((stem, side)) = image.rsplit_once('_')
        && let Ok(side) = side.parse::<usize>()
    {
        let path = dir.join(format!("inputs/{stem}_u8_{side}.npy"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let rgb = npy::parse(&bytes).and_then(|a| a.rgb_image()).expect("an RGB input");
        assert_eq!(rgb.dimensions(), (side as u32, side as u32));
        assert_eq!(norm, "tf_lite_127_128");
        return (model::preprocess::to_chw(&rgb, &Normalization::LITE), side);
    }
    (case_input(image, norm), 224)
}

/// A case's network input, `[1, 3, 224, 224]`, as the reference built it.
fn case_input(image: &str, norm: &str) -> Vec<f32> {
    match (image, norm) {
        ("zeros", _) => vec![0.0; 3 * 224 * 224],
        (_, "prenormalised") => {
            let bytes = npy("synthetic_nchw_f32");
            npy::parse(&bytes).and_then(|a| a.f32_values()).expect("the synthetic input")
        }
        _ => {
            let norm = match norm {
                "tf_lite_127_128" => Normalization::LITE,
                "imagenet_torchvision" => Normalization::IMAGENET,
                other => panic!("unknown normalisation {other}"),
            };
            let bytes = npy(&format!("{image}_u8_224"));
            let rgb = npy::parse(&bytes).and_then(|a| a.rgb_image()).expect("an RGB input");
            assert_eq!(rgb.dimensions(), (224, 224));
            model::preprocess::to_chw(&rgb, &norm)
        }
    }
}

fn imagenet_classifier(device: &Device) -> Classifier {
    let bytes =
        std::fs::read(fixtures().join("imagenet.bpk")).expect("the imported weights fixture");
    model::burnpack::load(Classifier::new(model::efficientnet::Variant::Lite0, 1000, device), bytes)
        .expect("weights fit the network")
}

/// Runs every case of the goldens in `dir` through `classifier`; returns
/// the largest difference per case.
fn differences_in(
    dir: &std::path::Path,
    classifier: &Classifier,
    device: &Device,
) -> Vec<(String, f32)> {
    let reference: Value =
        serde_json::from_slice(&std::fs::read(dir.join("reference.json")).expect("reference.json"))
            .expect("valid JSON");
    let cases = reference["cases"].as_object().expect("cases");
    let mut out = Vec::new();
    for (name, case) in cases {
        let (image, norm) = name.split_once('|').expect("case name is image|normalisation");
        let (values, side) = case_input_in(dir, image, norm);
        let input = Tensor::<4>::from_data(TensorData::new(values, [1, 3, side, side]), device);
        let logits: Vec<f32> =
            classifier.forward(input).into_data().try_into_vec().expect("f32 logits");
        let expected: Vec<f32> = case["logits"]
            .as_array()
            .expect("logits")
            .iter()
            .map(|v| v.as_f64().expect("number") as f32)
            .collect();
        assert_eq!(logits.len(), expected.len());
        let diff = logits.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        out.push((name.clone(), diff));
    }
    out
}

/// Runs every Lite0 case on `device`; returns the largest difference per case.
fn max_differences(device: &Device) -> Vec<(String, f32)> {
    let diffs = differences_in(&fixtures(), &imagenet_classifier(device), device);
    assert_eq!(diffs.len(), 10);
    diffs
}

/// Lite1 or Lite2: the reference file from `../shared` through the importer,
/// against the committed goldens (7 cases, one at the native size).
fn check_larger_variant(name: &str, file: &str) {
    let pth = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../shared/weights/efficientnet-{name}/{file}"));
    if !pth.is_file() {
        println!("skipped: {} is absent", pth.display());
        return;
    }
    let device = Device::flex();
    let expected = model::efficientnet::Variant::from_name(name);
    let (variant, classifier) =
        train_cli::backbone::read_pth(&pth, None, &device).expect("the reference file imports");
    assert_eq!(Some(variant), expected, "the variant is recognised from the tensors");
    let diffs = differences_in(&fixtures_of(name), &classifier, &device);
    assert_eq!(diffs.len(), 7);
    for (case, diff) in &diffs {
        println!("{name} flex: {case}: max abs logit difference {diff:.2e}");
    }
    let worst = diffs.iter().map(|d| d.1).fold(0.0, f32::max);
    assert!(worst <= TOLERANCE, "{name}: worst difference {worst} exceeds {TOLERANCE}");
}

#[test]
fn golden_logits_of_lite1() {
    check_larger_variant("lite1", "efficientnet-lite1-77cc7160.pth");
}

#[test]
fn golden_logits_of_lite2() {
    check_larger_variant("lite2", "efficientnet-lite2-9656183e.pth");
}

fn check(backend: &str, device: &Device) {
    let diffs = max_differences(device);
    for (name, diff) in &diffs {
        println!("{backend}: {name}: max abs logit difference {diff:.2e}");
    }
    let worst = diffs.iter().map(|d| d.1).fold(0.0, f32::max);
    assert!(worst <= TOLERANCE, "{backend}: worst difference {worst} exceeds {TOLERANCE}");
}

#[test]
fn golden_logits_on_the_cpu() {
    check("flex", &Device::flex());
}

#[test]
fn golden_logits_on_wgpu() {
    let Some(device) = Device::enumerate(DeviceType::Wgpu).into_iter().next() else {
        println!("skipped: no wgpu adapter on this machine");
        return;
    };
    check("wgpu", &device);
}

#[test]
fn weights_of_another_shape_are_refused_with_the_tensor_named() {
    let bytes =
        std::fs::read(fixtures().join("imagenet.bpk")).expect("the imported weights fixture");
    let error = model::burnpack::load(
        Classifier::new(model::efficientnet::Variant::Lite0, 7, &Device::flex()),
        bytes,
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("head.weight"), "{error}");
    let error = model::burnpack::load(
        Classifier::new(model::efficientnet::Variant::Lite0, 1000, &Device::flex()),
        b"not weights".to_vec(),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("not a readable weight file"), "{error}");
}
