//! Cleaning up ephemeral clusters whose owner died without cleaning up.

use std::path::Path;
use std::time::{Duration, SystemTime};

use nix::sys::signal::Signal;

use super::{OWNER_FILE, TEMP_PREFIX, postmaster};
use crate::error::{IoContext, Result};
use crate::proc::{ProcessStamp, stop_process};

/// What [`reap_stale`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReapReport {
    /// Leftover directories removed.
    pub removed_dirs: usize,
    /// Servers that were still running in them and got stopped.
    pub stopped_servers: usize,
}

/// Stops and removes ephemeral clusters (`$TMPDIR/tally-pg-*`) whose owning process is gone.
///
/// The watchdog normally does this within a second of the owner's death; this is the safety
/// net for when the watchdog itself was killed (e.g. a machine-wide `kill -9`).
pub fn reap_stale() -> Result<ReapReport> {
    let mut report = ReapReport::default();
    let tmp = std::env::temp_dir();
    let entries = std::fs::read_dir(&tmp).ctx(|| format!("read {}", tmp.display()))?;
    for entry in entries.flatten() {
        let is_ours = entry.file_name().to_str().is_some_and(|n| n.starts_with(TEMP_PREFIX));
        if is_ours && entry.path().is_dir() && is_abandoned(&entry.path()) {
            reap_one(&entry.path(), &mut report)?;
        }
    }
    Ok(report)
}

fn is_abandoned(base: &Path) -> bool {
    match ProcessStamp::read(&base.join(OWNER_FILE)) {
        Some(owner) => !owner.is_alive(),
        // The owner file is written right after the directory is created; only a directory
        // that has been without one for a while is abandoned rather than being set up.
        None => std::fs::metadata(base)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > Duration::from_secs(60)),
    }
}

fn reap_one(base: &Path, report: &mut ReapReport) -> Result<()> {
    if let Some(server) = postmaster(&base.join("data")) {
        // Ephemeral data: an immediate shutdown (SIGQUIT) is all it deserves.
        stop_process(server, Signal::SIGQUIT, Duration::from_secs(10));
        report.stopped_servers += 1;
    }
    match std::fs::remove_dir_all(base) {
        Ok(()) => report.removed_dirs += 1,
        // The watchdog may have removed it concurrently.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).ctx(|| format!("remove {}", base.display())),
    }
    Ok(())
}
