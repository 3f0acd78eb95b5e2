//! A watchdog that runs a cleanup when the owning process dies without running destructors.
//!
//! Postgres cannot tie its life to ours, and `Drop` does not run on SIGKILL, on abort, or for
//! values in `static`s (the per-process shared test cluster). So each started server gets a
//! tiny `sh` loop that polls our pid once a second and runs a cleanup snippet when we are gone.
//! It lives in its own process group and ignores INT/TERM/HUP, so Ctrl-C or a test runner
//! killing our process group does not take it down before it has cleaned up.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use crate::error::{IoContext, Result};

/// Runs before every cleanup snippet: waits for the owner (`$1`) to die, then shifts it off.
///
/// `alive` reads the process state instead of using `kill -0`, which also succeeds for a
/// zombie: a dead owner whose parent has not reaped it yet must count as dead.
const PRELUDE: &str = r#"trap '' INT TERM HUP
alive() {
  [ -r "/proc/$1/stat" ] || return 1
  read -r line < "/proc/$1/stat" || return 1
  state=${line##*) }
  state=${state%% *}
  [ "$state" != Z ] && [ "$state" != X ]
}
stop_pid() {
  kill -"$1" "$2" 2>/dev/null || return 0
  i=0
  while alive "$2" && [ $i -lt $(($3 * 10)) ]; do sleep 0.1; i=$((i+1)); done
  alive "$2" && kill -KILL "$2" 2>/dev/null
  return 0
}
owner=$1; shift
while alive "$owner"; do sleep 1; done
"#;

/// Handle to a running watchdog; dropping it (or [`Watchdog::disarm`]) cancels the cleanup.
#[derive(Debug)]
pub(crate) struct Watchdog {
    child: Child,
}

impl Watchdog {
    /// Starts a watchdog for the current process. `cleanup` is a `sh` snippet that sees
    /// `args` as `$1`, `$2`, … and may use `alive PID` and `stop_pid SIGNAL PID SECONDS`.
    pub(crate) fn spawn(cleanup: &str, args: &[&str]) -> Result<Self> {
        let script = format!("{PRELUDE}{cleanup}\n");
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("tally-watchdog")
            .arg(std::process::id().to_string())
            .args(args)
            // Pipes inherited from a test runner would keep it waiting for the watchdog
            // ("leaky test"); the watchdog has nothing to say anyway.
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .ctx(|| "spawn watchdog (sh)".to_owned())?;
        Ok(Self { child })
    }

    /// Cancels the cleanup (the owner is shutting things down itself).
    pub(crate) fn disarm(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.kill();
    }
}
