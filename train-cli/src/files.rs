//! File helpers shared by the commands: reads with a size cap, and writes
//! that never leave a half-written file behind.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use serde::de::DeserializeOwned;

/// Why a path that is not a regular file is not read.
pub const NOT_A_FILE: &str = "not a regular file (a FIFO, socket or device): not read";

/// Largest photo read (as the web app): no phone photo comes near it.
pub const MAX_PHOTO_BYTES: u64 = 60_000_000;

/// Reads a whole file of at most `max` bytes; a larger one (or an endless
/// device) is an error found after reading `max + 1` bytes, not after
/// exhausting memory.
pub fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>> {
    // Opening a FIFO blocks until someone writes to it; a device may never end.
    let meta = fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !meta.is_file() {
        bail!("{} is {NOT_A_FILE}", path.display());
    }
    let file = fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > max {
        let limit = if max >= 1_000_000 {
            format!("{} MB", max / 1_000_000)
        } else {
            format!("{max} bytes")
        };
        bail!("{} is larger than {limit}", path.display());
    }
    Ok(bytes)
}

/// Files to remove if the process is stopped (SIGTERM, Ctrl-C) before it
/// finishes them: unfinished writes and a run folder's lock.
static UNFINISHED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn unfinished() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    UNFINISHED.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Marks `path` for removal should the process be stopped.
pub fn remove_if_stopped(path: &Path) {
    unfinished().push(path.to_path_buf());
}

/// `path` is finished (or gone): a stop leaves it alone.
pub fn keep_if_stopped(path: &Path) {
    unfinished().retain(|p| p != path);
}

/// Removes every file still marked: called when the process is stopped.
pub fn remove_unfinished() {
    for path in unfinished().drain(..) {
        let _ = fs::remove_file(path);
    }
}

/// A temporary sibling name no other writer (thread or process) uses.
fn temporary(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let unique = format!("{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    path.with_file_name(format!(".{name}.{unique}.partial"))
}

/// Makes a rename inside `dir` durable.
fn sync_dir(dir: &Path) {
    // Not every platform can open a folder; the rename itself is still atomic.
    if let Ok(handle) =
        fs::File::open(if dir.as_os_str().is_empty() { Path::new(".") } else { dir })
    {
        let _ = handle.sync_all();
    }
}

/// An output that exists and is not a regular file (a folder, a device such
/// as /dev/full or /dev/stdout, a FIFO, a socket) is never replaced: the
/// temporary file would be renamed over it.
fn refuse_special(target: &Path) -> Result<()> {
    match fs::metadata(target) {
        Ok(meta) if meta.is_dir() => bail!("{} is a folder, not a file", target.display()),
        Ok(meta) if !meta.is_file() => bail!(
            "{} is not a regular file (a device, FIFO or socket): refusing to replace it (choose a file)",
            target.display()
        ),
        _ => Ok(()),
    }
}

fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new(""))
}

/// A file being written: bytes go to a temporary sibling, which replaces
/// the target only on [`finish`](Self::finish). Dropped unfinished (an
/// error, a kill), it leaves the target as it was and removes itself.
pub struct AtomicFile {
    target: PathBuf,
    temporary: PathBuf,
    file: Option<fs::File>,
}

impl AtomicFile {
    pub fn create(target: &Path) -> Result<Self> {
        let dir = parent(target);
        if !dir.as_os_str().is_empty() {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        refuse_special(target)?;
        let temporary = temporary(target);
        remove_if_stopped(&temporary);
        let file = fs::File::create(&temporary)
            .with_context(|| format!("cannot write {}", target.display()));
        let file = file.inspect_err(|_| keep_if_stopped(&temporary))?;
        Ok(Self { target: target.to_path_buf(), temporary, file: Some(file) })
    }

    /// Flushes to disk and puts the file in place.
    pub fn finish(mut self) -> Result<()> {
        let file = self.file.take().context("internal: the file was finished twice")?;
        let result = file.sync_all().and_then(|_| fs::rename(&self.temporary, &self.target));
        if result.is_err() {
            let _ = fs::remove_file(&self.temporary);
        }
        keep_if_stopped(&self.temporary);
        result.with_context(|| format!("cannot write {}", self.target.display()))?;
        sync_dir(parent(&self.target));
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.as_mut().map_or(Ok(0), |f| f.write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.as_mut().map_or(Ok(()), fs::File::flush)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.temporary);
            keep_if_stopped(&self.temporary);
        }
    }
}

/// Writes a file so that a crash or kill never leaves it half-written.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes).with_context(|| format!("cannot write {}", path.display()))?;
    file.finish()
}

/// Reads a JSON file: `missing` says what its absence means, a file that
/// does not parse is named as damaged.
pub fn read_json<T: DeserializeOwned>(path: &Path, missing: impl FnOnce() -> String) -> Result<T> {
    let text = fs::read_to_string(path).with_context(missing)?;
    serde_json::from_str(&text).with_context(|| format!("{} is damaged", path.display()))
}

/// Files dermlens keeps in bundles and run folders, which no report, CSV or
/// picture a command writes may replace.
const KEPT: [&str; 6] =
    ["manifest.json", "run.json", "calibration.json", "checkpoint.bin", "log.csv", "MODEL_CARD.md"];

/// Refuses an output path that would destroy something: one of the
/// command's `inputs` (the same file, by whatever path), or a file a
/// dermlens bundle or run folder keeps. Called before any work.
pub fn check_output(out: &Path, inputs: &[&Path]) -> Result<()> {
    refuse_special(out)?;
    if let Ok(target) = fs::canonicalize(out) {
        if inputs.iter().any(|i| fs::canonicalize(i).is_ok_and(|i| i == target)) {
            bail!(
                "{} is one of the inputs: refusing to overwrite it (choose another --out)",
                out.display()
            );
        }
        let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let in_bundle = out.extension().is_some_and(|e| e == "bin")
            && parent(&target).join(model::bundle::MANIFEST).exists();
        if KEPT.contains(&name.as_str()) || in_bundle {
            bail!(
                "{} belongs to a dermlens bundle or run folder: refusing to overwrite it (choose another --out)",
                out.display()
            );
        }
    }
    Ok(())
}

/// `text` as a CSV cell a spreadsheet shows as text: a leading `=`, `+`,
/// `-`, `@`, tab or carriage return would make it a formula, so such a
/// cell starts with an apostrophe.
pub fn spreadsheet_safe(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_never_replace_inputs_or_a_bundle() {
        let dir = std::env::temp_dir().join(format!("dermlens-outputs-{}", std::process::id()));
        fs::create_dir_all(dir.join("sub")).unwrap();
        let photo = dir.join("photo.jpg");
        fs::write(&photo, b"jpeg").unwrap();
        let other = dir.join("sub/../photo.jpg");
        let error = check_output(&other, &[&photo]).unwrap_err().to_string();
        assert!(error.contains("is one of the inputs"), "{error}");
        assert!(check_output(&dir.join("new.csv"), &[&photo]).is_ok(), "a new file is fine");
        assert!(check_output(&photo, &[]).is_ok(), "an old output may be replaced");
        for kept in ["run.json", "manifest.json"] {
            fs::write(dir.join(kept), b"{}").unwrap();
            let error = check_output(&dir.join(kept), &[]).unwrap_err().to_string();
            assert!(error.contains("belongs to a dermlens bundle or run folder"), "{error}");
        }
        fs::write(dir.join("member-0-abc.bin"), b"w").unwrap();
        assert!(
            check_output(&dir.join("member-0-abc.bin"), &[]).is_err(),
            "weights beside a manifest"
        );
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn cells_that_a_spreadsheet_would_run_are_quoted() {
        assert_eq!(spreadsheet_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(spreadsheet_safe("+1.jpg"), "'+1.jpg");
        assert_eq!(spreadsheet_safe("-x"), "'-x");
        assert_eq!(spreadsheet_safe("@cmd"), "'@cmd");
        assert_eq!(spreadsheet_safe("ISIC_1.jpg"), "ISIC_1.jpg");
        assert_eq!(spreadsheet_safe(""), "");
    }

    #[test]
    fn writes_are_all_or_nothing_and_reads_are_capped() {
        let dir = std::env::temp_dir().join(format!("dermlens-files-{}", std::process::id()));
        let target = dir.join("out.txt");
        write_atomic(&target, b"first").unwrap();
        {
            let mut unfinished = AtomicFile::create(&target).unwrap();
            unfinished.write_all(b"second, never finished").unwrap();
        }
        assert_eq!(fs::read(&target).unwrap(), b"first", "an unfinished write changes nothing");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "and leaves no temporary file");
        assert!(AtomicFile::create(&dir).is_err(), "a folder is not a file");
        assert_eq!(read_limited(&target, 5).unwrap(), b"first");
        assert!(format!("{:#}", read_limited(&target, 4).unwrap_err()).contains("larger than"));
        assert_ne!(temporary(&target), temporary(&target), "two writers never share a name");
        fs::remove_dir_all(dir).ok();
    }
}
