//! The stack's state directory (`.tally/`): cluster, logs, and what is running.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tally_devstack::ProcessStamp;

/// Names `tally up` creates in the state directory; `reset` deletes nothing else.
const KNOWN_ENTRIES: &[&str] =
    &["pg", "pg-read", "pg-replica", "nginx", "logs", "up.pid", "stack.json", "seed.json", READ_KEY_FILE];
const READ_KEY_FILE: &str = "demo-read-key.json";

/// Paths inside the state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// `explicit`, else `.tally` at the root of the workspace we are in (or were built in).
    /// A state directory at `root` (tests use a temp directory).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn resolve(explicit: Option<PathBuf>) -> Result<Self> {
        let root = match explicit {
            Some(dir) => dir,
            None => find_workspace_root()?.join(".tally"),
        };
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The write cluster (named `pg` since the stack had only this one).
    pub fn pg(&self) -> PathBuf {
        self.root.join("pg")
    }
    /// The read cluster (the projector writes it).
    pub fn pg_read(&self) -> PathBuf {
        self.root.join("pg-read")
    }
    /// The streaming replica of the read cluster (the query-services read it).
    pub fn pg_replica(&self) -> PathBuf {
        self.root.join("pg-replica")
    }
    /// Every cluster, in the order they are stopped.
    pub fn clusters(&self) -> [(&'static str, PathBuf); 3] {
        [
            ("postgres (read replica)", self.pg_replica()),
            ("postgres (read)", self.pg_read()),
            ("postgres (write)", self.pg()),
        ]
    }
    /// nginx's prefix: rendered config, pid, logs, temp paths.
    pub fn nginx(&self) -> PathBuf {
        self.root.join("nginx")
    }
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
    /// The supervising `tally up` process.
    pub fn supervisor_pid(&self) -> PathBuf {
        self.root.join("up.pid")
    }
    pub fn stack_file(&self) -> PathBuf {
        self.root.join("stack.json")
    }
    pub fn seed_file(&self) -> PathBuf {
        self.root.join("seed.json")
    }
    /// The demo site's read key (a secret: owner-only).
    pub fn read_key_file(&self) -> PathBuf {
        self.root.join(READ_KEY_FILE)
    }

    /// The running `tally up`, if any.
    pub fn live_supervisor(&self) -> Option<ProcessStamp> {
        ProcessStamp::read(&self.supervisor_pid()).filter(ProcessStamp::is_alive)
    }

    pub fn read_stack(&self) -> StackFile {
        std::fs::read(self.stack_file()).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default()
    }

    pub fn write_stack(&self, stack: &StackFile) -> Result<()> {
        let path = self.stack_file();
        std::fs::write(&path, serde_json::to_vec_pretty(stack)?).with_context(|| format!("write {}", path.display()))
    }

    /// Deletes the state directory, refusing if it holds anything `tally up` did not create
    /// (a mistyped `--state-dir` must never wipe someone's files).
    pub fn remove(&self) -> Result<bool> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e).with_context(|| format!("read {}", self.root.display())),
        };
        for entry in entries {
            let name = entry?.file_name();
            anyhow::ensure!(
                KNOWN_ENTRIES.iter().any(|k| name == **k),
                "{} contains {:?}, which tally did not create; refusing to delete it",
                self.root.display(),
                name
            );
        }
        std::fs::remove_dir_all(&self.root).with_context(|| format!("remove {}", self.root.display()))?;
        Ok(true)
    }
}

/// What `tally up` started, for `down` and `status` in other terminals.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct StackFile {
    pub postgres_port: Option<u16>,
    pub services: Vec<ServiceEntry>,
    /// What to tell users; written once everything is up.
    pub endpoints: Option<super::Endpoints>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ServiceEntry {
    pub name: String,
    pub pid: i32,
    pub start_time: u64,
    pub ready_url: Option<String>,
    pub log: PathBuf,
}

impl ServiceEntry {
    pub fn stamp(&self) -> ProcessStamp {
        ProcessStamp { pid: self.pid, start_time: self.start_time }
    }
}

/// Walks up from the current directory to a `Cargo.toml` declaring `[workspace]`; falls back
/// to the workspace this binary was built in.
fn find_workspace_root() -> Result<PathBuf> {
    let cwd = std::env::current_dir().context("current directory")?;
    for dir in cwd.ancestors() {
        let manifest = dir.join("Cargo.toml");
        if std::fs::read_to_string(&manifest).is_ok_and(|t| t.contains("[workspace]")) {
            return Ok(dir.to_path_buf());
        }
    }
    Ok(tally_devstack::workspace_root())
}
