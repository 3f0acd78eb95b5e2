//! Process identity and signals.
//!
//! A bare pid is not an identity: pids are reused. A [`ProcessStamp`] pairs the pid with the
//! kernel's start time of that process, so "is the process that wrote this file still
//! alive?" has a reliable answer.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::error::{IoContext, Result};

/// A process identified by pid and start time (clock ticks since boot, from `/proc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessStamp {
    pub pid: i32,
    pub start_time: u64,
}

impl ProcessStamp {
    /// The stamp of the calling process.
    pub fn current() -> Self {
        let pid = std::process::id() as i32;
        Self { pid, start_time: start_time(pid).unwrap_or(0) }
    }

    /// The stamp of a running process, if it exists.
    pub fn of(pid: i32) -> Option<Self> {
        start_time(pid).map(|start_time| Self { pid, start_time })
    }

    /// True while the very same process is still running (not a zombie, not a reused pid).
    pub fn is_alive(&self) -> bool {
        start_time(self.pid) == Some(self.start_time)
    }

    /// Stops the process: SIGTERM, up to `grace` to exit, then SIGKILL. True once it is gone.
    pub fn terminate(&self, grace: std::time::Duration) -> bool {
        stop_process(*self, Signal::SIGTERM, grace)
    }

    /// Writes the stamp to `path` (one line, `pid start_time`).
    pub fn write(&self, path: &Path) -> Result<()> {
        std::fs::write(path, format!("{self}\n")).ctx(|| format!("write {}", path.display()))
    }

    /// Reads a stamp written by [`ProcessStamp::write`]; `None` if missing or garbled.
    pub fn read(path: &Path) -> Option<Self> {
        std::fs::read_to_string(path).ok()?.trim().parse().ok()
    }
}

impl fmt::Display for ProcessStamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.pid, self.start_time)
    }
}

impl FromStr for ProcessStamp {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let mut it = s.split_whitespace();
        let pid = it.next().ok_or(())?.parse().map_err(|_| ())?;
        let start_time = it.next().ok_or(())?.parse().map_err(|_| ())?;
        Ok(Self { pid, start_time })
    }
}

/// Start time of a live, non-zombie process from `/proc/<pid>/stat` (field 22).
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses; the fields we need all
    // come after its closing parenthesis, starting with the state (field 3).
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if matches!(fields.first(), Some(&"Z") | Some(&"X") | None) {
        return None;
    }
    fields.get(22 - 3)?.parse().ok()
}

/// The short command name of a live process (`/proc/<pid>/comm`).
pub(crate) fn command_name(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|s| s.trim().to_owned())
}

/// Sends `signal` to `pid`; returns false when the process does not exist.
pub(crate) fn signal_pid(pid: i32, signal: Signal) -> bool {
    kill(Pid::from_raw(pid), signal).is_ok()
}

/// Polls until the process behind `stamp` is gone or `timeout` passes; true when gone.
pub(crate) fn wait_gone(stamp: ProcessStamp, timeout: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while stamp.is_alive() {
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    true
}

/// Stops a process: `first` signal, up to `grace` to exit, then SIGKILL. True if it is gone.
pub(crate) fn stop_process(stamp: ProcessStamp, first: Signal, grace: std::time::Duration) -> bool {
    if !stamp.is_alive() {
        return true;
    }
    signal_pid(stamp.pid, first);
    if wait_gone(stamp, grace) {
        return true;
    }
    signal_pid(stamp.pid, Signal::SIGKILL);
    wait_gone(stamp, std::time::Duration::from_secs(5))
}
