//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while starting or supervising local infrastructure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// A helper program (initdb, pg_ctl, …) ran and failed; `output` is what it printed.
    #[error("`{command}` failed ({status}):\n{output}")]
    Command { command: String, status: String, output: String },

    #[error("postgres query failed")]
    Postgres(#[from] tokio_postgres::Error),

    #[error("binary `{name}` not found at {}: run `cargo build --bins` (profile `{profile}`) first", path.display())]
    BinaryMissing { name: String, path: PathBuf, profile: String },

    /// A supervised service exited early or never became ready.
    #[error("service `{name}` {reason}; log: {}\n--- last log lines ---\n{tail}", log.display())]
    Service { name: String, reason: String, log: PathBuf, tail: String },

    /// The environment is not as required (missing user, unreadable directory, busy cluster).
    #[error("{0}")]
    Setup(String),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches a human description to an `io::Error`.
pub(crate) trait IoContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Io { context: context(), source })
    }
}
