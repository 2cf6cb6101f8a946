//! Hostile and strange inputs, as a careful user or an attacker would give
//! them: a corpus of broken and unusual images made here (plus a CMYK JPEG
//! fixture), folders with a link loop and repeated names, and bundles edited
//! after export. Every case must end in a correct result or a clear error
//! naming the input: never a panic, never a silent wrong answer.

// Helpers here may unwrap too: a panic in a test is a failed test (clippy.toml
// allows it only inside #[test] functions).
#![allow(clippy::unwrap_used)]

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{dermlens_command, fresh_dir, path, root, train_args};
use image::{DynamicImage, ImageBuffer, ImageFormat, Luma, LumaA, Rgb, RgbImage};

fn dermlens(args: &[&str]) -> Output {
    dermlens_command(args).output().unwrap()
}

fn no_panic(output: &Output) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked") && output.status.code() != Some(101), "a panic: {stderr}");
}

fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).unwrap();
    bytes.into_inner()
}

fn photo(w: u32, h: u32) -> RgbImage {
    ImageBuffer::from_fn(w, h, |x, y| Rgb([(x * 7 % 256) as u8, (y * 5 % 256) as u8, 120]))
}

/// A JPEG with an EXIF block holding `orientation`.
fn jpeg_with_orientation(image: &RgbImage, orientation: u16) -> Vec<u8> {
    let jpeg = encode(DynamicImage::ImageRgb8(image.clone()), ImageFormat::Jpeg);
    let mut tiff = b"MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01".to_vec();
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// The corpus: (file name, bytes, what must happen: `Ok` or an error containing the text).
fn corpus() -> Vec<(String, Vec<u8>, Result<(), &'static str>)> {
    let mut out: Vec<(String, Vec<u8>, Result<(), &'static str>)> = Vec::new();
    let jpeg = encode(DynamicImage::ImageRgb8(photo(64, 48)), ImageFormat::Jpeg);
    let png = encode(DynamicImage::ImageRgb8(photo(64, 48)), ImageFormat::Png);
    out.push(("zero.jpg".into(), Vec::new(), Err("the file is empty")));
    out.push(("half.jpg".into(), jpeg[..jpeg.len() / 2].to_vec(), Err("truncated JPEG")));
    out.push(("half.png".into(), png[..png.len() / 2].to_vec(), Err("truncated")));
    // Bombs: headers declaring 100000 pixels a side, nothing behind them.
    let mut png_bomb = encode(DynamicImage::ImageRgb8(photo(1, 1)), ImageFormat::Png);
    png_bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    png_bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32(&png_bomb[12..29]);
    png_bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    out.push(("bomb.png".into(), png_bomb, Err("100000x100000")));
    let mut gif_bomb = encode(DynamicImage::ImageRgb8(photo(2, 2)), ImageFormat::Gif);
    gif_bomb[6..8].copy_from_slice(&60_000u16.to_le_bytes());
    gif_bomb[8..10].copy_from_slice(&60_000u16.to_le_bytes());
    out.push(("bomb.gif".into(), gif_bomb, Err("60000x60000")));
    let mut jpeg_bomb = jpeg.clone();
    if let Some(sof) = jpeg_bomb.windows(2).position(|w| w == [0xFF, 0xC0]) {
        jpeg_bomb[sof + 5..sof + 7].copy_from_slice(&60_000u16.to_be_bytes());
        jpeg_bomb[sof + 7..sof + 9].copy_from_slice(&60_000u16.to_be_bytes());
    }
    out.push(("bomb.jpg".into(), jpeg_bomb, Err("60000x60000")));
    out.push((
        "tiny.png".into(),
        encode(DynamicImage::ImageRgb8(photo(1, 1)), ImageFormat::Png),
        Ok(()),
    ));
    out.push((
        "wide.png".into(),
        encode(DynamicImage::ImageRgb8(photo(20_000, 1)), ImageFormat::Png),
        Ok(()),
    ));
    let deep = ImageBuffer::from_fn(40, 30, |x, _| Rgb([(x * 1600) as u16, 30_000u16, 65_535u16]));
    out.push(("deep.png".into(), encode(DynamicImage::ImageRgb16(deep), ImageFormat::Png), Ok(())));
    let grey_alpha = ImageBuffer::from_fn(40, 30, |x, _| LumaA([(x * 6) as u8, 128u8]));
    out.push((
        "grey-alpha.png".into(),
        encode(DynamicImage::ImageLumaA8(grey_alpha), ImageFormat::Png),
        Ok(()),
    ));
    let grey = ImageBuffer::from_fn(40, 30, |x, _| Luma([(x * 6) as u8]));
    out.push(("grey.png".into(), encode(DynamicImage::ImageLuma8(grey), ImageFormat::Png), Ok(())));
    out.push((
        "cmyk.jpg".into(),
        std::fs::read(root().join("tests/fixtures/corpus/cmyk.jpg")).unwrap(),
        Ok(()),
    ));
    // Two frames: the first is judged.
    let mut animated = Vec::new();
    {
        let mut encoder = image::codecs::gif::GifEncoder::new(&mut animated);
        for shade in [40u8, 200] {
            let frame = image::Frame::new(image::RgbaImage::from_pixel(
                20,
                20,
                image::Rgba([shade, 90, 90, 255]),
            ));
            encoder.encode_frame(frame).unwrap();
        }
    }
    out.push(("animated.gif".into(), animated, Ok(())));
    for orientation in 1..=8u16 {
        out.push((
            format!("exif-{orientation}.jpg"),
            jpeg_with_orientation(&photo(40, 30), orientation),
            Ok(()),
        ));
    }
    out.push((
        "text.jpg".into(),
        b"this is a note, not a photo".to_vec(),
        Err("not an image format"),
    ));
    out.push((
        "phone.jpg".into(),
        b"\0\0\0\x18ftypheic\0\0\0\0mif1heic\0\0\0\0".to_vec(),
        Err("HEIC"),
    ));
    out.push(("scan.jpg".into(), b"II*\0\x08\0\0\0\0\0\0\0\0\0\0\0".to_vec(), Err("TIFF")));
    out
}

/// A small trained bundle (once per test run).
fn bundle(dir: &Path) -> PathBuf {
    let ham = root().join("tests/fixtures/ham10000");
    let (split, run, out) = (dir.join("split.csv"), dir.join("run"), dir.join("bundle"));
    let small = ["--members", "2", "--inputs", "48", "--batch", "8", "--head-epochs", "1"];
    let train = train_args(
        &split,
        &run,
        &[&small[..], &["--epochs", "1", "--epoch-images", "16"]].concat(),
    );
    let steps: [Vec<&str>; 4] = [
        vec!["split", path(&ham), "--out", path(&split), "--val", "0.25", "--test", "0.25"],
        train.iter().map(String::as_str).collect(),
        vec!["calibrate", path(&run), "--tta", "none"],
        vec!["export", path(&run), "--out", path(&out)],
    ];
    for step in steps {
        let output = dermlens(&step);
        assert!(output.status.success(), "{step:?}: {}", String::from_utf8_lossy(&output.stderr));
    }
    out
}

#[test]
fn hostile_photos_folders_and_bundles() {
    let dir = std::env::temp_dir().join(format!("dermlens-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = bundle(&dir);
    export_replaces_only_a_bundle(&dir, &model);

    // The corpus through predict, each file on its own line of the CSV.
    let photos = dir.join("photos");
    std::fs::create_dir_all(photos.join("a")).unwrap();
    std::fs::create_dir_all(photos.join("b")).unwrap();
    let cases = corpus();
    for (name, bytes, _) in &cases {
        std::fs::write(photos.join("a").join(name), bytes).unwrap();
    }
    // Same name in another folder, and a link back up (a loop) not to follow.
    std::fs::write(photos.join("b/tiny.png"), &cases.iter().find(|c| c.0 == "tiny.png").unwrap().1)
        .unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&photos, photos.join("b/loop")).unwrap();
    let csv = dir.join("predictions.csv");
    let output =
        dermlens(&["predict", path(&photos), "--model", path(&model), "--out", path(&csv)]);
    no_panic(&output);
    assert!(!output.status.success(), "inputs were skipped: the exit code says so");
    let text = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    for (name, _, expected) in &cases {
        let row = rows
            .iter()
            .find(|r| r.starts_with(&format!("a/{name},")))
            .unwrap_or_else(|| panic!("no row for {name}"));
        match expected {
            Ok(()) => assert!(row.ends_with(",ok"), "{name}: {row}"),
            Err(text) => assert!(row.contains(text), "{name} should say '{text}': {row}"),
        }
    }
    assert!(
        rows.iter().any(|r| r.starts_with("b/tiny.png,") && r.ends_with(",ok")),
        "the second tiny.png has its own row"
    );
    #[cfg(unix)]
    assert!(rows.iter().any(|r| r.contains("loop") && r.contains("not followed")), "{text}");
    assert_eq!(rows.len(), cases.len() + 2, "one row per input: {text}");

    explain_keeps_pictures_bounded(&dir, &photos, &model);

    // A wrong --out is found before any work; a missing input is named.
    let output =
        dermlens(&["predict", path(&photos), "--model", path(&model), "--out", path(&photos)]);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("is a folder"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = dermlens(&[
        "predict",
        path(&dir.join("nowhere.jpg")),
        "--model",
        path(&model),
        "--out",
        path(&csv),
    ]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("nowhere.jpg does not exist"));

    // An --out that is an input or part of the bundle is refused before any
    // work, and the file is left as it was.
    let photo = photos.join("a/tiny.png");
    let before = std::fs::read(&photo).unwrap();
    let manifest = model.join("manifest.json");
    let manifest_before = std::fs::read(&manifest).unwrap();
    for (command, out, expected) in [
        ("predict", &photo, "is one of the inputs"),
        ("explain", &photo, "is one of the inputs"),
        ("predict", &manifest, "belongs to a dermlens bundle"),
    ] {
        let output =
            dermlens(&[command, path(&photo), "--model", path(&model), "--out", path(out)]);
        no_panic(&output);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && stderr.contains(expected), "{command}: {stderr}");
    }
    assert_eq!(std::fs::read(&photo).unwrap(), before, "the photo is untouched");
    assert_eq!(std::fs::read(&manifest).unwrap(), manifest_before, "the bundle is untouched");

    // A file name a spreadsheet would run as a formula is written as text.
    let formula = dir.join("formula");
    std::fs::create_dir_all(&formula).unwrap();
    std::fs::copy(&photo, formula.join("=1+1.png")).unwrap();
    let output =
        dermlens(&["predict", path(&formula), "--model", path(&model), "--out", path(&csv)]);
    no_panic(&output);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.lines().nth(1).is_some_and(|row| row.starts_with("'=1+1.png,")), "{text}");

    edited_bundles(&dir, &model, &photos.join("a/tiny.png"));
    std::fs::remove_dir_all(dir).ok();
}

/// `explain` on turned, wide, tiny and oversized photos: a picture of bounded
/// size, or the oversized one named.
fn explain_keeps_pictures_bounded(dir: &Path, photos: &Path, model: &Path) {
    let explain = dir.join("explain.png");
    for case in ["a/exif-6.jpg", "a/wide.png", "a/tiny.png"] {
        let output = dermlens(&[
            "explain",
            path(&photos.join(case)),
            "--model",
            path(model),
            "--out",
            path(&explain),
        ]);
        no_panic(&output);
        assert!(output.status.success(), "{case}: {}", String::from_utf8_lossy(&output.stderr));
        let picture = image::open(&explain).unwrap();
        assert!(
            picture.width() <= 4000 && picture.height() <= 4000,
            "{case}: {}x{}",
            picture.width(),
            picture.height()
        );
    }
    let output = dermlens(&[
        "explain",
        path(&photos.join("a/bomb.png")),
        "--model",
        path(model),
        "--out",
        path(&explain),
    ]);
    no_panic(&output);
    assert!(String::from_utf8_lossy(&output.stderr).contains("100000x100000"));
}

/// `export --out` into a folder of the user's is refused with every file
/// left as it was; over an earlier bundle it is fine, and keeps what else
/// the folder holds.
fn export_replaces_only_a_bundle(dir: &Path, model: &Path) {
    let run = dir.join("run");
    let mine = dir.join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(mine.join("member-0-notes.bin"), b"mine").unwrap();
    std::fs::write(mine.join("notes.txt"), b"mine").unwrap();
    let output = dermlens(&["export", path(&run), "--out", path(&mine)]);
    no_panic(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("no dermlens bundle"), "{stderr}");
    assert_eq!(std::fs::read(mine.join("member-0-notes.bin")).unwrap(), b"mine");
    assert_eq!(std::fs::read_dir(&mine).unwrap().count(), 2, "nothing added or removed");

    let notes = model.join("NOTES.txt");
    std::fs::write(&notes, b"mine").unwrap();
    let output = dermlens(&["export", path(&run), "--out", path(model)]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(std::fs::read(&notes).unwrap(), b"mine", "the user's file stays");
    std::fs::remove_file(notes).unwrap();
}

/// Bundles changed after export are refused with the reason, never used.
fn edited_bundles(dir: &Path, model: &Path, photo: &Path) {
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("manifest.json")).unwrap())
            .unwrap();
    let copy = |name: &str, edit: &dyn Fn(&mut serde_json::Value, &Path)| -> PathBuf {
        let target = dir.join(name);
        std::fs::create_dir_all(&target).unwrap();
        for entry in std::fs::read_dir(model).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), target.join(entry.file_name())).unwrap();
        }
        let mut m = manifest.clone();
        edit(&mut m, &target);
        std::fs::write(target.join("manifest.json"), serde_json::to_string_pretty(&m).unwrap())
            .unwrap();
        target
    };
    let member_file =
        |m: &serde_json::Value| m["members"][0]["weights"]["file"].as_str().unwrap().to_string();
    let cases: Vec<(&str, PathBuf, &str)> = vec![
        (
            "swapped classes",
            copy("swapped", &|m, _| m["classes"].as_array_mut().unwrap().swap(4, 5)),
            "does not belong",
        ),
        (
            "more shared blocks",
            copy("shared", &|m, _| m["shared_blocks"] = 9.into()),
            "does not belong",
        ),
        (
            "another temperature",
            copy("temperature", &|m, _| m["members"][0]["temperature"] = 0.5.into()),
            "does not belong",
        ),
        (
            "a threshold out of range",
            copy("threshold", &|m, _| m["thresholds"]["min_confidence"] = 3.0.into()),
            "out of range",
        ),
        (
            "a referral threshold out of range",
            copy("referral", &|m, _| m["thresholds"]["referral"] = 3.0.into()),
            "out of range",
        ),
        (
            "a class code twice",
            copy("twice", &|m, _| m["classes"][1]["code"] = m["classes"][0]["code"].clone()),
            "two classes have the same code",
        ),
        (
            "a negative temperature",
            copy("negative", &|m, _| m["members"][0]["temperature"] = (-1.0).into()),
            "out of range",
        ),
        ("an older format", copy("old", &|m, _| m["version"] = 2.into()), "version 2"),
        (
            "a path as file name",
            copy("path", &|m, _| m["members"][0]["weights"]["file"] = "../x.bin".into()),
            "plain file name",
        ),
        (
            "a wrong size",
            copy("size", &|m, _| m["members"][0]["weights"]["bytes"] = 12.into()),
            "larger than",
        ),
        (
            "a flipped byte",
            copy("flipped", &|m, at| {
                let file = at.join(member_file(m));
                let mut bytes = std::fs::read(&file).unwrap();
                let middle = bytes.len() / 2;
                bytes[middle] ^= 0x10;
                std::fs::write(file, bytes).unwrap();
            }),
            "checksum",
        ),
        (
            "a truncated file",
            copy("truncated", &|m, at| {
                let file = at.join(member_file(m));
                let bytes = std::fs::read(&file).unwrap();
                std::fs::write(file, &bytes[..bytes.len() / 2]).unwrap();
            }),
            "bytes",
        ),
    ];
    let csv = dir.join("edited.csv");
    for (what, bundle, expected) in cases {
        let output =
            dermlens(&["predict", path(photo), "--model", path(&bundle), "--out", path(&csv)]);
        no_panic(&output);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{what}: accepted");
        assert!(stderr.contains(expected), "{what} should say '{expected}': {stderr}");
    }
}

/// `split` decodes every image: a truncated one is named and refused, or
/// listed and left out with `--skip-bad`, never split into a part.
#[test]
fn split_refuses_a_truncated_image() {
    let dir = std::env::temp_dir().join(format!("dermlens-split-{}", std::process::id()));
    let ham = dir.join("ham10000");
    std::fs::create_dir_all(ham.join("images")).unwrap();
    let fixtures = root().join("tests/fixtures/ham10000");
    std::fs::copy(fixtures.join("HAM10000_metadata.csv"), ham.join("HAM10000_metadata.csv"))
        .unwrap();
    let mut victim = None;
    for entry in std::fs::read_dir(fixtures.join("images")).unwrap() {
        let from = entry.unwrap().path();
        let to = ham.join("images").join(from.file_name().unwrap());
        let bytes = std::fs::read(&from).unwrap();
        if victim.is_none() {
            std::fs::write(&to, &bytes[..bytes.len() / 2]).unwrap();
            victim = Some(from.file_stem().unwrap().to_string_lossy().into_owned());
        } else {
            std::fs::write(&to, bytes).unwrap();
        }
    }
    let victim = victim.unwrap();
    let out = dir.join("split.csv");

    let output = dermlens(&["split", path(&ham), "--out", path(&out)]);
    no_panic(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains(&victim), "{stderr}");
    assert!(!out.exists(), "no split is written from a bad dataset");

    let output = dermlens(&["split", path(&ham), "--out", path(&out), "--skip-bad"]);
    no_panic(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains(&victim) && stderr.contains("skipping 1 bad"), "{stderr}");
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(!written.contains(&victim), "the truncated image stays out of the split");
    std::fs::remove_dir_all(dir).ok();
}

/// The bundle the site ships loads and answers: a change of the manifest's
/// format must keep the checksummed binding of bundles made before it.
#[test]
fn the_shipped_bundle_still_loads() {
    let root = root();
    let dir = fresh_dir("shipped");
    let csv = dir.join("shipped.csv");
    let photo = root.join("tests/fixtures/ham10000/images/ISIC_0024370.jpg");
    let model = root.join("public/model");
    let output = dermlens(&["predict", path(&photo), "--model", path(&model), "--out", path(&csv)]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(std::fs::read_to_string(&csv).unwrap().lines().nth(1).unwrap().ends_with(",ok"));
    std::fs::remove_dir_all(dir).ok();
}

/// Runs `command` with its output in files under `dir`, failing the test
/// (not hanging it) if it takes longer than `seconds`.
fn finished_within(mut command: std::process::Command, dir: &Path, seconds: u64) -> Output {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (out, err) = (dir.join(format!("stdout-{n}")), dir.join(format!("stderr-{n}")));
    command.stdout(std::fs::File::create(&out).unwrap());
    command.stderr(std::fs::File::create(&err).unwrap());
    let mut child = command.spawn().unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed().as_secs() > seconds {
            child.kill().ok();
            panic!("still running after {seconds} s: {command:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    Output { status, stdout: std::fs::read(out).unwrap(), stderr: std::fs::read(err).unwrap() }
}

fn shipped_model() -> PathBuf {
    root().join("public/model")
}

fn fixture_photo() -> PathBuf {
    root().join("tests/fixtures/ham10000/images/ISIC_0024370.jpg")
}

/// A FIFO blocks whoever opens it until someone writes; a device never
/// ends. Given as a photo, found in a folder, or as a bundle's manifest,
/// each is refused at once with its name, and is a row of the CSV.
#[cfg(unix)]
#[test]
fn fifos_and_devices_are_never_opened() {
    let dir = fresh_dir("fifo");
    let photos = dir.join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    std::fs::copy(fixture_photo(), photos.join("real.jpg")).unwrap();
    let fifo = photos.join("pipe.jpg");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    std::os::unix::fs::symlink("/dev/zero", photos.join("zero.png")).unwrap();
    let csv = dir.join("out.csv");
    let model = shipped_model();
    for input in [&photos, &fifo] {
        let output = finished_within(
            dermlens_command(&[
                "predict",
                path(input),
                "--model",
                path(&model),
                "--out",
                path(&csv),
            ]),
            &dir,
            120,
        );
        no_panic(&output);
        assert!(!output.status.success(), "a skipped input shows in the exit code");
        let text = std::fs::read_to_string(&csv).unwrap();
        let pipe = text.lines().find(|r| r.contains("pipe.jpg")).unwrap_or_default();
        assert!(pipe.contains("not a regular file"), "{text}");
        if input == &photos {
            let zero = text.lines().find(|r| r.contains("zero.png")).unwrap_or_default();
            assert!(zero.contains("not a regular file"), "{text}");
            assert!(text.lines().any(|r| r.starts_with("real.jpg,") && r.ends_with(",ok")));
        }
    }
    // A bundle whose manifest is a FIFO.
    let bundle = dir.join("bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    for entry in std::fs::read_dir(&model).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "manifest.json" {
            std::fs::copy(entry.path(), bundle.join(entry.file_name())).unwrap();
        }
    }
    let manifest = bundle.join("manifest.json");
    assert!(std::process::Command::new("mkfifo").arg(&manifest).status().unwrap().success());
    let photo = fixture_photo();
    let output = finished_within(
        dermlens_command(&["predict", path(&photo), "--model", path(&bundle), "--out", path(&csv)]),
        &dir,
        120,
    );
    no_panic(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("not a regular file"), "{stderr}");
    std::fs::remove_dir_all(dir).ok();
}

/// A command stopped by SIGTERM (or Ctrl-C) leaves no half-written file:
/// the predictions CSV being written when it stops is removed.
#[cfg(unix)]
#[test]
fn a_stopped_command_leaves_no_partial_files() {
    let dir = fresh_dir("sigterm");
    let photos = dir.join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    for i in 0..400 {
        std::fs::copy(fixture_photo(), photos.join(format!("{i:03}.jpg"))).unwrap();
    }
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let csv = out.join("predictions.csv");
    let mut child = dermlens_command(&[
        "predict",
        path(&photos),
        "--model",
        path(&shipped_model()),
        "--out",
        path(&csv),
    ])
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let partial = || std::fs::read_dir(&out).unwrap().count() > 0;
    let started = std::time::Instant::now();
    while !partial() && started.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(partial(), "predict started writing");
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let status = child.wait().unwrap();
    assert!(!status.success(), "stopped, not finished: {status:?}");
    let left: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    std::fs::remove_dir_all(dir).ok();
}

/// A tiny split of the fixtures, for the run-folder cases.
fn fixture_split(dir: &Path) -> PathBuf {
    let split = dir.join("split.csv");
    let ham = root().join("tests/fixtures/ham10000");
    let output =
        dermlens(&["split", path(&ham), "--out", path(&split), "--val", "0.25", "--test", "0.25"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    split
}

const TINY: [&str; 10] = [
    "--members",
    "1",
    "--inputs",
    "32",
    "--batch",
    "8",
    "--head-epochs",
    "1",
    "--epoch-images",
    "8",
];

fn train(split: &Path, out: &Path, more: &[&str]) -> std::process::Command {
    let args = train_args(split, out, &[&TINY[..], &["--epochs", "1"], more].concat());
    dermlens_command(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// A run folder is one run's: a fresh `train` refuses a folder holding
/// anything (another run's finished member is never reused), `--resume`
/// refuses options that differ from the run's recipe, naming them, and two
/// runs started at once into one folder cannot both proceed.
#[test]
fn run_folders_are_one_run_s() {
    let dir = fresh_dir("runs");
    let split = fixture_split(&dir);
    let run = dir.join("run");
    let output = train(&split, &run, &[]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let again = train(&split, &run, &[]).output().unwrap();
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success() && stderr.contains("already holds files"), "{stderr}");

    // Another run's finished member, without its run.json.
    let other = dir.join("other");
    std::fs::create_dir_all(other.join("member-0")).unwrap();
    for entry in std::fs::read_dir(run.join("member-0")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), other.join("member-0").join(entry.file_name())).unwrap();
    }
    let output = train(&split, &other, &["--lr", "0.01"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("already holds files"), "{stderr}");

    let changed = dermlens(&["train", "--out", path(&run), "--resume", "--lr", "0.5"]);
    let stderr = String::from_utf8_lossy(&changed.stderr);
    assert!(!changed.status.success(), "a changed recipe was resumed");
    assert!(stderr.contains("--lr 0.5 (the run has 0.001)"), "{stderr}");
    let same = dermlens(&["train", "--out", path(&run), "--resume", "--epochs", "1"]);
    assert!(same.status.success(), "{}", String::from_utf8_lossy(&same.stderr));

    // Two runs into one new folder at the same moment: one trains, one is refused.
    let shared = dir.join("shared");
    let first = train(&split, &shared, &[]).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let second = train(&split, &shared, &[]).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let outcomes = [first.wait_with_output().unwrap(), second.wait_with_output().unwrap()];
    let succeeded = outcomes.iter().filter(|o| o.status.success()).count();
    let refusals: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .collect();
    assert_eq!(succeeded, 1, "{refusals:?}");
    assert!(
        refusals[0].contains("in use by another dermlens train")
            || refusals[0].contains("already holds files"),
        "{refusals:?}"
    );
    assert!(!shared.join("train.lock").exists(), "the lock goes with its run");
    std::fs::remove_dir_all(dir).ok();
}

/// The same image bytes under two image ids in two parts is a leak that
/// `train` names; `split` keeps identical images in one part.
#[test]
fn identical_images_never_straddle_parts() {
    let dir = fresh_dir("leak");
    let split = fixture_split(&dir);
    let text = std::fs::read_to_string(&split).unwrap();
    let train_row = text.lines().find(|r| r.ends_with(",train")).unwrap();
    let fields: Vec<&str> = train_row.split(',').collect();
    let copy = dir.join("COPY_1.jpg");
    let original = if Path::new(fields[1]).is_absolute() {
        PathBuf::from(fields[1])
    } else {
        split.parent().unwrap().join(fields[1])
    };
    std::fs::copy(&original, &copy).unwrap();
    let leaked =
        format!("{text}COPY_1,{},{},{},HAM_COPY,test\n", path(&copy), fields[2], fields[3]);
    let leaky = dir.join("leaky.csv");
    std::fs::write(&leaky, leaked).unwrap();
    let output = train(&leaky, &dir.join("run"), &[]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "trained on a leaky split");
    assert!(stderr.contains("same image") && stderr.contains("COPY_1.jpg"), "{stderr}");

    // A folder data set (each image its own group) with five identical pairs.
    let folders = dir.join("folders");
    let fixtures = root().join("tests/fixtures/ham10000/images");
    let mut photos: Vec<PathBuf> =
        std::fs::read_dir(&fixtures).unwrap().map(|e| e.unwrap().path()).collect();
    photos.sort();
    for (i, photo) in photos.iter().take(20).enumerate() {
        let class = folders.join(if i % 2 == 0 { "nv" } else { "mel" });
        std::fs::create_dir_all(&class).unwrap();
        std::fs::copy(photo, class.join(format!("p{i:02}.jpg"))).unwrap();
        if i < 10 && i % 2 == 0 {
            std::fs::copy(photo, class.join(format!("twin{i:02}.jpg"))).unwrap();
        }
    }
    let out = dir.join("folders.csv");
    let output =
        dermlens(&["split", path(&folders), "--out", path(&out), "--val", "0.3", "--test", "0.3"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    let part = |image: &str| -> String {
        let row = text.lines().find(|r| r.split(',').next() == Some(image)).unwrap();
        row.rsplit(',').next().unwrap().to_string()
    };
    for i in (0..10).step_by(2) {
        assert_eq!(part(&format!("p{i:02}")), part(&format!("twin{i:02}")), "{text}");
    }
    std::fs::remove_dir_all(dir).ok();
}

/// `dermlens explain photo | head -1`: the reader goes away before the
/// command prints. It ends quietly as other tools do (SIGPIPE), never with
/// a panic message, and the picture it was asked for is written first.
#[cfg(unix)]
#[test]
fn a_closed_output_pipe_ends_the_command_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let dir = fresh_dir("pipe-closed");
    let out = dir.join("cam.png");
    let mut child = dermlens_command(&[
        "explain",
        path(&fixture_photo()),
        "--model",
        path(&shipped_model()),
        "--out",
        path(&out),
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        output.status.success() || output.status.signal() == Some(libc::SIGPIPE),
        "{:?}: {stderr}",
        output.status
    );
    assert!(out.is_file(), "the picture is written before anything is printed");
    std::fs::remove_dir_all(dir).ok();
}

/// A folder data set with a file name that is not UTF-8: `split` names it
/// at once (the split file is text, and the path would come back mangled
/// and missing in `train`), and with --skip-bad leaves it out, listed.
#[cfg(unix)]
#[test]
fn file_names_that_are_not_text_are_named_by_split() {
    use std::os::unix::ffi::OsStrExt;
    let dir = fresh_dir("not-utf8");
    let data = dir.join("data");
    let images = root().join("tests/fixtures/ham10000/images");
    let mut photos: Vec<PathBuf> =
        std::fs::read_dir(&images).unwrap().map(|e| e.unwrap().path()).collect();
    photos.sort();
    for (i, photo) in photos.iter().take(16).enumerate() {
        let class = data.join(if i % 2 == 0 { "nv" } else { "mel" });
        std::fs::create_dir_all(&class).unwrap();
        let name = if i == 0 {
            std::ffi::OsStr::from_bytes(b"mole-\xff\xfe.jpg").to_os_string()
        } else {
            photo.file_name().unwrap().to_os_string()
        };
        std::fs::copy(photo, class.join(name)).unwrap();
    }
    let split = dir.join("split.csv");
    let args = ["split", path(&data), "--out", path(&split), "--val", "0.25", "--test", "0.25"];
    let refused = dermlens(&args);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("not UTF-8") && stderr.contains("mole-"), "{stderr}");
    assert!(!split.exists());
    let skipped = dermlens(&[&args[..], &["--skip-bad"]].concat());
    assert!(skipped.status.success(), "{}", String::from_utf8_lossy(&skipped.stderr));
    let csv = std::fs::read_to_string(&split).unwrap();
    assert_eq!(csv.lines().count(), 16, "15 photos and the header: {csv}");
    assert!(!csv.contains("mole-"), "{csv}");
    std::fs::remove_dir_all(dir).ok();
}

/// `--out` naming a device or a FIFO (`/dev/full`, `/dev/stdout`): the
/// finished file used to be renamed over it, replacing the device node (as
/// root, /dev/full became a text file). Refused, and the node stays.
#[cfg(unix)]
#[test]
fn an_output_that_is_a_device_or_fifo_is_never_replaced() {
    use std::os::unix::fs::FileTypeExt;
    let dir = fresh_dir("out-fifo");
    let fifo = dir.join("out.csv");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let (photo, model) = (fixture_photo(), shipped_model());
    let args = ["predict", path(&photo), "--model", path(&model)];
    let output =
        finished_within(dermlens_command(&[&args[..], &["--out", path(&fifo)]].concat()), &dir, 60);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a regular file") && stderr.contains("out.csv"), "{stderr}");
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO is still there");
    let explained = finished_within(
        dermlens_command(&[
            "explain",
            path(&fixture_photo()),
            "--model",
            path(&shipped_model()),
            "--out",
            path(&fifo),
        ]),
        &dir,
        60,
    );
    assert!(!explained.status.success());
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    std::fs::remove_dir_all(dir).ok();
}
