//! Running the PostgreSQL server programs (initdb, pg_ctl) as the right user.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::unistd::{Uid, User};

use crate::error::{Error, IoContext, Result};

/// The uid/gid the server runs as: `None` = ourselves; `Some` = the `postgres` user, because
/// the server refuses to run as root.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServerUser {
    pub uid: u32,
    pub gid: u32,
}

/// Decides which user runs the server.
pub(crate) fn server_user() -> Result<Option<ServerUser>> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    match User::from_name("postgres") {
        Ok(Some(user)) => Ok(Some(ServerUser { uid: user.uid.as_raw(), gid: user.gid.as_raw() })),
        _ => Err(Error::Setup(
            "running as root, but there is no `postgres` user to run the server as: \
             install PostgreSQL (scripts/bootstrap.sh)"
                .to_owned(),
        )),
    }
}

/// The directory holding `pg_ctl`: `$TALLY_PG_BINDIR`, else the newest
/// `/usr/lib/postgresql/*/bin` (Debian), else whatever `pg_ctl` is on `PATH`.
pub(crate) fn bin_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("TALLY_PG_BINDIR") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    std::env::var_os("PATH").iter().flat_map(std::env::split_paths).find(|dir| dir.join("pg_ctl").is_file()).ok_or_else(
        || {
            Error::Setup(
                "PostgreSQL server binaries (pg_ctl) not found: install PostgreSQL \
                 (scripts/bootstrap.sh) or set TALLY_PG_BINDIR"
                    .to_owned(),
            )
        },
    )
}

/// A command for a server program, run as `user` with `cwd` as working directory (the
/// server user may not be allowed into our current directory).
pub(crate) fn command(program: &Path, user: Option<ServerUser>, cwd: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(cwd).stdin(Stdio::null());
    if let Some(user) = user {
        cmd.uid(user.uid).gid(user.gid);
    }
    cmd
}

/// Runs `cmd` to completion; on failure the error carries everything it printed.
pub(crate) fn run(cmd: &mut Command) -> Result<String> {
    let rendered = format!("{cmd:?}");
    let out = cmd.output().ctx(|| format!("run {rendered}"))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        Ok(text)
    } else {
        Err(Error::Command { command: rendered, status: out.status.to_string(), output: text })
    }
}

/// Gives `path` (and, if `recursive`, everything below it) to the server user.
pub(crate) fn chown(path: &Path, user: Option<ServerUser>, recursive: bool) -> Result<()> {
    let Some(user) = user else { return Ok(()) };
    std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid)).ctx(|| format!("chown {}", path.display()))?;
    if recursive && path.is_dir() && !path.is_symlink() {
        for entry in std::fs::read_dir(path).ctx(|| format!("read {}", path.display()))? {
            let entry = entry.ctx(|| format!("read {}", path.display()))?;
            chown(&entry.path(), Some(user), true)?;
        }
    }
    Ok(())
}

/// Fails early, with advice, when the server user cannot write `dir` (typically a parent
/// directory such as `/root` is not searchable by `postgres`).
pub(crate) fn check_access(dir: &Path, user: Option<ServerUser>) -> Result<()> {
    if user.is_none() {
        return Ok(());
    }
    let ok = command(Path::new("test"), user, Path::new("/"))
        .arg("-w")
        .arg(dir)
        .arg("-a")
        .arg("-x")
        .arg(dir)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(Error::Setup(format!(
            "the `postgres` user cannot enter {}: every parent directory must be searchable \
             by it (chmod o+x), or choose a state directory elsewhere (e.g. under /var/tmp)",
            dir.display()
        )))
    }
}
