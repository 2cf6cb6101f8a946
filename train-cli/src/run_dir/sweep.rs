//! The folder `dermlens sweep` writes:
//!
//! ```text
//! <sweep>/sweep.md, sweep.csv           the table of every finished trial
//! <sweep>/cache/                        the frozen backbone's features, shared by the trials
//! <sweep>/trial-NN/                     an ordinary run folder (see the parent module)
//! <sweep>/trial-NN/sweep-result.json    the trial's scores, once it is trained and scored
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::RunDir;

/// A sweep folder's paths.
#[derive(Debug, Clone)]
pub struct SweepDir {
    pub path: PathBuf,
}

impl SweepDir {
    pub fn new(path: &Path) -> Self {
        Self { path: path.to_path_buf() }
    }

    pub fn create(&self) -> Result<()> {
        std::fs::create_dir_all(&self.path)
            .with_context(|| format!("cannot create {}", self.path.display()))
    }

    /// Trial `index`'s name, as the report shows it.
    pub fn trial_name(index: usize) -> String {
        format!("trial-{index:02}")
    }

    /// Trial `index`'s run folder.
    pub fn trial(&self, index: usize) -> RunDir {
        RunDir::new(&self.path.join(Self::trial_name(index)))
    }

    /// Where a finished trial's scores are kept.
    pub fn result_file(trial: &RunDir) -> PathBuf {
        trial.path.join("sweep-result.json")
    }

    /// The feature cache every trial shares.
    pub fn cache_dir(&self) -> PathBuf {
        self.path.join("cache")
    }

    /// The report (its CSV beside it).
    pub fn report(&self) -> PathBuf {
        self.path.join("sweep.md")
    }
}
