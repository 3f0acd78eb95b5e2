//! Read failures and their one mapping into the API taxonomy.

use std::{sync::Arc, time::Duration};

use tally_platform::{
    causes::Causes,
    error::{ApiError, ErrorKind},
};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{what} {key} not found")]
    NotFound { what: &'static str, key: String },
    /// The read model has not reached the position the client asked for
    /// within the bounded wait.
    #[error("the read model is at position {projected}, behind the requested {min_position}")]
    Behind { projected: u64, min_position: u64 },
    #[error("no read-DB connection available: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("read-DB query failed: {0}")]
    Query(#[from] tokio_postgres::Error),
    /// A row does not have the shape this build expects (a column missing,
    /// or a jsonb value that does not decode): never the client's fault.
    #[error("read-DB row does not decode: {0}")]
    Decode(String),
    /// A statistics read without a valid read key for its site.
    #[error("{0}")]
    Unauthenticated(crate::stats::access::Refusal),
    /// The task that runs coalesced reads is gone (the runtime is shutting down).
    #[error("the profile lookup dispatcher stopped")]
    DispatcherStopped,
    /// One failure answered to every request of a coalesced read (see `batch.rs`), which
    /// logged it once.
    #[error("{0}")]
    Shared(Arc<ReadError>),
}

/// How long a client should wait before retrying an answer that was not
/// fresh enough or could not reach the database.
const RETRY_AFTER: Duration = Duration::from_secs(1);

impl ReadError {
    /// Logs errors that are ours (not the client's) where they are handled:
    /// at the transport edge, once per request.
    pub fn log_if_internal(&self) {
        match self {
            ReadError::Pool(e) => tracing::warn!(error = %Causes(&e), "read DB unavailable"),
            ReadError::Query(e) => tracing::error!(error = %Causes(&e), "read-DB query failed"),
            ReadError::Decode(reason) => tracing::error!(reason, "read-DB row does not decode"),
            ReadError::DispatcherStopped => tracing::error!("the profile lookup dispatcher stopped"),
            // Refusals are logged (at debug, without secrets) where they are decided.
            ReadError::NotFound { .. }
            | ReadError::Behind { .. }
            | ReadError::Unauthenticated(_)
            | ReadError::Shared(_) => {}
        }
    }
}

impl From<ReadError> for ApiError {
    fn from(e: ReadError) -> Self {
        Self::from(&e)
    }
}

impl From<&ReadError> for ApiError {
    fn from(e: &ReadError) -> Self {
        match e {
            ReadError::NotFound { .. } => ApiError::new(ErrorKind::NotFound, e.to_string()),
            ReadError::Unauthenticated(why) => ApiError::new(ErrorKind::Unauthenticated, why.to_string()),
            &ReadError::Behind { projected, min_position } => ApiError::new(
                ErrorKind::Unavailable,
                format!(
                    "the read model has reached position {projected}, not yet the requested min_position \
                     {min_position} (lag {}); retry shortly",
                    min_position.saturating_sub(projected)
                ),
            )
            .with_meta("projected_position", projected)
            .with_meta("min_position", min_position)
            .with_meta("lag", min_position.saturating_sub(projected))
            .with_retry_after(RETRY_AFTER),
            ReadError::Pool(_) => ApiError::new(ErrorKind::Unavailable, "the read database is unavailable; retry")
                .with_retry_after(RETRY_AFTER),
            ReadError::Query(q) if tally_platform::db::connection_lost(q) => {
                ApiError::new(ErrorKind::Unavailable, "the read database is unavailable; retry")
                    .with_retry_after(RETRY_AFTER)
            }
            ReadError::Query(_) | ReadError::Decode(_) | ReadError::DispatcherStopped => ApiError::internal(),
            ReadError::Shared(first) => Self::from(first.as_ref()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behind_is_unavailable_with_the_lag() {
        let err = ApiError::from(ReadError::Behind { projected: 7, min_position: 10 });
        assert_eq!(err.kind, ErrorKind::Unavailable);
        assert_eq!(err.metadata["lag"], 3);
        assert_eq!(err.metadata["projected_position"], 7);
        assert_eq!(err.metadata["min_position"], 10);
        assert_eq!(err.retry_after, Some(RETRY_AFTER));
    }

    #[test]
    fn a_refused_read_key_is_unauthenticated_and_says_no_more_than_that() {
        use crate::stats::access::Refusal;
        let err = ApiError::from(ReadError::Unauthenticated(Refusal::Invalid));
        assert_eq!((err.kind.http_status().as_u16(), err.kind.grpc_code()), (401, tonic::Code::Unauthenticated));
        assert_eq!(err.detail, "the read key is not valid for this site");
        let missing = ApiError::from(ReadError::Unauthenticated(Refusal::Missing)).detail;
        assert!(missing.contains("Authorization") && missing.contains("Bearer <key_id>.<secret>"), "{missing}");
    }
}
