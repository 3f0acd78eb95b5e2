//! Subscriptions: the stored events after a position (catch-up), one
//! `CaughtUp`, then new events as they commit (live).
//!
//! Each subscription is a task feeding a small bounded channel. A slow client
//! therefore slows its own task (backpressure) instead of growing a buffer,
//! and the task holds no database connection while it waits. It ends when
//! the client goes away (the channel closes), when the server shuts down, or
//! on a store failure, which it reports as the last item.

use tally_event_store::{RecordedEvent, reader::Filter, tail::Tailer};
use tally_platform::error::{ApiError, ErrorKind};
use tokio::sync::mpsc;
use tracing::Instrument;

use super::{reads::EventReads, store_failed};

/// Events read per query while catching up and per wake-up while live.
const PAGE: i64 = 100;
/// Items buffered between the task and the client's connection.
const BUFFER: usize = 16;

/// One item of a subscription.
// Nearly every item is an event; boxing it would cost an allocation per
// event to shrink the one `CaughtUp` of each subscription.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Delivery {
    Event(RecordedEvent),
    /// Sent once: every matching event up to `head_position` was delivered.
    CaughtUp {
        head_position: u64,
    },
}

pub type Deliveries = mpsc::Receiver<Result<Delivery, ApiError>>;

/// Counts live subscriptions in a gauge, also when the task is dropped.
struct Active;

impl Active {
    fn start() -> Active {
        metrics::gauge!("tally_event_subscriptions").increment(1.0);
        Active
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        metrics::gauge!("tally_event_subscriptions").decrement(1.0);
    }
}

impl EventReads {
    /// Follows the global order after `after`, keeping only `filter`'s events.
    pub fn subscribe(&self, after: u64, filter: Filter) -> Deliveries {
        let (tx, rx) = mpsc::channel(BUFFER);
        let reads = self.clone();
        let span = tracing::info_span!(
            "subscription",
            after,
            categories = ?filter.categories,
            event_types = ?filter.event_types
        );
        tokio::spawn(
            async move {
                let _active = Active::start();
                tracing::debug!("subscription started");
                tokio::select! {
                    failed = reads.follow(after, &filter, &tx) => {
                        if let Err(e) = failed {
                            tokio::select! {
                                _ = tx.send(Err(e)) => {}
                                _ = reads.shutdown.cancelled() => {}
                            }
                        }
                    }
                    _ = tx.closed() => tracing::debug!("subscriber went away"),
                    _ = reads.shutdown.cancelled() => {
                        // Best effort: a full buffer means the client is not
                        // reading anyway, and the stream's end says enough.
                        let _ = tx.try_send(Err(ApiError::new(
                            ErrorKind::Unavailable,
                            "the server is shutting down; subscribe again after the last position received",
                        )));
                    }
                }
                tracing::debug!("subscription ended");
            }
            .instrument(span),
        );
        rx
    }

    /// Delivers until the client goes away (`Ok`) or the store fails.
    async fn follow(
        &self,
        mut cursor: u64,
        filter: &Filter,
        tx: &mpsc::Sender<Result<Delivery, ApiError>>,
    ) -> Result<(), ApiError> {
        let mut caught_up = false;
        loop {
            let page = self.read_all(cursor, PAGE, filter).await?;
            let full = page.events.len() as i64 == PAGE;
            for event in page.events {
                if tx.send(Ok(Delivery::Event(event))).await.is_err() {
                    return Ok(());
                }
            }
            cursor = page.next_after_position;
            if full {
                continue;
            }
            if !caught_up {
                caught_up = true;
                let head_position = page.head_position;
                if tx.send(Ok(Delivery::CaughtUp { head_position })).await.is_err() {
                    return Ok(());
                }
            }
            self.wait_for_commit_after(cursor).await?;
        }
    }

    /// Returns once an event after `position` is committed, of any category:
    /// an unfiltered tailer of page size 1 is the cheapest "has the head
    /// moved" the store offers, and it is woken by NOTIFY, never polls.
    async fn wait_for_commit_after(&self, position: u64) -> Result<(), ApiError> {
        let mut tailer = Tailer::new(self.pool.clone(), self.listener.clone(), position, Filter::default(), 1);
        tailer.next().await.map(drop).map_err(store_failed)
    }
}
