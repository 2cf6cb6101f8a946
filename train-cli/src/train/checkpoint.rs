//! A member's checkpoint: everything its training needs to continue exactly
//! after the last finished epoch (progress, log, weights, weight average,
//! optimizer state), in one file closed by its own sha256, written
//! atomically. A damaged checkpoint is an error, never a silent restart.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::files::write_atomic;
use crate::run_dir::MemberDir;
use crate::run_dir::log::{self, LogRow};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// The head alone on the frozen backbone's features.
    Head,
    /// The whole network.
    Full,
    Done,
}

/// What a member's folder records about its progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberState {
    pub seed: u64,
    pub stage: Stage,
    /// Epochs finished in the current stage.
    pub epoch: usize,
    /// One row per finished epoch.
    pub log: Vec<LogRow>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub state: MemberState,
    /// The network as training left it (burnpack).
    pub weights: Vec<u8>,
    /// The weight average (empty before the whole-network stage).
    pub average: Vec<u8>,
    /// The optimizer's state (empty at the start of a stage).
    pub optimizer: Vec<u8>,
}

const MAGIC: &[u8; 8] = b"DLCKPT02";

impl Checkpoint {
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let state = serde_json::to_vec(&self.state)?;
        let mut out = MAGIC.to_vec();
        for part in [&state, &self.weights, &self.average, &self.optimizer] {
            out.extend_from_slice(&(part.len() as u64).to_le_bytes());
            out.extend_from_slice(part);
        }
        let digest = Sha256::digest(&out);
        out.extend_from_slice(&digest);
        Ok(out)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < MAGIC.len() + 32 || &bytes[..MAGIC.len()] != MAGIC {
            bail!("not a dermlens checkpoint of this version");
        }
        let (body, digest) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(body).as_slice() != digest {
            bail!("its checksum does not match: the file is damaged");
        }
        let mut at = MAGIC.len();
        let mut parts = Vec::with_capacity(4);
        for _ in 0..4 {
            let len = body.get(at..at + 8).context("truncated")?;
            let len = u64::from_le_bytes(len.try_into()?) as usize;
            at += 8;
            let end = at.checked_add(len).context("truncated")?;
            parts.push(body.get(at..end).context("truncated")?.to_vec());
            at = end;
        }
        if at != body.len() {
            bail!("trailing bytes");
        }
        let optimizer = parts.pop().unwrap_or_default();
        let average = parts.pop().unwrap_or_default();
        let weights = parts.pop().unwrap_or_default();
        let state = serde_json::from_slice(&parts.pop().unwrap_or_default())
            .context("unreadable progress")?;
        Ok(Self { state, weights, average, optimizer })
    }

    /// The member's checkpoint, if it has one.
    pub fn load(dir: &MemberDir) -> Result<Option<Self>> {
        let path = dir.checkpoint();
        match std::fs::read(&path) {
            Ok(bytes) => Self::from_bytes(&bytes)
                .map(Some)
                .with_context(|| format!("{} is damaged", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Writes the checkpoint, then the log derived from it.
    pub fn save(&self, dir: &MemberDir) -> Result<()> {
        write_atomic(&dir.checkpoint(), &self.to_bytes()?)?;
        write_atomic(&dir.log(), &log::to_csv(&self.state.log)?)
    }
}

/// Whether a member folder holds a finished member.
pub fn is_done(dir: &MemberDir) -> bool {
    matches!(Checkpoint::load(dir), Ok(Some(c)) if c.state.stage == Stage::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_round_trip_and_damage_is_caught() {
        let checkpoint = Checkpoint {
            state: MemberState { seed: 7, stage: Stage::Full, epoch: 2, log: Vec::new() },
            weights: vec![1, 2, 3],
            average: vec![4; 10],
            optimizer: Vec::new(),
        };
        let bytes = checkpoint.to_bytes().unwrap();
        assert_eq!(Checkpoint::from_bytes(&bytes).unwrap(), checkpoint);
        let mut flipped = bytes.clone();
        flipped[20] ^= 1;
        assert!(
            format!("{:#}", Checkpoint::from_bytes(&flipped).unwrap_err()).contains("checksum")
        );
        assert!(Checkpoint::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        assert!(Checkpoint::from_bytes(b"DLCKPT01 an older one").is_err());
    }
}
