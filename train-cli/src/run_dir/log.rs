//! A member's training log, `log.csv`: one [`LogRow`] per finished epoch,
//! written by training and read back by the report's training curves.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRow {
    /// The training stage the epoch belongs to.
    pub stage: String,
    /// Epoch number within its stage, from 1.
    pub epoch: usize,
    pub learning_rate: f64,
    pub train_loss: f64,
    pub val_loss: f64,
    pub val_accuracy: f64,
    pub val_balanced_accuracy: f64,
    pub seconds: f64,
}

pub fn to_csv(rows: &[LogRow]) -> Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if rows.is_empty() {
        // The header alone still says what the file is.
        writer.write_record([
            "stage",
            "epoch",
            "learning_rate",
            "train_loss",
            "val_loss",
            "val_accuracy",
            "val_balanced_accuracy",
            "seconds",
        ])?;
    }
    for row in rows {
        writer.serialize(row)?;
    }
    writer.into_inner().map_err(|e| anyhow::anyhow!("cannot encode the log: {e}"))
}

pub fn read(path: &Path) -> Result<Vec<LogRow>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    reader
        .deserialize()
        .enumerate()
        .map(|(i, row)| {
            row.with_context(|| format!("{} line {} is malformed", path.display(), i + 2))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_through_the_file() {
        let rows = vec![
            LogRow {
                stage: "head".into(),
                epoch: 1,
                learning_rate: 1e-3,
                train_loss: 1.9,
                val_loss: 1.8,
                val_accuracy: 0.3,
                val_balanced_accuracy: 0.2,
                seconds: 1.5,
            },
            LogRow {
                stage: "upper".into(),
                epoch: 1,
                learning_rate: 3e-4,
                train_loss: 1.0,
                val_loss: 1.2,
                val_accuracy: 0.5,
                val_balanced_accuracy: 0.5,
                seconds: 2.0,
            },
        ];
        let dir = std::env::temp_dir().join(format!("dermlens-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.csv");
        std::fs::write(&path, to_csv(&rows).unwrap()).unwrap();
        assert_eq!(read(&path).unwrap(), rows);
        std::fs::write(&path, to_csv(&[]).unwrap()).unwrap();
        assert!(read(&path).unwrap().is_empty());
        std::fs::write(&path, "stage,epoch\nhead,x\n").unwrap();
        assert!(format!("{:#}", read(&path).unwrap_err()).contains("line 2"));
        std::fs::remove_dir_all(dir).ok();
    }
}
