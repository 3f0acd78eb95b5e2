//! Open-loop load at a fixed rate, free of coordinated omission.
//!
//! Request `k` is due at `start + k / rate`, whatever happened to the ones before: the
//! scheduler sleeps until it is due and hands it to a new task, so a slow answer never delays
//! the next arrival (a closed loop would wait, send less, and hide exactly the stalls this
//! measures). Latency counts from the due time, so time spent waiting for a free connection
//! or behind a late scheduler is included — except tokio's 1 ms timer resolution: up to that
//! much lateness of the wake-up is credited back, since it is the clock's grain, not queueing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::latency::{Latencies, LatencySummary};
use crate::window::Window;

const TIMER_GRAIN: Duration = Duration::from_millis(1);
const SAMPLE_ERRORS: usize = 5;

/// Connections (or clients) one request at a time uses; taking one waits for a free one.
pub struct Pool<T> {
    tx: mpsc::UnboundedSender<T>,
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<T>>,
}

impl<T> Pool<T> {
    pub fn new(items: impl IntoIterator<Item = T>) -> Arc<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        for item in items {
            let _ = tx.send(item);
        }
        Arc::new(Self { tx, rx: tokio::sync::Mutex::new(rx) })
    }

    async fn take(&self) -> T {
        // The pool holds its own sender, so the channel never closes while it exists.
        self.rx.lock().await.recv().await.expect("the pool keeps its sender")
    }

    fn put(&self, item: T) {
        let _ = self.tx.send(item);
    }
}

/// What one open-loop run measured; only requests due inside the window count.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OpenResult {
    pub target_rate: f64,
    /// Answers to requests due inside the window, per second of window.
    pub achieved_rate: f64,
    pub completed: u64,
    /// Requests never sent because `max_in_flight` were already waiting (overload).
    pub shed: u64,
    /// Failed requests over the whole run, warm-up included (must be 0).
    pub errors: u64,
    pub error_kinds: BTreeMap<String, u64>,
    pub sample_errors: Vec<String>,
    /// From the due time to the answer.
    pub latency: LatencySummary,
    /// From sending (a connection in hand) to the answer: the service's share.
    pub service_latency: LatencySummary,
}

#[derive(Default)]
struct Tally {
    latency: Latencies,
    service: Latencies,
    error_kinds: BTreeMap<String, u64>,
    sample_errors: Vec<String>,
}

/// Runs `op` at `rate` per second from now until `window` ends; `op` gets a pooled item and
/// the request number, and gives the item back with its result (`Err(kind, detail)`).
pub async fn run<T, F, Fut>(rate: f64, window: Window, max_in_flight: usize, pool: Arc<Pool<T>>, op: F) -> OpenResult
where
    T: Send + 'static,
    F: Fn(T, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = (T, Result<(), (String, String)>)> + Send + 'static,
{
    let op = Arc::new(op);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut tasks = JoinSet::new();
    let start = Instant::now();
    let mut shed = 0;
    for k in 0u64.. {
        let due = start + Duration::from_secs_f64(k as f64 / rate);
        if due >= window.end {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let credit = due.elapsed().min(TIMER_GRAIN);
        while tasks.try_join_next().is_some() {}
        if tasks.len() >= max_in_flight {
            shed += u64::from(window.contains(due));
            continue;
        }
        let (pool, op, tally) = (pool.clone(), op.clone(), tally.clone());
        tasks.spawn(async move {
            let item = pool.take().await;
            let sent = Instant::now();
            let (item, result) = op(item, k).await;
            let done = Instant::now();
            pool.put(item);
            let mut t = tally.lock().expect("no panics while locked");
            match result {
                Ok(()) if window.contains(due) => {
                    t.latency.record((done - due).saturating_sub(credit));
                    t.service.record(done - sent);
                }
                Ok(()) => {}
                Err((kind, detail)) => {
                    *t.error_kinds.entry(kind.clone()).or_insert(0) += 1;
                    if t.sample_errors.len() < SAMPLE_ERRORS {
                        t.sample_errors.push(format!("{kind}: {detail}"));
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let t = std::mem::take(&mut *tally.lock().expect("no panics while locked"));
    let latency = t.latency.summary();
    OpenResult {
        target_rate: rate,
        achieved_rate: latency.count as f64 / window.seconds(),
        completed: latency.count,
        shed,
        errors: t.error_kinds.values().sum(),
        error_kinds: t.error_kinds,
        sample_errors: t.sample_errors,
        latency,
        service_latency: t.service.summary(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn holds_the_rate_and_charges_a_stall_to_every_request_due_during_it() {
        // One connection and a 200 ms stall on request 10: in a closed loop only request 10
        // would be slow; open loop, the ~20 due during the stall wait for the connection.
        let window = Window::after(Duration::ZERO, Duration::from_millis(500));
        let pool = Pool::new([()]);
        let result = run(100.0, window, 1000, pool, |item, k| async move {
            if k == 10 {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            (item, Ok(()))
        })
        .await;
        assert!((45..=51).contains(&result.completed), "{result:?}");
        assert_eq!(result.errors, 0);
        assert!(result.latency.p90_ms >= 50.0, "queued requests count their wait: {result:?}");
        assert!(result.service_latency.p50_ms < 5.0, "{result:?}");
    }

    #[tokio::test]
    async fn counts_errors_and_sheds_beyond_the_in_flight_cap() {
        let window = Window::after(Duration::ZERO, Duration::from_millis(300));
        let pool = Pool::new([(), ()]);
        let result = run(200.0, window, 2, pool, |item, _| async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            (item, Err(("boom".to_owned(), "always".to_owned())))
        })
        .await;
        assert!(result.errors > 0 && result.completed == 0, "{result:?}");
        assert!(result.shed > 0, "two in flight cannot carry 200/s of 50 ms requests: {result:?}");
        assert_eq!(result.error_kinds.get("boom"), Some(&result.errors));
    }
}
