//! The projector's errors. Each variant says which side failed, so an
//! operator knows whether to look at the read DB, the event store or Kafka.
//! Failures of single events are not errors here: they become dead letters.

#[derive(Debug, thiserror::Error)]
pub enum ProjectorError {
    #[error("read database error: {0}")]
    ReadDb(#[from] tokio_postgres::Error),
    #[error("no read database connection available: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("event store error: {0}")]
    EventStore(#[from] tally_event_store::StoreError),
    #[error("migration of the read database failed: {0}")]
    Migration(String),
    #[error("the read database has no {0:?} row in `projections`; run the projector's migrations")]
    NoProjection(&'static str),
    #[error(transparent)]
    Db(#[from] tally_platform::db::DbError),
    #[error("kafka: {0}")]
    Kafka(String),
    #[error("{0}")]
    Rebuild(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ProjectorError {
    /// Whether retrying the same work later may succeed (lost connection,
    /// deadlock, serialisation failure, timeouts), as opposed to a bug or bad
    /// data that would fail again.
    pub fn is_transient(&self) -> bool {
        match self {
            ProjectorError::ReadDb(e) => is_transient(e),
            ProjectorError::Pool(_) | ProjectorError::EventStore(_) | ProjectorError::Kafka(_) => true,
            _ => false,
        }
    }
}

/// Transient database failures: retry the whole transaction, never turn the
/// event into a dead letter. A lost connection
/// ([`connection_lost`](tally_platform::db::connection_lost)), or a server error of class 40
/// (deadlock, serialization), 53 (insufficient resources), 57 (operator intervention,
/// including statement timeouts) or 55P03 (lock timeout).
pub fn is_transient(e: &tokio_postgres::Error) -> bool {
    if tally_platform::db::connection_lost(e) {
        return true;
    }
    e.code().is_some_and(|code| {
        let c = code.code();
        c.starts_with("40") || c.starts_with("53") || c.starts_with("57") || c == "55P03"
    })
}
