//! `dermlens quality` on the committed HAM10000 fixture images.

// Helpers here may unwrap too: a panic in a test is a failed test (clippy.toml
// allows it only inside #[test] functions).
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

#[test]
fn quality_reports_percentiles_false_flags_and_detection() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::temp_dir().join(format!("dermlens-quality-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("quality.md");
    let measures = dir.join("measures.csv");
    let output = Command::new(env!("CARGO_BIN_EXE_dermlens"))
        .arg("quality")
        .arg(root.join("tests/fixtures/ham10000/images"))
        .arg("--out")
        .arg(&report)
        .arg("--measures")
        .arg(&measures)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(stdout.contains(&text), "the report is also printed");
    assert!(text.contains("35 images measured"), "{text}");
    for needle in [
        "| **any** |",
        "| blur |",
        "| dark |",
        "| overexposed |",
        "| flat |",
        "### sharpness",
        "p99.9",
    ] {
        assert!(text.contains(needle), "missing {needle}: {text}");
    }
    // Every fixture image passes, and the blunt degradations are all caught.
    assert!(text.contains("| **any** | 0 | 0.00% |"), "{text}");
    for row in ["| blur |", "| dark |", "| overexposed |"] {
        let line = text.lines().find(|l| l.starts_with(row)).unwrap();
        assert!(line.contains("**100.00%**"), "{line}");
    }
    // One CSV row per image and variant.
    let csv = std::fs::read_to_string(&measures).unwrap();
    assert_eq!(csv.lines().count(), 1 + 35 * 7);

    // --part needs a split.
    let refused = Command::new(env!("CARGO_BIN_EXE_dermlens"))
        .args(["quality", root.join("tests/fixtures/ham10000").to_str().unwrap(), "--part", "test"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("split CSV"));
    std::fs::remove_dir_all(dir).ok();
}
