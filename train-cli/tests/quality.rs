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
        "| warm light |",
        "| noise |",
        "### sharpness",
        "### warmth",
        "p99.9",
    ] {
        assert!(text.contains(needle), "missing {needle}: {text}");
    }
    // Every fixture image passes, and the severe degradations the checks
    // are made for are caught for at least 80% (the design's target).
    assert!(text.contains("| **any** | 0 | 0.00% |"), "{text}");
    for row in [
        "| blur |",
        "| dark |",
        "| overexposed |",
        "| warm light |",
        "| noise |",
        "| low resolution |",
    ] {
        let line = text.lines().find(|l| l.starts_with(row)).unwrap();
        let detected: f64 = line.split("**").nth(1).unwrap().trim_end_matches('%').parse().unwrap();
        assert!(detected >= 80.0, "{line}");
    }
    // One CSV row per image and variant.
    let csv = std::fs::read_to_string(&measures).unwrap();
    assert_eq!(csv.lines().count(), 1 + 35 * 14);

    // --part needs a split.
    let refused = Command::new(env!("CARGO_BIN_EXE_dermlens"))
        .args(["quality", root.join("tests/fixtures/ham10000").to_str().unwrap(), "--part", "test"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("split CSV"));

    // One photo is measured on its own.
    let images = root.join("tests/fixtures/ham10000/images");
    let mut photos: Vec<_> =
        std::fs::read_dir(&images).unwrap().map(|e| e.unwrap().path()).collect();
    photos.sort();
    let single = dir.join("single.md");
    let one = Command::new(env!("CARGO_BIN_EXE_dermlens"))
        .args(["quality", photos[0].to_str().unwrap(), "--out", single.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(one.status.success(), "{}", String::from_utf8_lossy(&one.stderr));
    let report = std::fs::read_to_string(&single).unwrap();
    assert!(report.contains(photos[0].to_str().unwrap()), "{report}");
    assert!(report.contains("1 image measured"), "{report}");
    // A file that is neither an image nor a split is named as such.
    let odd = dir.join("photo.heic");
    std::fs::write(&odd, [0xffu8, 0xfe, 0x00, 0x9f, 0x80, 0x0a]).unwrap();
    let refused = Command::new(env!("CARGO_BIN_EXE_dermlens"))
        .args(["quality", odd.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("photo.heic is not a split file"), "{stderr}");
    std::fs::remove_dir_all(dir).ok();
}
