//! Following the global order as it grows.
//!
//! A [`Tailer`] reads pages of `position > last` and, once caught up, sleeps
//! until the appender's `NOTIFY` says the head moved. The relay, the
//! single-node projector and event-store subscriptions are all tailers, so
//! none of them polls. Correctness does not depend on notifications (the
//! order is gap-free, see the migration); they only decide *when* to read.

use std::{sync::Arc, time::Duration};

use deadpool_postgres::Pool;
use futures::StreamExt;
use tally_platform::causes::Causes;
use tokio::sync::Notify;
use tokio_postgres::{AsyncMessage, NoTls};
use tokio_util::sync::CancellationToken;

use crate::{NOTIFY_CHANNEL, RecordedEvent, StoreError, reader};

/// A missed notification (e.g. while the listening connection was being
/// re-established) delays a reader by at most this long.
const SAFETY_RECHECK: Duration = Duration::from_secs(5);
/// Pause before re-opening a failed listening connection.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// Wakes tailers when new events are committed. One listener per process
/// serves any number of tailers.
#[derive(Clone)]
pub struct Listener {
    wake: Arc<Notify>,
}

impl Listener {
    /// Opens a dedicated connection that `LISTEN`s on the store's channel and
    /// keeps it open (reconnecting as needed) until `shutdown`.
    pub fn spawn(config: tokio_postgres::Config, shutdown: CancellationToken) -> Listener {
        let wake = Arc::new(Notify::new());
        tokio::spawn(listen(config, wake.clone(), shutdown));
        Listener { wake }
    }
}

async fn listen(config: tokio_postgres::Config, wake: Arc<Notify>, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                // The connection is driven by its own task; notifications come
                // back over a channel, and the channel closing means it failed.
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let driver = tokio::spawn(async move {
                    let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
                    while let Some(message) = messages.next().await {
                        match message {
                            Ok(AsyncMessage::Notification(_)) => {
                                if tx.send(()).is_err() {
                                    return;
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %Causes(&e), "listening connection failed; reconnecting");
                                return;
                            }
                        }
                    }
                });
                let statement = format!("LISTEN {NOTIFY_CHANNEL}");
                match client.batch_execute(&statement).await {
                    Err(e) => tracing::warn!(error = %Causes(&e), "LISTEN failed; retrying"),
                    Ok(()) => {
                        // Anything committed while we were not listening is
                        // found by the tailers' next read: wake them once.
                        wake.notify_waiters();
                        loop {
                            tokio::select! {
                                _ = shutdown.cancelled() => {
                                    driver.abort();
                                    return;
                                }
                                got = rx.recv() => match got {
                                    Some(()) => wake.notify_waiters(),
                                    None => break,
                                },
                            }
                        }
                    }
                }
                driver.abort();
            }
            Err(e) => tracing::warn!(error = %Causes(&e), "cannot open the listening connection; retrying"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(RECONNECT_DELAY) => {}
        }
    }
}

/// A reader of the global order from a position onwards.
pub struct Tailer {
    pool: Pool,
    listener: Listener,
    filter: reader::Filter,
    after: u64,
    page: i64,
}

impl Tailer {
    pub fn new(pool: Pool, listener: Listener, after: u64, filter: reader::Filter, page: i64) -> Self {
        Self { pool, listener, filter, after, page }
    }

    /// The position of the last event returned so far.
    pub fn position(&self) -> u64 {
        self.after
    }

    /// The next page without waiting; empty when caught up.
    pub async fn poll(&mut self) -> Result<Vec<RecordedEvent>, StoreError> {
        let client = self.pool.get().await?;
        let events = reader::read_all(&client, self.after, self.page, &self.filter).await?;
        if let Some(last) = events.last() {
            self.after = last.global_position;
        }
        Ok(events)
    }

    /// The next non-empty page, waiting for new commits when caught up.
    pub async fn next(&mut self) -> Result<Vec<RecordedEvent>, StoreError> {
        loop {
            // Registered before reading, so a commit between the read and the
            // wait still wakes us.
            let wake = self.listener.wake.clone();
            let notified = wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let events = self.poll().await?;
            if !events.is_empty() {
                return Ok(events);
            }
            let _ = tokio::time::timeout(SAFETY_RECHECK, notified).await;
        }
    }
}
