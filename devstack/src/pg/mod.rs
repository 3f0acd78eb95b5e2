//! Real PostgreSQL clusters for tests and the local dev stack.

mod ctl;
mod reap;
mod server;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, IoContext, Result};
use crate::proc::ProcessStamp;
use crate::watchdog::Watchdog;
use ctl::ServerUser;

pub use reap::{ReapReport, reap_stale};
pub(crate) use server::postmaster;
use server::{
    basebackup, initdb, pg_ctl_start, pg_ctl_stop, point_replica_at, port_was_taken, spawn_watchdog,
    take_over_from_dead_owner, write_settings,
};
pub use server::{running_cluster_port, stop_cluster_at};

/// Prefix of temp directories holding ephemeral clusters; [`reap_stale`] looks for it.
pub(crate) const TEMP_PREFIX: &str = "tally-pg-";
/// File in the cluster's base directory naming the process that owns the cluster.
pub(crate) const OWNER_FILE: &str = "harness.pid";
/// The superuser created by initdb; auth is `trust` on loopback, so no password.
pub const SUPERUSER: &str = "tally";

/// How to start a [`PgCluster`].
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Base directory (the cluster lives in `<dir>/data`). `None` = a fresh temp directory,
    /// removed on drop. A persistent directory that already holds a cluster is reused.
    pub dir: Option<PathBuf>,
    /// Loopback port; 0 picks a free one.
    pub port: u16,
    /// `false` turns off fsync, synchronous_commit and full_page_writes: fast, for tests only.
    pub durable: bool,
    pub max_connections: u32,
    /// A Postgres size such as `128MB`.
    pub shared_buffers: String,
    /// More `postgresql.conf` lines as (name, value), e.g. to preload `pg_stat_statements`
    /// for a profile. Values are written as given: quote strings yourself.
    pub extra_settings: Vec<(String, String)>,
    /// Make this cluster a streaming replica of the primary on this loopback port: a new
    /// cluster is cloned with `pg_basebackup -R` instead of initdb (an existing one, which
    /// keeps its `standby.signal`, simply starts again as a replica).
    pub replica_of: Option<u16>,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            dir: None,
            port: 0,
            durable: false,
            max_connections: 200,
            shared_buffers: "128MB".to_owned(),
            extra_settings: Vec::new(),
            replica_of: None,
        }
    }
}

/// A running PostgreSQL server owned by this process.
///
/// Dropping it stops the server (`immediate` for ephemeral clusters, `fast` for durable
/// ones) and removes a temp directory, also while a test panics. If this process dies
/// without dropping it, a watchdog does the same within about a second.
#[derive(Debug)]
pub struct PgCluster {
    base: PathBuf,
    data: PathBuf,
    port: u16,
    durable: bool,
    reused: bool,
    bin: PathBuf,
    user: Option<ServerUser>,
    /// Taken on stop; `None` afterwards makes `stop` idempotent.
    running: Mutex<Option<Running>>,
}

#[derive(Debug)]
struct Running {
    watchdog: Watchdog,
    temp: Option<tempfile::TempDir>,
}

impl PgCluster {
    /// Starts a cluster (initdb first unless a persistent directory already holds one).
    pub async fn start(opts: PgOptions) -> Result<Self> {
        tokio::task::spawn_blocking(move || Self::start_blocking(opts))
            .await
            .map_err(|e| Error::Setup(format!("cluster start task failed: {e}")))?
    }

    /// Blocking variant of [`PgCluster::start`] (about a second for a fresh cluster).
    pub fn start_blocking(opts: PgOptions) -> Result<Self> {
        let bin = ctl::bin_dir()?;
        let user = ctl::server_user()?;
        let (base, temp) = match &opts.dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).ctx(|| format!("create {}", dir.display()))?;
                let dir = std::fs::canonicalize(dir).ctx(|| format!("resolve {}", dir.display()))?;
                (dir, None)
            }
            None => {
                let temp = tempfile::Builder::new()
                    .prefix(TEMP_PREFIX)
                    .tempdir()
                    .ctx(|| "create temp dir for postgres".to_owned())?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        let data = base.join("data");
        let owner_file = base.join(OWNER_FILE);
        take_over_from_dead_owner(&base, &data, &bin, user)?;
        // Written before anything slow so reap_stale never mistakes us for a leftover.
        ProcessStamp::current().write(&owner_file)?;

        let reused = data.join("PG_VERSION").is_file();
        std::fs::create_dir_all(base.join("run")).ctx(|| format!("create {}/run", base.display()))?;
        ctl::chown(&base, user, false)?;
        ctl::chown(&base.join("run"), user, false)?;
        ctl::check_access(&base, user)?;
        if !reused {
            match opts.replica_of {
                Some(primary) => basebackup(&bin, &data, primary, &opts, user, &base)?,
                None => initdb(&bin, &data, user, &base)?,
            }
        }
        if let Some(primary) = opts.replica_of {
            point_replica_at(&data, primary, user)?;
        }

        let mut attempt = 0;
        let port = loop {
            attempt += 1;
            let port = match opts.port {
                0 => crate::net::free_port()?,
                p => p,
            };
            write_settings(&data, &base, port, &opts, user)?;
            match pg_ctl_start(&bin, &base, &data, user) {
                Ok(()) => break port,
                // Someone took the port between our probe and the server's bind: pick again.
                Err(_) if opts.port == 0 && attempt < 5 && port_was_taken(&base) => {}
                Err(e) => return Err(e),
            }
        };

        let watchdog = match spawn_watchdog(&base, &data, opts.durable, temp.is_some()) {
            Ok(w) => w,
            Err(e) => {
                // Without a watchdog the server could outlive us; do not leave it running.
                let _ = pg_ctl_stop(&bin, &base, &data, user, "fast");
                return Err(e);
            }
        };
        Ok(Self {
            base,
            data,
            port,
            durable: opts.durable,
            reused,
            bin,
            user,
            running: Mutex::new(Some(Running { watchdog, temp })),
        })
    }

    /// The loopback TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connection URL for database `db` as the trusted superuser.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{db}", self.port)
    }

    /// The base directory (data dir, socket dir, `postgres.log`).
    pub fn dir(&self) -> &Path {
        &self.base
    }

    /// The server log file.
    pub fn log_path(&self) -> PathBuf {
        self.base.join("postgres.log")
    }

    /// True when `start` found an existing cluster in a persistent directory.
    pub fn reused(&self) -> bool {
        self.reused
    }

    /// Creates database `name` (letters, digits and `_` only).
    pub async fn create_database(&self, name: &str) -> Result<()> {
        let client = self.admin_client().await?;
        client.batch_execute(&format!("CREATE DATABASE \"{}\"", checked_ident(name)?)).await?;
        Ok(())
    }

    /// Creates database `name` unless it exists; true when it was created.
    pub async fn ensure_database(&self, name: &str) -> Result<bool> {
        let client = self.admin_client().await?;
        let exists = client.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name]).await?.is_some();
        if !exists {
            client.batch_execute(&format!("CREATE DATABASE \"{}\"", checked_ident(name)?)).await?;
        }
        Ok(!exists)
    }

    /// Stops the server (and removes a temp directory). Idempotent; blocks for up to a few
    /// seconds, so call it from `spawn_blocking` when latency matters.
    pub fn stop(&self) -> Result<()> {
        let Some(running) = self.running.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return Ok(());
        };
        let mode = if self.durable { "fast" } else { "immediate" };
        let result = pg_ctl_stop(&self.bin, &self.base, &self.data, self.user, mode);
        running.watchdog.disarm();
        if let Some(temp) = running.temp {
            let path = temp.path().to_path_buf();
            temp.close().ctx(|| format!("remove {}", path.display()))?;
        } else {
            let _ = std::fs::remove_file(self.base.join(OWNER_FILE));
        }
        result
    }

    async fn admin_client(&self) -> Result<tokio_postgres::Client> {
        let (client, conn) = tokio_postgres::connect(&self.url("postgres"), tokio_postgres::NoTls).await?;
        // The connection task ends by itself when `client` is dropped.
        tokio::spawn(conn);
        Ok(client)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // Errors cannot be returned from drop; the watchdog-less state is still consistent.
        let _ = self.stop();
    }
}

/// Database names go into SQL text, so only plain identifiers are accepted.
fn checked_ident(name: &str) -> Result<&str> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(name)
    } else {
        Err(Error::Setup(format!("invalid database name {name:?}: use letters, digits and `_`")))
    }
}
