//! Store errors. The edge maps them to API errors; each variant says what a
//! client can do about it.

/// Failures of reads and infrastructure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] tokio_postgres::Error),
    #[error("no database connection available: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("stored metadata is not valid JSON: {0}")]
    Metadata(#[from] serde_json::Error),
    #[error("migration failed: {0}")]
    Migration(String),
}

impl StoreError {
    /// The database is out of reach — down, restarting, out of connections, or the connection
    /// dropped — rather than refusing what was asked: a retry may well succeed, so callers
    /// answer "unavailable" (503 / `UNAVAILABLE`) instead of an internal error.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Pool(_) => true,
            StoreError::Database(e) => tally_platform::db::connection_lost(e),
            StoreError::Metadata(_) | StoreError::Migration(_) => false,
        }
    }
}

/// Why an append was refused or failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppendError {
    #[error("stream {stream_id} is at version {current}, not the expected {expected}")]
    Conflict { stream_id: String, expected: String, current: u64 },
    #[error("{scope} {key:?} is already taken")]
    KeyTaken { scope: String, key: String },
    #[error("command id {command_id:?} was already used for a different command")]
    CommandIdReused { command_id: String },
    /// The transaction failed; nothing of this batch was written, so a retry
    /// (with the same command id) is safe.
    #[error("the event store is unavailable: {0}")]
    Unavailable(String),
    #[error("the appender is shutting down")]
    ShuttingDown,
}
