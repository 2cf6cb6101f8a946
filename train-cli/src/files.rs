//! File helpers shared by the commands.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use serde::de::DeserializeOwned;

/// Writes a file so that a crash or kill never leaves it half-written: the
/// bytes go to a temporary sibling first, which is then renamed over the target.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.partial"));
    let result = (|| -> std::io::Result<()> {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

/// Reads a JSON file: `missing` says what its absence means, a file that
/// does not parse is named as damaged.
pub fn read_json<T: DeserializeOwned>(path: &Path, missing: impl FnOnce() -> String) -> Result<T> {
    let text = fs::read_to_string(path).with_context(missing)?;
    serde_json::from_str(&text).with_context(|| format!("{} is damaged", path.display()))
}
