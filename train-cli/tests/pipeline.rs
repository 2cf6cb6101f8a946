//! The whole CLI workflow on the committed fixtures: split, train (killed
//! and resumed), calibrate, evaluate (with its plots), export, predict.

// Helpers here may unwrap too: a panic in a test is a failed test (clippy.toml
// allows it only inside #[test] functions).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

mod common;
use common::{dermlens_command as dermlens, path, root, train_args};

fn ok(output: Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "failed: {stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Splits the fixture images into `dir/split.csv`: 7 classes of 4 lesions
/// each, so every part gets every class. Returns the file and the output.
fn split_fixtures(dir: &Path) -> (PathBuf, String) {
    let split = dir.join("split.csv");
    let ham = root().join("tests/fixtures/ham10000");
    let args = ["split", path(&ham), "--out", path(&split), "--val", "0.25", "--test", "0.25"];
    let out = ok(dermlens(&args).output().unwrap());
    (split, out)
}

#[test]
fn split_train_resume_calibrate_export_predict() {
    let dir = std::env::temp_dir().join(format!("dermlens-pipeline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fixtures = root().join("tests/fixtures");
    let (split, out) = split_fixtures(&dir);
    assert!(out.contains("35 images of 28 lesions, 7 classes"), "{out}");

    let run = train_killed_then_resumed(&dir, &split);
    calibrate_and_evaluate(&dir, &run);
    let bundle = export_with_card(&dir, &run);
    explain_and_familiarity(&dir, &fixtures, &bundle);
    robustness_report(&dir, &split, &bundle);

    // Predict a folder plus one unreadable file: rows for the rest, non-zero exit.
    let broken = dir.join("broken.jpg");
    std::fs::write(&broken, b"not a jpeg").unwrap();
    let preds = dir.join("preds.csv");
    let output = dermlens(&[
        "predict",
        path(&fixtures.join("ham10000/images")),
        path(&broken),
        "--model",
        path(&bundle),
        "--out",
        path(&preds),
    ])
    .output()
    .unwrap();
    assert!(!output.status.success(), "an unreadable image makes the exit code non-zero");
    assert!(String::from_utf8_lossy(&output.stderr).contains("broken.jpg"));
    let csv = std::fs::read_to_string(&preds).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "image,akiec,bcc,bkl,df,mel,nv,vasc,prediction,uncertain,not_a_lesion,advice,retake,status"
        )
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 36, "one row per input, the unreadable one too");
    let (broken_rows, rows): (Vec<&str>, Vec<&str>) =
        rows.into_iter().partition(|r| r.contains("broken.jpg"));
    assert_eq!(broken_rows.len(), 1);
    assert!(
        broken_rows[0].ends_with(
            "not an image format this tool reads (it reads JPEG, PNG, WebP, BMP or GIF)\""
        ),
        "{}",
        broken_rows[0]
    );
    for row in rows {
        let fields: Vec<&str> = row.split(',').collect();
        assert_eq!(fields[13], "ok", "{row}");
        assert!(
            ["malignant_likely", "uncertain", "unfamiliar", "reassuring"].contains(&fields[11]),
            "{row}"
        );
        // The fixtures are clean dermoscopy photos: no reason to retake them.
        assert_eq!(fields[12], "", "{row}");
        assert!(fields[0].starts_with("ISIC_") && fields[0].ends_with(".jpg"), "{row}");
        let probs: Vec<f64> = fields[1..8].iter().map(|v| v.parse().unwrap()).collect();
        assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-4, "{row}");
        let best = (0..7).max_by(|&a, &b| probs[a].total_cmp(&probs[b])).unwrap();
        assert_eq!(fields[8], ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"][best]);
        assert!(
            ["true", "false"].contains(&fields[9]) && ["true", "false"].contains(&fields[10]),
            "{row}"
        );
    }
    predict_with_metadata(&dir, &fixtures, &bundle, &csv);
    std::fs::remove_dir_all(dir).ok();
}

/// `predict --metadata`: the prior moves the probabilities of the photos
/// the file names; a file without the columns is refused by name.
fn predict_with_metadata(dir: &Path, fixtures: &Path, bundle: &Path, plain: &str) {
    let photos = fixtures.join("ham10000/images");
    let preds = dir.join("preds-metadata.csv");
    let meta = metadata_csv();
    ok(dermlens(&[
        "predict",
        path(&photos),
        "--model",
        path(bundle),
        "--out",
        path(&preds),
        "--metadata",
        path(&meta),
    ])
    .output()
    .unwrap());
    let told = std::fs::read_to_string(&preds).unwrap();
    let probabilities = |csv: &str| -> Vec<(String, Vec<f64>)> {
        let mut rows: Vec<(String, Vec<f64>)> = csv
            .lines()
            .skip(1)
            .filter(|r| r.ends_with(",ok"))
            .map(|r| {
                let f: Vec<&str> = r.split(',').collect();
                (f[0].to_string(), f[1..8].iter().map(|v| v.parse().unwrap()).collect())
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    };
    let (a, b) = (probabilities(plain), probabilities(&told));
    assert_eq!(a.len(), 35);
    assert_eq!(a.len(), b.len());
    let moved =
        a.iter().zip(&b).filter(|(x, y)| x.1.iter().zip(&y.1).any(|(p, q)| (p - q).abs() > 1e-4));
    assert_eq!(moved.count(), 35, "every fixture photo has metadata, so every row moves");
    let junk = dir.join("junk-metadata.csv");
    std::fs::write(&junk, "name,colour\na,b\n").unwrap();
    let refused = dermlens(&[
        "predict",
        path(&photos),
        "--model",
        path(bundle),
        "--out",
        path(&preds),
        "--metadata",
        path(&junk),
    ])
    .output()
    .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("junk-metadata.csv") && stderr.contains("image_id"), "{stderr}");
}

/// Trains small and fast, killed once the first epoch is checkpointed, then resumed.
fn train_killed_then_resumed(dir: &Path, split: &Path) -> PathBuf {
    // Train small and fast; kill it once the first epoch is checkpointed.
    let run = dir.join("run");
    let sizes = ["--members", "2", "--inputs", "64,48", "--batch", "8", "--head-epochs", "2"];
    let length = ["--epochs", "2", "--epoch-images", "24"];
    let train_args = train_args(split, &run, &[&sizes[..], &length].concat());
    let train_args: Vec<&str> = train_args.iter().map(String::as_str).collect();
    let mut child = dermlens(&train_args).spawn().unwrap();
    let log = run.join("member-0/log.csv");
    let epoch_done = || std::fs::read_to_string(&log).is_ok_and(|l| l.lines().count() > 1);
    let started = Instant::now();
    while !epoch_done() && started.elapsed() < Duration::from_secs(600) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    // A second plain start refuses to overwrite the run...
    let again = dermlens(&train_args).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--resume"));
    // ...and --resume finishes it, every epoch logged exactly once.
    ok(dermlens(&["train", "--out", path(&run), "--resume"]).output().unwrap());
    for member in 0..2 {
        let log = std::fs::read_to_string(run.join(format!("member-{member}/log.csv"))).unwrap();
        let epochs: Vec<String> = log
            .lines()
            .skip(1)
            .map(|l| l.split(',').take(2).collect::<Vec<_>>().join(","))
            .collect();
        assert_eq!(epochs, ["head,1", "head,2", "full,1", "full,2"], "member {member}: {log}");
    }

    run
}

/// Calibration, and the evaluation report with its plots.
fn metadata_csv() -> PathBuf {
    root().join("tests/fixtures/ham10000/HAM10000_metadata.csv")
}

fn calibrate_and_evaluate(dir: &Path, run: &Path) {
    let meta = metadata_csv();
    let out = ok(dermlens(&["calibrate", path(run), "--metadata", path(&meta)]).output().unwrap());
    assert!(out.contains("age, sex and body site: fitted on"), "{out}");
    assert!(out.contains("member 1: temperature"), "{out}");
    assert!(out.contains("familiarity distance <="), "{out}");
    assert!(out.contains("referral: malignant probability >="), "{out}");
    // A report named after the run's own file would replace its recipe.
    let run_json = std::fs::read(run.join("run.json")).unwrap();
    let refused =
        dermlens(&["evaluate", path(run), "--out", path(&run.join("run.md"))]).output().unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("belongs to a dermlens bundle or run folder")
    );
    assert_eq!(std::fs::read(run.join("run.json")).unwrap(), run_json);
    let report = dir.join("evaluation.md");
    let args = ["evaluate", path(run), "--parts", "val,test", "--out", path(&report)];
    let out = ok(dermlens(&[&args[..], &["--metadata", path(&meta)]].concat()).output().unwrap());
    assert!(out.contains("| **ensemble** | test | 7 |"), "{out}");
    assert!(out.contains("| **ensemble + age/sex/site** | test | 7 |"), "{out}");
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.contains("Confusion matrix") && text.contains("| member 1 | val |"), "{text}");
    assert!(text.contains("Marked as not looking like a lesion:"), "{text}");
    assert!(text.contains("Sent to a dermatologist by the page's advice"), "{text}");
    // Plots beside the report, named after it and linked relatively.
    let mut plots: Vec<String> = ["val", "test"]
        .iter()
        .flat_map(|part| {
            ["confusion", "roc", "reliability"].map(|plot| format!("evaluation-{part}-{plot}.svg"))
        })
        .collect();
    plots.push("evaluation-training.svg".into());
    for plot in &plots {
        let svg = std::fs::read_to_string(dir.join(plot)).unwrap_or_else(|e| panic!("{plot}: {e}"));
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{plot} is not an SVG document"
        );
        assert!(text.contains(&format!("]({plot})")), "{plot} is not linked: {text}");
    }
}

/// The exported bundle and its model card.
fn export_with_card(dir: &Path, run: &Path) -> PathBuf {
    let bundle = dir.join("bundle");
    let notes = dir.join("levers.md");
    std::fs::write(
        &notes,
        "| lever | before | after |\n| --- | --- | --- |\n| 224 px | 0.70 | 0.72 |\n",
    )
    .unwrap();
    let args = ["export", path(run), "--out", path(&bundle), "--notes", path(&notes)];
    ok(dermlens(&args).output().unwrap());
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["members"].as_array().unwrap().len(), 2);
    // Whole networks fine-tuned: no block is the same in both members.
    assert_eq!(manifest["shared_blocks"], 0, "{manifest}");
    assert_eq!(
        manifest["members"][1]["input"],
        serde_json::json!([48, 48]),
        "each member has its size"
    );
    assert_eq!(manifest["geometry"], "crop");
    // The model card describes the recipe in words, not the code's names.
    let card = std::fs::read_to_string(bundle.join("MODEL_CARD.md")).unwrap();
    assert!(
        card.contains("views drawn afresh each epoch from the photo's centred square"),
        "{card}"
    );
    assert!(card.contains("in proportion to the square root of their size"), "{card}");
    assert!(!card.contains("Sqrt") && !card.contains("Crop") && !card.contains("(s)"), "{card}");
    assert!(
        manifest["thresholds"]["max_familiarity_distance"].as_f64().is_some_and(|d| d > 0.0),
        "{manifest}"
    );
    // The age, sex and body-site prior travels in the bundle.
    let sites = manifest["metadata"]["sites"].as_array().map_or(0, Vec::len);
    assert!(sites >= 2, "{manifest}");
    assert!(card.contains("Age, sex and body site, when a person gives them"), "{card}");
    assert!(card.contains("## How the recipe was chosen\n\n| lever | before | after |"), "{card}");
    assert!(card.contains("| 224 px | 0.70 | 0.72 |\n\n## Evaluation"), "{card}");

    bundle
}

/// Grad-CAM's picture, and the not-a-lesion check's report.
fn explain_and_familiarity(dir: &Path, fixtures: &Path, bundle: &Path) {
    // Explain: the photo with the heat map and a panel beside it.
    let explained = dir.join("explain.png");
    let photo = fixtures.join("ham10000/images/ISIC_0024370.jpg");
    let out = ok(dermlens(&[
        "explain",
        path(&photo),
        "--model",
        path(bundle),
        "--class",
        "mel",
        "--out",
        path(&explained),
    ])
    .output()
    .unwrap());
    assert!(out.contains("Grad-CAM of Melanoma"), "{out}");
    let picture = image::open(&explained).unwrap().into_rgb8();
    assert!(picture.height() >= 150, "the whole 200x150 photo is shown");
    assert!(picture.width() > 200, "a panel sits beside the 200 px photo");
    let wrong = dermlens(&["explain", path(&photo), "--model", path(bundle), "--class", "xyz"])
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("'xyz' is not a class"));

    // The not-a-lesion check, measured on lesions, a photo and the patterns.
    let ood = dir.join("familiarity.md");
    let coffee = fixtures.join("lite0/inputs/skimage_coffee_u8_224.npy");
    let out = ok(dermlens(&[
        "familiarity",
        path(&fixtures.join("ham10000/images")),
        "--model",
        path(bundle),
        "--unrelated",
        path(&coffee),
        "--out",
        path(&ood),
    ])
    .output()
    .unwrap());
    for row in [
        "| lesion photos:",
        "| unrelated photos and their corner crops |",
        "| synthetic patterns |",
        "| skimage_coffee_u8_224 (top-left crop) |",
        "familiarity distance exceeds",
    ] {
        assert!(out.contains(row), "{row} missing from {out}");
    }
    assert!(std::fs::read_to_string(&ood).unwrap().contains("| synthetic patterns |"));
}

/// The robustness benchmark on the split's test part.
fn robustness_report(dir: &Path, split: &Path, bundle: &Path) {
    // The robustness benchmark on the split's test part: every condition a
    // row, the clean photos first, with a CSV, a JSON copy, every photo's
    // outcome and the plot beside the report.
    let report = dir.join("robust.md");
    let out = ok(dermlens(&[
        "robustness",
        path(split),
        "--part",
        "test",
        "--model",
        path(bundle),
        "--kinds",
        "warm-light,dim,distance",
        "--severities",
        "moderate,severe",
        "--out",
        path(&report),
    ])
    .output()
    .unwrap());
    for row in
        ["| none | - |", "| warm-light | moderate | light of 4033 K |", "| distance | severe |"]
    {
        assert!(out.contains(row), "{row} missing from {out}");
    }
    let markdown = std::fs::read_to_string(&report).unwrap();
    assert!(markdown.contains("![Balanced accuracy against severity](robust-accuracy.svg)"));
    let svg = std::fs::read_to_string(dir.join("robust-accuracy.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("warm-light"), "{svg}");
    let table = std::fs::read_to_string(dir.join("robust.csv")).unwrap();
    assert_eq!(table.lines().count(), 1 + 7, "a header and 7 conditions: {table}");
    let photos = std::fs::read_to_string(dir.join("robust-photos.csv")).unwrap();
    let test_photos =
        std::fs::read_to_string(split).unwrap().lines().filter(|l| l.ends_with(",test")).count();
    assert_eq!(photos.lines().count(), 1 + 7 * test_photos, "one row per photo and condition");
    // A wrong name is refused with the list of names.
    let wrong = dermlens(&["robustness", path(split), "--model", path(bundle), "--kinds", "fog"])
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("unknown degradation 'fog'"));
}

/// The same commands on wgpu (lavapipe on a machine without a GPU): a small
/// train, calibrate, export and predict with `--device wgpu`.
#[test]
fn train_and_predict_on_wgpu() {
    use burn::tensor::{Device, DeviceType};
    if Device::enumerate(DeviceType::Wgpu).into_iter().next().is_none() {
        println!("skipped: no wgpu adapter on this machine");
        return;
    }
    let dir = std::env::temp_dir().join(format!("dermlens-pipeline-wgpu-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fixtures = root().join("tests/fixtures");
    let (split, _) = split_fixtures(&dir);
    let run = dir.join("run");
    let backbone = fixtures.join("lite0/imagenet.bpk");
    let out = ok(dermlens(&[
        "--device",
        "wgpu",
        "train",
        "--split",
        path(&split),
        "--backbone",
        path(&backbone),
        "--out",
        path(&run),
        "--members",
        "1",
        "--inputs",
        "64",
        "--batch",
        "8",
        "--head-epochs",
        "1",
        "--epochs",
        "1",
        "--epoch-images",
        "16",
    ])
    .output()
    .unwrap());
    assert!(out.contains("on wgpu"), "{out}");
    let recorded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert!(recorded["device"].as_str().is_some_and(|d| d.starts_with("wgpu")), "{recorded}");
    assert_eq!(recorded["burn_version"], "0.22.1");
    // Without the other views: shader compilation on a software adapter is slow enough.
    ok(dermlens(&["--device", "wgpu", "calibrate", path(&run), "--tta", "none"]).output().unwrap());
    let bundle = dir.join("bundle");
    ok(dermlens(&["--device", "wgpu", "export", path(&run), "--out", path(&bundle)])
        .output()
        .unwrap());
    let preds = dir.join("preds.csv");
    let photos =
        ["ISIC_0024370.jpg", "ISIC_0024418.jpg"].map(|f| fixtures.join("ham10000/images").join(f));
    ok(dermlens(&[
        "--device",
        "wgpu",
        "predict",
        path(&photos[0]),
        path(&photos[1]),
        "--model",
        path(&bundle),
        "--out",
        path(&preds),
    ])
    .output()
    .unwrap());
    assert_eq!(std::fs::read_to_string(&preds).unwrap().lines().count(), 3);
    // A device that is not there is a clear error, not a panic.
    let missing =
        dermlens(&["--device", "wgpu:99", "predict", path(&photos[0]), "--model", path(&bundle)])
            .output()
            .unwrap();
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("wgpu:99"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    std::fs::remove_dir_all(dir).ok();
}

/// Training killed (SIGKILL) in the middle and resumed ends with the very
/// weights of a run never interrupted.
#[test]
fn a_killed_training_resumes_exactly() {
    let dir = std::env::temp_dir().join(format!("dermlens-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (split, _) = split_fixtures(&dir);
    let cache = dir.join("cache");
    let args = |out: &Path| -> Vec<String> {
        let sizes = ["--members", "1", "--inputs", "48", "--batch", "6", "--head-epochs", "2"];
        let length = ["--epochs", "4", "--epoch-images", "18", "--cache-dir", path(&cache)];
        train_args(&split, out, &[&sizes[..], &length].concat())
    };
    let whole = dir.join("whole");
    // burn panics on an unknown BURN_DEVICE when its default device is
    // asked for: a CPU run must never ask (it would start a GPU driver; it
    // did each epoch when the optimizer's state was reloaded). A resumed run
    // still does, once: burn loads an optimizer's state there.
    let uninterrupted = Command::new(env!("CARGO_BIN_EXE_dermlens"))
        .args(args(&whole))
        .env("BURN_DEVICE", "none")
        .output()
        .unwrap();
    ok(uninterrupted);

    let killed = dir.join("killed");
    let mut child =
        Command::new(env!("CARGO_BIN_EXE_dermlens")).args(args(&killed)).spawn().unwrap();
    let log = killed.join("member-0/log.csv");
    let started = Instant::now();
    // Killed once three epochs are logged: after the head stage, inside the whole-network one.
    while std::fs::read_to_string(&log).map_or(0, |l| l.lines().count()) < 4
        && started.elapsed() < Duration::from_secs(600)
    {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(!killed.join("member-0/weights.bpk").exists(), "the kill came before the end");
    ok(dermlens(&["train", "--out", path(&killed), "--resume"]).output().unwrap());
    let weights = |run: &Path| std::fs::read(run.join("member-0/weights.bpk")).unwrap();
    assert!(weights(&whole) == weights(&killed), "the resumed run ends with other weights");
    let epochs =
        |run: &Path| std::fs::read_to_string(run.join("member-0/log.csv")).unwrap().lines().count();
    assert_eq!(epochs(&killed), 1 + 6, "every epoch logged once");
    std::fs::remove_dir_all(dir).ok();
}

/// Members on different backbones: a Lite0 and a Lite1 member trained in one
/// run, calibrated, exported into one bundle that names each member's
/// backbone, and predicting. (The Lite1 "ImageNet" weights here are random:
/// the real file is not a fixture; its import is checked in golden.rs.)
#[test]
fn a_bundle_mixes_backbones() {
    use burn::tensor::Device;
    use model::classifier::Classifier;
    use model::efficientnet::Variant;
    let dir = common::fresh_dir("mixed-backbones");
    let fixtures = root().join("tests/fixtures");
    let (split, _) = split_fixtures(&dir);
    let lite1 = dir.join("lite1-random.bpk");
    let random =
        model::burnpack::with_stable_ids(Classifier::new(Variant::Lite1, 1000, &Device::flex()));
    std::fs::write(&lite1, model::burnpack::to_bytes(&random).unwrap()).unwrap();
    let lite0 = fixtures.join("lite0/imagenet.bpk");
    let backbones = format!("{},{}", path(&lite0), path(&lite1));
    let run = dir.join("run");
    let args = [
        "train",
        "--split",
        path(&split),
        "--backbone",
        &backbones,
        "--out",
        path(&run),
        "--members",
        "2",
        "--inputs",
        "48",
        "--batch",
        "8",
        "--head-epochs",
        "1",
        "--epochs",
        "1",
        "--epoch-images",
        "16",
    ];
    ok(dermlens(&args).output().unwrap());
    let recorded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(recorded["variants"], serde_json::json!(["lite0", "lite1"]), "{recorded}");
    distil_from(&dir, &split, &run);
    ok(dermlens(&["calibrate", path(&run), "--tta", "none"]).output().unwrap());
    let bundle = dir.join("bundle");
    ok(dermlens(&["export", path(&run), "--out", path(&bundle)]).output().unwrap());
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("manifest.json")).unwrap())
            .unwrap();
    let named: Vec<&str> = manifest["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["backbone"].as_str().unwrap_or("lite0"))
        .collect();
    assert_eq!(named, ["lite0", "lite1"], "Lite0 is the default, not written");
    assert_eq!(manifest["shared_blocks"], 0, "different backbones share no block");
    let photo = fixtures.join("ham10000/images/ISIC_0024370.jpg");
    let preds = dir.join("preds.csv");
    ok(dermlens(&["predict", path(&photo), "--model", path(&bundle), "--out", path(&preds)])
        .output()
        .unwrap());
    let csv = std::fs::read_to_string(&preds).unwrap();
    assert!(csv.lines().nth(1).is_some_and(|row| row.ends_with(",ok")), "{csv}");
    // Calibrated without metadata: --metadata is refused, not ignored.
    let meta = metadata_csv();
    let refused = dermlens(&[
        "predict",
        path(&photo),
        "--model",
        path(&bundle),
        "--out",
        path(&preds),
        "--metadata",
        path(&meta),
    ])
    .output()
    .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("no age, sex and body-site prior"), "{stderr}");
    // A backbone file of no variant is refused by name before anything trains.
    let junk = dir.join("junk.bpk");
    std::fs::write(&junk, b"not weights").unwrap();
    let refused = dermlens(&[
        "train",
        "--split",
        path(&split),
        "--backbone",
        path(&junk),
        "--out",
        path(&dir.join("run-junk")),
    ])
    .output()
    .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("junk.bpk") && stderr.contains("import-backbone"), "{stderr}");
    std::fs::remove_dir_all(dir).ok();
}

/// A student trained with `teacher` (a finished run on the same split)
/// against the same recipe without: the teacher's term changes the loss;
/// a teacher of another split, or an unfinished one, is refused.
fn distil_from(dir: &Path, split: &Path, teacher: &Path) {
    let student = |name: &str, extra: &[&str]| {
        let out = dir.join(name);
        let small = ["--members", "1", "--inputs", "48", "--batch", "8", "--head-epochs", "1"];
        let length = ["--epochs", "1", "--epoch-images", "16"];
        let args = train_args(split, &out, &[&small[..], &length, extra].concat());
        let output = Command::new(env!("CARGO_BIN_EXE_dermlens")).args(&args).output().unwrap();
        (out, output)
    };
    let full_loss = |run: &Path| {
        let log = std::fs::read_to_string(run.join("member-0/log.csv")).unwrap();
        let row = log.lines().find(|l| l.starts_with("full,")).unwrap().to_string();
        row.split(',').nth(3).unwrap().parse::<f64>().unwrap()
    };
    let (alone, output) = student("alone", &[]);
    ok(output);
    let (taught, output) =
        student("taught", &["--teacher", path(teacher), "--distill-weight", "0.8"]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    ok(output);
    assert!(stderr.contains("teacher: 2 members"), "{stderr}");
    let (a, t) = (full_loss(&alone), full_loss(&taught));
    assert!((a - t).abs() > 1e-4, "the teacher changed nothing: {a} vs {t}");
    let recorded = std::fs::read_to_string(taught.join("run.json")).unwrap();
    assert!(recorded.contains("\"distill_weight\": 0.8"), "{recorded}");
    // The same photos split otherwise: the teacher may have seen this run's test part.
    let other = dir.join("other-split.csv");
    std::fs::write(&other, std::fs::read_to_string(split).unwrap() + "\n").unwrap();
    let args = train_args(&other, &dir.join("taught-other"), &["--teacher", path(teacher)]);
    let refused = Command::new(env!("CARGO_BIN_EXE_dermlens")).args(&args).output().unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("another split"), "{stderr}");
    let (_, refused) = student("taught-by-nothing", &["--teacher", path(&dir.join("no-such-run"))]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("no-such-run") && stderr.contains("not a run folder"), "{stderr}");
}
