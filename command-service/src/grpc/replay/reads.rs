//! Pages of one stream or of the global order.

use std::time::Duration;

use deadpool_postgres::Pool;
use tally_event_store::{RecordedEvent, StoreError, reader, tail::Listener};
use tally_platform::{
    causes::Causes,
    error::{ApiError, ErrorKind},
};
use tokio_util::sync::CancellationToken;

use super::params::StreamId;

/// Read access to the event store for consumers, plus what subscriptions
/// need to follow it live. Cheap to clone.
#[derive(Clone)]
pub struct EventReads {
    pub(super) pool: Pool,
    pub(super) listener: Listener,
    /// Ends every subscription; fired when the server stops serving.
    pub(super) shutdown: CancellationToken,
}

/// A page of one stream, in stream order.
#[derive(Debug)]
pub struct StreamPage {
    pub events: Vec<RecordedEvent>,
    /// The page reaches the current end of the stream.
    pub end_of_stream: bool,
    /// The `from_version` of the next page.
    pub next_version: u64,
}

/// A page of the global order.
#[derive(Debug)]
pub struct AllPage {
    pub events: Vec<RecordedEvent>,
    /// Where the next page starts. Past the last event when the filter
    /// skipped the rest of the readable store, so a filtered reader does
    /// not re-scan what it already passed.
    pub next_after_position: u64,
    /// The readable head when the page was read (at least the last event's
    /// position).
    pub head_position: u64,
}

impl EventReads {
    pub fn new(pool: Pool, listener: Listener, shutdown: CancellationToken) -> Self {
        Self { pool, listener, shutdown }
    }

    /// Up to `limit` events of `stream` from version `from_version` on (0
    /// and 1 both mean the start).
    #[tracing::instrument(skip_all, fields(stream_id = %stream.id, from_version, limit))]
    pub async fn read_stream(&self, stream: &StreamId, from_version: u64, limit: i64) -> Result<StreamPage, ApiError> {
        let client = self.pool.get().await.map_err(|e| store_failed(e.into()))?;
        // One extra row tells whether the stream goes on, without a second query.
        let mut events =
            reader::read_stream(&client, &stream.category, &stream.id, from_version.saturating_sub(1), limit + 1)
                .await
                .map_err(store_failed)?;
        let end_of_stream = events.len() as i64 <= limit;
        events.truncate(limit as usize);
        let next_version = events.last().map_or(from_version.max(1), |e| e.stream_version + 1);
        Ok(StreamPage { events, end_of_stream, next_version })
    }

    /// Up to `limit` events after `after` in global order, matching `filter`.
    #[tracing::instrument(skip_all, fields(after, limit, categories = ?filter.categories, event_types = ?filter.event_types))]
    pub async fn read_all(&self, after: u64, limit: i64, filter: &reader::Filter) -> Result<AllPage, ApiError> {
        let client = self.pool.get().await.map_err(|e| store_failed(e.into()))?;
        // The head is read first: the order is gap-free, so every event up to
        // it is visible to the page query that follows.
        let head = reader::head_position(&client).await.map_err(store_failed)?;
        let events = reader::read_all(&client, after, limit, filter).await.map_err(store_failed)?;
        let last = events.last().map(|e| e.global_position);
        let next_after_position = match last {
            // A full page may have more behind it.
            Some(last) if events.len() as i64 == limit => last,
            // A short page saw every match up to the head.
            _ => last.unwrap_or(after).max(head).max(after),
        };
        Ok(AllPage { events, next_after_position, head_position: head.max(last.unwrap_or(0)) })
    }
}

/// An unreachable database is worth a retry; anything else is ours.
pub(super) fn store_failed(e: StoreError) -> ApiError {
    match e {
        e if e.is_unavailable() => {
            tracing::warn!(error = %Causes(&e), "event store read failed");
            ApiError::new(ErrorKind::Unavailable, "the event store is unavailable; retry shortly")
                .with_retry_after(Duration::from_secs(1))
        }
        other => {
            tracing::error!(error = %other, "event store read failed");
            ApiError::internal()
        }
    }
}
