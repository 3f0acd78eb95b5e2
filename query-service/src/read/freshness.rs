//! Waiting for the projector: the bounded wait behind `min_position`.
//!
//! One background task re-reads the projected position every
//! `poll_interval` — but only while at least one request is waiting — and
//! publishes it on a `watch` channel that all waiting requests share. So a
//! thousand waiting requests cost one tiny query per interval, not a
//! thousand.
//!
//! Why polling and not LISTEN/NOTIFY: in production the read DB is a
//! streaming replica, and Postgres does not deliver notifications on a hot
//! standby (they are not WAL-logged). The poll reads a few index entries of
//! `projector_offsets`' primary key, which stays tiny (one row per
//! partition), and only runs while someone waits.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use deadpool_postgres::Pool;
use tally_platform::causes::Causes;
use tokio::{
    sync::{Notify, watch},
    task::JoinHandle,
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use super::{ReadError, sql};

/// A handle on the shared poller; cheap to clone.
#[derive(Clone)]
pub struct Freshness {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    consumer: String,
    /// The position query, with the consumer as `$1`.
    sql: String,
    poll_interval: Duration,
    /// The latest position read by the poller.
    latest: watch::Sender<i64>,
    waiters: AtomicUsize,
    wake: Notify,
}

/// Counts a request as waiting for as long as it lives, and wakes the
/// poller when the first one arrives.
struct Waiting<'a>(&'a Inner);

impl<'a> Waiting<'a> {
    fn register(inner: &'a Inner) -> Self {
        inner.waiters.fetch_add(1, Ordering::SeqCst);
        // `notify_one` stores a permit when the poller is not parked yet, so
        // a waiter that arrives between its check and its park is not missed.
        inner.wake.notify_one();
        Self(inner)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiters.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Freshness {
    /// Starts the poller; it stops when `shutdown` fires.
    pub fn spawn(
        pool: Pool,
        consumer: String,
        poll_interval: Duration,
        shutdown: CancellationToken,
    ) -> (Self, JoinHandle<()>) {
        let (latest, _) = watch::channel(0);
        let inner = Arc::new(Inner {
            pool,
            consumer,
            sql: sql::projected(1),
            poll_interval,
            latest,
            waiters: AtomicUsize::new(0),
            wake: Notify::new(),
        });
        let task = tokio::spawn(poll(inner.clone(), shutdown));
        (Self { inner }, task)
    }

    pub fn consumer(&self) -> &str {
        &self.inner.consumer
    }

    /// Waits until a poll that started after this call sees a position
    /// ≥ `min`, or until `deadline`. Returns the last position it saw
    /// (`None` if no poll finished in time).
    pub async fn wait(&self, min: i64, deadline: Instant) -> Result<i64, Option<i64>> {
        let mut rx = self.inner.latest.subscribe();
        let _waiting = Waiting::register(&self.inner);
        // Only values polled after this request registered count: an old
        // value says nothing about now.
        rx.mark_unchanged();
        let mut seen = None;
        let reached = tokio::time::timeout_at(deadline, async {
            while rx.changed().await.is_ok() {
                let position = *rx.borrow_and_update();
                seen = Some(position);
                if position >= min {
                    return true;
                }
            }
            false
        })
        .await;
        match (reached, seen) {
            (Ok(true), Some(position)) => Ok(position),
            _ => Err(seen),
        }
    }
}

async fn projected(inner: &Inner) -> Result<i64, ReadError> {
    let client = inner.pool.get().await?;
    let stmt = client.prepare_cached(&inner.sql).await?;
    Ok(client.query_one(&stmt, &[&inner.consumer]).await?.try_get(0)?)
}

async fn poll(inner: Arc<Inner>, shutdown: CancellationToken) {
    loop {
        if inner.waiters.load(Ordering::SeqCst) == 0 {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = inner.wake.notified() => continue,
            }
        }
        match projected(&inner).await {
            Ok(position) => {
                inner.latest.send_replace(position);
            }
            // Waiters time out with their own deadline; the next tick retries.
            Err(e) => tracing::warn!(error = %Causes(&e), "cannot read the projected position"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(inner.poll_interval) => {}
        }
    }
}
