//! One `train` at a time in a run folder: a lock file holding the owner's
//! process id and the recipe's fingerprint. Two runs writing one folder
//! would interleave checkpoints and lose one of them without a word.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

pub const LOCK_FILE: &str = "train.lock";

/// Held while a `train` runs; removed when dropped or the process is
/// stopped (SIGKILL leaves it: the next run takes it over once its process
/// is gone).
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

impl RunLock {
    /// Locks `dir` for this process, recording `fingerprint` (the recipe's).
    pub fn acquire(dir: &Path, fingerprint: &str) -> Result<Self> {
        let path = dir.join(LOCK_FILE);
        let pid = std::process::id();
        // Written whole beside the lock, then linked into place: whoever
        // finds the lock finds it complete (a link never replaces a file).
        let pending = dir.join(format!(".{LOCK_FILE}.{pid}"));
        fs::write(&pending, format!("{pid}\n{fingerprint}\n"))
            .with_context(|| format!("cannot write in {}", dir.display()))?;
        let result = Self::link(&pending, &path, dir);
        fs::remove_file(&pending).ok();
        result?;
        crate::files::remove_if_stopped(&path);
        Ok(Self { path })
    }

    fn link(pending: &Path, path: &Path, dir: &Path) -> Result<()> {
        for _ in 0..2 {
            match fs::hard_link(pending, path) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    let text = fs::read_to_string(path).unwrap_or_default();
                    match text.lines().next().and_then(|l| l.trim().parse::<u32>().ok()) {
                        Some(owner) if is_running(owner) => bail!(
                            "{} is in use by another dermlens train (process {owner}); if none is running, delete {}",
                            dir.display(),
                            path.display()
                        ),
                        // Its owner is gone (killed): the lock is stale.
                        _ => fs::remove_file(path).ok(),
                    };
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot lock {}", dir.display()));
                }
            }
        }
        bail!("cannot lock {}: another process keeps taking it", dir.display())
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        fs::remove_file(&self.path).ok();
        crate::files::keep_if_stopped(&self.path);
    }
}

/// Whether process `pid` is alive (where that cannot be known: assumed so).
fn is_running(pid: u32) -> bool {
    if cfg!(target_os = "linux") { Path::new("/proc").join(pid.to_string()).exists() } else { true }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_owner_at_a_time_and_a_dead_owner_s_lock_is_taken_over() {
        let dir = std::env::temp_dir().join(format!("dermlens-lock-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let held = RunLock::acquire(&dir, "abc").unwrap();
        let error = RunLock::acquire(&dir, "abc").unwrap_err().to_string();
        assert!(error.contains("in use by another dermlens train"), "{error}");
        drop(held);
        assert!(!dir.join(LOCK_FILE).exists(), "released");
        if cfg!(target_os = "linux") {
            // No process has this id (above the kernel's maximum).
            fs::write(dir.join(LOCK_FILE), "4294967295\nold\n").unwrap();
            let lock = RunLock::acquire(&dir, "new").unwrap();
            let text = fs::read_to_string(dir.join(LOCK_FILE)).unwrap();
            assert!(text.ends_with("new\n"), "{text}");
            drop(lock);
        }
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0, "nothing left behind");
        fs::remove_dir_all(dir).ok();
    }
}
