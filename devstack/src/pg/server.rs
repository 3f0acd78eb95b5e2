//! Driving one server: initdb, settings, pg_ctl start/stop, and its watchdog.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::ctl::{self, ServerUser};
use super::{OWNER_FILE, PgOptions, SUPERUSER};
use crate::error::{Error, IoContext, Result};
use crate::proc::{ProcessStamp, command_name, stop_process};
use crate::watchdog::Watchdog;

/// Stops a cluster in `base` that some other process started (e.g. a `tally up` that was
/// killed). Returns true when a server was running.
pub fn stop_cluster_at(base: &Path) -> Result<bool> {
    let data = base.join("data");
    let Some(postmaster) = postmaster(&data) else {
        return Ok(false);
    };
    let bin = ctl::bin_dir()?;
    let user = ctl::server_user()?;
    if pg_ctl_stop(&bin, base, &data, user, "fast").is_err() {
        stop_process(postmaster, Signal::SIGQUIT, Duration::from_secs(10));
    }
    Ok(true)
}

/// The port of the server running in `base` (any owner), or `None` when none runs there.
pub fn running_cluster_port(base: &Path) -> Option<u16> {
    let data = base.join("data");
    postmaster(&data)?;
    // Line 4 of postmaster.pid is the port.
    let text = std::fs::read_to_string(data.join("postmaster.pid")).ok()?;
    text.lines().nth(3)?.trim().parse().ok()
}

/// The live postmaster of `data`, from the first line of `postmaster.pid`.
pub(crate) fn postmaster(data: &Path) -> Option<ProcessStamp> {
    let text = std::fs::read_to_string(data.join("postmaster.pid")).ok()?;
    let pid: i32 = text.lines().next()?.trim().parse().ok()?;
    let stamp = ProcessStamp::of(pid)?;
    // A stale pid file may name an unrelated process that reused the pid.
    matches!(command_name(pid).as_deref(), Some("postgres" | "postmaster")).then_some(stamp)
}

/// A persistent directory whose previous owner died may still have its server running:
/// stop it so we can start ours. A live owner means the cluster is busy.
pub(super) fn take_over_from_dead_owner(base: &Path, data: &Path, bin: &Path, user: Option<ServerUser>) -> Result<()> {
    if let Some(owner) = ProcessStamp::read(&base.join(OWNER_FILE))
        && owner.is_alive()
        && owner != ProcessStamp::current()
    {
        return Err(Error::Setup(format!("the cluster in {} is in use by process {}", base.display(), owner.pid)));
    }
    if postmaster(data).is_some() {
        pg_ctl_stop(bin, base, data, user, "fast")?;
    }
    Ok(())
}

pub(super) fn initdb(bin: &Path, data: &Path, user: Option<ServerUser>, cwd: &Path) -> Result<()> {
    ctl::run(
        ctl::command(&bin.join("initdb"), user, cwd)
            .arg("-D")
            .arg(data)
            .args(["-N", "-A", "trust", "-U", SUPERUSER, "-E", "UTF8", "--locale=C"])
            .arg("--no-instructions"),
    )?;
    // Our settings live in their own file, rewritten at each start (the port may change);
    // postgresql.conf stays as initdb wrote it apart from this include.
    let conf = data.join("postgresql.conf");
    let mut text = std::fs::read_to_string(&conf).ctx(|| format!("read {}", conf.display()))?;
    text.push_str("\ninclude_if_exists = 'tally.conf'\n");
    std::fs::write(&conf, text).ctx(|| format!("write {}", conf.display()))
}

/// Clones the primary on `primary_port` into `data` as a streaming replica: `-R` writes
/// `standby.signal` and `primary_conninfo`, `-X stream` brings the WAL needed to start. The
/// primary's `tally.conf` comes along and is rewritten with our port by `write_settings`.
pub(super) fn basebackup(
    bin: &Path,
    data: &Path,
    primary_port: u16,
    opts: &PgOptions,
    user: Option<ServerUser>,
    cwd: &Path,
) -> Result<()> {
    let mut cmd = ctl::command(&bin.join("pg_basebackup"), user, cwd);
    cmd.arg("-D").arg(data).args(["-h", "127.0.0.1", "-p", &primary_port.to_string(), "-U", SUPERUSER]);
    cmd.args(["-R", "-X", "stream", "-c", "fast"]);
    if !opts.durable {
        cmd.arg("--no-sync");
    }
    ctl::run(&mut cmd).map(drop)
}

/// Points a replica at its primary's current port. `pg_basebackup -R` wrote the port of the
/// day into `postgresql.auto.conf` (which overrides our `tally.conf`), and a primary on a
/// free port moves at each start.
pub(super) fn point_replica_at(data: &Path, primary_port: u16, user: Option<ServerUser>) -> Result<()> {
    let path = data.join("postgresql.auto.conf");
    let text = std::fs::read_to_string(&path).ctx(|| format!("read {}", path.display()))?;
    let mut kept: Vec<&str> = text.lines().filter(|l| !l.trim_start().starts_with("primary_conninfo")).collect();
    let conninfo = format!("primary_conninfo = 'host=127.0.0.1 port={primary_port} user={SUPERUSER}'");
    kept.push(&conninfo);
    std::fs::write(&path, kept.join("\n") + "\n").ctx(|| format!("write {}", path.display()))?;
    ctl::chown(&path, user, false)
}

pub(super) fn write_settings(
    data: &Path,
    base: &Path,
    port: u16,
    opts: &PgOptions,
    user: Option<ServerUser>,
) -> Result<()> {
    let run = base.join("run");
    // A unix socket path is limited to 107 bytes; deep checkouts fall back to TCP only.
    let socket_dir = if run.as_os_str().len() < 90 { run.display().to_string() } else { String::new() };
    let mut conf = format!(
        "# Written by tally-devstack at every start.\n\
         port = {port}\n\
         listen_addresses = '127.0.0.1'\n\
         unix_socket_directories = '{socket_dir}'\n\
         max_connections = {}\n\
         shared_buffers = '{}'\n",
        opts.max_connections, opts.shared_buffers
    );
    if !opts.durable {
        conf.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
    }
    for (name, value) in &opts.extra_settings {
        conf.push_str(&format!("{name} = {value}\n"));
    }
    let path = data.join("tally.conf");
    std::fs::write(&path, conf).ctx(|| format!("write {}", path.display()))?;
    ctl::chown(&path, user, false)
}

pub(super) fn pg_ctl_start(bin: &Path, base: &Path, data: &Path, user: Option<ServerUser>) -> Result<()> {
    let log = base.join("postgres.log");
    // pg_ctl opens the log as the server user.
    if !log.exists() {
        std::fs::write(&log, b"").ctx(|| format!("create {}", log.display()))?;
    }
    ctl::chown(&log, user, false)?;
    ctl::run(
        ctl::command(&bin.join("pg_ctl"), user, base)
            .args(["start", "-w", "-t", "60", "-s", "-D"])
            .arg(data)
            .arg("-l")
            .arg(&log),
    )
    .map(drop)
    .map_err(|e| match e {
        Error::Command { command, status, output } => Error::Command {
            command,
            status,
            output: format!("{output}\n--- {} ---\n{}", log.display(), crate::logs::tail_lines(&log, 40)),
        },
        other => other,
    })
}

pub(super) fn pg_ctl_stop(bin: &Path, base: &Path, data: &Path, user: Option<ServerUser>, mode: &str) -> Result<()> {
    if postmaster(data).is_none() {
        return Ok(());
    }
    ctl::run(
        ctl::command(&bin.join("pg_ctl"), user, base)
            .args(["stop", "-w", "-t", "30", "-s", "-m", mode, "-D"])
            .arg(data),
    )
    .map(drop)
}

pub(super) fn port_was_taken(base: &Path) -> bool {
    let tail = crate::logs::tail_lines(&base.join("postgres.log"), 20);
    tail.contains("could not bind") || tail.contains("already in use")
}

pub(super) fn spawn_watchdog(base: &Path, data: &Path, durable: bool, remove: bool) -> Result<Watchdog> {
    // SIGINT = "fast" shutdown (clean checkpoint) for durable data; SIGQUIT = "immediate".
    let signal = if durable { "INT" } else { "QUIT" };
    let cleanup = r#"
pidfile="$1/postmaster.pid"
if [ -f "$pidfile" ]; then
  stop_pid "$3" "$(head -n 1 "$pidfile")" 30
fi
[ "$4" = 1 ] && rm -rf "$2"
"#;
    Watchdog::spawn(
        cleanup,
        &[&data.display().to_string(), &base.display().to_string(), signal, if remove { "1" } else { "0" }],
    )
}
