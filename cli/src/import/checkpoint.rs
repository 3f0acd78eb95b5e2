//! Where an interrupted import resumes: `<file>.tally-import.json` holds the next line
//! to send and a digest of the file's first megabyte, so a different file under the same
//! name is not resumed by mistake.

use std::{
    io::Read,
    path::{Path, PathBuf},
};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const HEAD_BYTES: u64 = 1 << 20;

#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    head_sha256: String,
    next_line: u64,
}

pub struct Checkpoint {
    path: PathBuf,
    head: String,
}

impl Checkpoint {
    pub fn for_file(file: &Path) -> anyhow::Result<Self> {
        let mut head = Vec::new();
        std::fs::File::open(file)?.take(HEAD_BYTES).read_to_end(&mut head)?;
        let digest = Sha256::digest(&head);
        let mut path = file.as_os_str().to_owned();
        path.push(".tally-import.json");
        Ok(Self { path: PathBuf::from(path), head: digest.iter().map(|b| format!("{b:02x}")).collect() })
    }

    /// The first line not yet acknowledged (1 when there is no matching checkpoint).
    pub fn resume_line(&self) -> anyhow::Result<u64> {
        let Ok(text) = std::fs::read_to_string(&self.path) else { return Ok(1) };
        let saved: Saved = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a tally import checkpoint", self.path.display()))?;
        Ok(if saved.head_sha256 == self.head { saved.next_line.max(1) } else { 1 })
    }

    /// Records that every line before `next_line` was acknowledged (atomically).
    pub fn save(&self, next_line: u64) -> anyhow::Result<()> {
        let saved = Saved { head_sha256: self.head.clone(), next_line };
        let mut tmp = self.path.as_os_str().to_owned();
        tmp.push(".tmp");
        std::fs::write(&tmp, serde_json::to_vec(&saved)?)?;
        std::fs::rename(&tmp, &self.path).with_context(|| format!("writing {}", self.path.display()))
    }
}
