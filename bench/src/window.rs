//! The measurement window: one clock for both sides, and the resource samples at its edges.
//!
//! Both workloads run `warm-up + duration`; only what completes inside
//! `[start + warm-up, start + warm-up + duration]` counts. The samples are taken on timers
//! while the load is still running, so neither start-up nor wind-down leaks into them.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio_postgres::Client;

use crate::cpu::{self, CpuSplit, Watch};
use crate::wal::{self, DbDelta};

/// The window in wall-clock microseconds (pgbench logs completions in epoch time) and in
/// monotonic time (our own load generator).
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: Instant,
    pub end: Instant,
    pub start_epoch_us: u64,
    pub end_epoch_us: u64,
}

impl Window {
    /// A window opening `warmup` from now and lasting `duration`.
    pub fn after(warmup: Duration, duration: Duration) -> Self {
        let now = Instant::now();
        let epoch_now = epoch_us();
        let w = warmup.as_micros() as u64;
        let d = duration.as_micros() as u64;
        Self {
            start: now + warmup,
            end: now + warmup + duration,
            start_epoch_us: epoch_now + w,
            end_epoch_us: epoch_now + w + d,
        }
    }

    pub fn contains(&self, at: Instant) -> bool {
        at >= self.start && at <= self.end
    }

    pub fn contains_epoch_us(&self, at: u64) -> bool {
        at >= self.start_epoch_us && at <= self.end_epoch_us
    }

    pub fn seconds(&self) -> f64 {
        (self.end - self.start).as_secs_f64()
    }
}

/// Resources used inside the window.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Usage {
    pub cpu: CpuSplit,
    pub db: DbDelta,
}

/// Sleeps to the window's start, samples, sleeps to its end, samples again.
pub async fn observe(window: Window, admin: &Client, watch: Watch) -> anyhow::Result<Usage> {
    tokio::time::sleep_until(window.start.into()).await;
    let db_before = wal::sample(admin).await?;
    let cpu_before = cpu::sample(watch);
    tokio::time::sleep_until(window.end.into()).await;
    let cpu_after = cpu::sample(watch);
    let db_after = wal::sample(admin).await?;
    Ok(Usage { cpu: cpu::split(&cpu_before, &cpu_after), db: wal::delta(&db_before, &db_after) })
}

fn epoch_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}
