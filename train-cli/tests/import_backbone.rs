//! `dermlens import-backbone` end to end: the reference file converts to
//! exactly the committed weights fixture; bad files give one clear error line.

// Helpers here may unwrap too: a panic in a test is a failed test (clippy.toml
// allows it only inside #[test] functions).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use burn::store::ModuleSnapshot;
use burn::tensor::Device;
use model::classifier::Classifier;

mod common;
use common::root;

fn shared_pth() -> Option<PathBuf> {
    let path = root().join("../shared/weights/efficientnet-lite0/efficientnet-lite0-57934424.pth");
    if path.is_file() {
        Some(path)
    } else {
        println!("skipped: ../shared/weights is absent");
        None
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dermlens-import-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

fn import(pth: &Path, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dermlens"))
        .arg("import-backbone")
        .arg(pth)
        .arg("--out")
        .arg(out)
        .output()
        .expect("running dermlens")
}

/// Every tensor of a weight file: name, shape and raw bytes.
fn tensors(bytes: &[u8]) -> Vec<(String, Vec<usize>, Vec<u8>)> {
    let device = Device::flex();
    let classifier = model::burnpack::load(
        Classifier::new(model::efficientnet::Variant::Lite0, 1000, &device),
        bytes.to_vec(),
    )
    .expect("loadable");
    classifier
        .collect(None, None, false)
        .into_iter()
        .map(|t| {
            let data = t.to_bytes().expect("tensor bytes").to_vec();
            (t.name, t.shape.to_vec(), data)
        })
        .collect()
}

/// Fails with exactly one line on stderr, and writes nothing.
fn assert_one_line_error(output: &Output, out: &Path, mentions: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "should fail: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line expected: {stderr}");
    assert!(stderr.starts_with("error: ") && stderr.contains(mentions), "{stderr}");
    assert!(!out.exists(), "nothing may be written on failure");
}

#[test]
fn a_random_file_is_refused() {
    let dir = scratch("random");
    let bogus = dir.join("random.pth");
    let bytes: Vec<u8> =
        (0..10_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(&bogus, bytes).unwrap();
    let out = dir.join("out.bpk");
    assert_one_line_error(&import(&bogus, &out), &out, "random.pth");
    assert_one_line_error(&import(&dir.join("absent.pth"), &out), &out, "absent.pth");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn the_reference_file_converts_to_the_committed_fixture() {
    let Some(pth) = shared_pth() else { return };
    let dir = scratch("reference");
    let out = dir.join("imagenet.bpk");
    let output = import(&pth, &out);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    // Parameter ids are random per run, so compare names, shapes and values.
    let imported = tensors(&std::fs::read(&out).unwrap());
    let fixture =
        tensors(&std::fs::read(root().join("tests/fixtures/lite0/imagenet.bpk")).expect("fixture"));
    assert_eq!(imported.len(), 296 - 49, "every tensor but the 49 BatchNorm batch counters");
    assert!(imported == fixture, "the import differs from tests/fixtures/lite0/imagenet.bpk");

    let truncated = dir.join("truncated.pth");
    let bytes = std::fs::read(&pth).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let out = dir.join("truncated.bpk");
    assert_one_line_error(&import(&truncated, &out), &out, "truncated.pth");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn the_larger_reference_files_import_as_their_variants() {
    use model::efficientnet::Variant;
    let dir = scratch("larger");
    for (name, file, variant, blocks) in [
        ("lite1", "efficientnet-lite1-77cc7160.pth", Variant::Lite1, 21),
        ("lite2", "efficientnet-lite2-9656183e.pth", Variant::Lite2, 21),
    ] {
        let pth = root().join(format!("../shared/weights/efficientnet-{name}/{file}"));
        if !pth.is_file() {
            println!("skipped: {} is absent", pth.display());
            continue;
        }
        let out = dir.join(format!("{name}.bpk"));
        let output = import(&pth, &out);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert!(
            stdout.contains(&format!("EfficientNet-{}", name.replace("lite", "Lite"))),
            "{stdout}"
        );
        let (found, classifier) =
            train_cli::backbone::load_imported(&out, &Device::flex()).expect("loads back");
        assert_eq!(found, variant);
        assert_eq!(classifier.backbone.num_blocks(), blocks);
        assert_eq!(classifier.backbone.variant(), variant);
    }
    std::fs::remove_dir_all(dir).ok();
}
