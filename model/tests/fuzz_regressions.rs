//! Replays the fuzz targets' saved inputs (crashers found by `cargo fuzz`
//! and the seeds under `tests/fixtures/fuzz/`) plus every fixture photo
//! through the same code the targets run: none may panic.

// Helpers here may unwrap too: a panic in a test is a failed test (clippy.toml
// allows it only inside #[test] functions).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

#[path = "../../fuzz/cases.rs"]
mod cases;

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    found.sort();
    found
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

#[test]
fn photo_inputs_never_panic() {
    let mut inputs = files(&fixtures().join("fuzz/photo"));
    inputs.extend(files(&fixtures().join("corpus")));
    inputs.extend(files(&fixtures().join("e2e")));
    inputs.extend(files(&fixtures().join("ham10000/images")).into_iter().take(5));
    assert!(inputs.len() >= 10, "the fixtures are present");
    for input in inputs {
        let bytes = std::fs::read(&input).unwrap();
        cases::photo(&bytes);
        // Every prefix length class the fuzzer likes: empty, header only, half.
        for cut in [0, 1, 16, bytes.len() / 2] {
            cases::photo(&bytes[..cut.min(bytes.len())]);
        }
    }
}

#[test]
fn bundle_inputs_never_panic() {
    let inputs = files(&fixtures().join("fuzz/bundle"));
    assert!(!inputs.is_empty(), "the bundle seeds are present");
    for input in inputs {
        let bytes = std::fs::read(&input).unwrap();
        cases::bundle(&bytes);
        for cut in [1, 9, bytes.len() / 2] {
            cases::bundle(&bytes[..cut.min(bytes.len())]);
        }
    }
}
