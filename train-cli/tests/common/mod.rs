//! Helpers the CLI's integration tests share.

// Each test file uses only some of them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The built `dermlens` with `args`.
pub fn dermlens_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dermlens"));
    command.args(args);
    command
}

/// `train` on `split` from the committed backbone fixture into `out`, with
/// the test's own small sizes (`options`).
pub fn train_args(split: &Path, out: &Path, options: &[&str]) -> Vec<String> {
    let backbone = root().join("tests/fixtures/lite0/imagenet.bpk");
    let fixed =
        ["train", "--split", path(split), "--backbone", path(&backbone), "--out", path(out)];
    fixed.iter().chain(options).map(|s| s.to_string()).collect()
}

/// An empty folder of this test process's own under the system's temporary folder.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dermlens-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    dir
}
