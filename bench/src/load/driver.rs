//! One simulated client's closed loop: send a command, wait for it, send the next.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::client::{Conn, OpError};
use crate::latency::Latencies;
use crate::progress::Live;
use crate::window::Window;

/// Errors whose message is kept per client, for the report.
const SAMPLE_ERRORS: usize = 3;
const ERROR_BACKOFF: Duration = Duration::from_millis(10);

/// A filler that brings an update's bio near the baseline's ~200-byte payload, so both sides
/// write events of similar size.
const BIO_FILLER: &str = "Benchmark profile biography, deliberately long enough that the \
    event payload is close to the baseline row's two hundred bytes of jsonb.";

/// Shared by every client of one run.
#[derive(Debug)]
pub struct Plan {
    pub tag: usize,
    pub create_every: u64,
    pub max_ops: u64,
    pub timeout: Duration,
    pub window: Window,
}

pub struct SimClient {
    pub id: u32,
    pub conn: Conn,
    /// Profiles only this client updates.
    pub profiles: Vec<String>,
}

/// What one client measured.
#[derive(Default)]
pub struct Outcome {
    pub creates: Latencies,
    pub updates: Latencies,
    pub error_kinds: BTreeMap<String, u64>,
    pub sample_errors: Vec<String>,
}

/// Runs until the window closes or `max_ops` commands were sent, whichever comes first, so
/// the loop is bounded in both time and count. A command counts when it completes inside
/// the window; errors count whenever they happen (a healthy run has none, warm-up included).
pub async fn drive(mut client: SimClient, plan: Arc<Plan>, live: Arc<Live>) -> Outcome {
    let mut out = Outcome::default();
    let mut k: u64 = 0;
    while k < plan.max_ops && Instant::now() < plan.window.end {
        let is_create = plan.create_every > 0 && k % plan.create_every == plan.create_every - 1;
        let started = Instant::now();
        let result = if is_create {
            let handle = format!("b{}c{}n{k}", plan.tag, client.id);
            timed(plan.timeout, client.conn.create(&handle)).await.map(drop)
        } else {
            let profile = &client.profiles[(k as usize) % client.profiles.len()];
            // A bio that differs from the previous one, so every update appends one event.
            let bio = format!("{k:010} {BIO_FILLER}");
            timed(plan.timeout, client.conn.update(profile, &bio)).await
        };
        let done = Instant::now();
        match result {
            Ok(()) if plan.window.contains(done) => {
                let bucket = if is_create { &mut out.creates } else { &mut out.updates };
                bucket.record(done - started);
                live.ok.fetch_add(1, Ordering::Relaxed);
            }
            Ok(()) => {}
            Err(e) => {
                *out.error_kinds.entry(e.kind.clone()).or_insert(0) += 1;
                if out.sample_errors.len() < SAMPLE_ERRORS {
                    out.sample_errors.push(format!("client {}: {e}", client.id));
                }
                live.errors.fetch_add(1, Ordering::Relaxed);
                // A failing service often fails instantly; don't spin on it.
                tokio::time::sleep(ERROR_BACKOFF).await;
            }
        }
        k += 1;
    }
    out
}

async fn timed<T>(limit: Duration, op: impl Future<Output = Result<T, OpError>>) -> Result<T, OpError> {
    tokio::time::timeout(limit, op)
        .await
        .unwrap_or_else(|_| Err(OpError::new("timeout", format!("no answer within {limit:?}"))))
}
