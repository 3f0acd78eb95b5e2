//! The baseline: what the same Postgres does with the simplest possible event append.
//!
//! pgbench runs a one-row INSERT per transaction into an event-shaped table (bigint identity
//! key, uuid, text, ~200-byte jsonb payload, timestamp) with prepared statements. Each
//! transaction commits on its own, so it pays one durable WAL flush per event unless
//! Postgres happens to group concurrent commits. No validation, no idempotency, no
//! aggregate: an upper bound for "one event = one transaction".

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use tokio_postgres::Client;

use crate::cpu::Watch;
use crate::latency::{Latencies, LatencySummary};
use crate::progress::Progress;
use crate::window::{self, Usage, Window};

/// The baseline database and its table.
pub const DATABASE: &str = "baseline";

const SCHEMA: &str = "
CREATE TABLE bench_events (
    global_position bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL,
    payload         jsonb       NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
)";

/// One INSERT per transaction (pgbench wraps each script run in its own implicit
/// transaction). The payload is built server-side, so prepared mode binds only `:n`.
pub const SCRIPT: &str = "\\set n random(1, 1000000000)
INSERT INTO bench_events (event_id, event_type, payload) VALUES (gen_random_uuid(), 'ProfileUpdated', jsonb_build_object('bio', repeat('x', 160), 'n', :n::bigint, 'actor', 'tally-bench'));
";

/// Seconds pgbench keeps running after our window closes, so the closing samples are taken
/// under load rather than while its clients disconnect.
const SLACK_SECS: u64 = 1;

pub struct Baseline {
    pub program: PathBuf,
    /// The database pgbench runs in, and the script each transaction runs (prepared).
    pub database: &'static str,
    pub script: String,
    pub port: u16,
    pub user: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct BaselineResult {
    pub concurrency: u32,
    pub threads: u32,
    /// Transactions completed inside the window, per second.
    pub tps: f64,
    pub transactions: u64,
    pub latency: LatencySummary,
    /// Failed transactions over the whole run (must be 0).
    pub failed: u64,
    /// pgbench's own figure over its whole run, warm-up included, for cross-checking.
    pub pgbench_reported_tps: Option<f64>,
    pub usage: Usage,
}

/// Creates the table with `seed_rows` rows in it, as the Tally side is seeded with profiles.
pub async fn prepare(db: &Client, seed_rows: u32) -> anyhow::Result<()> {
    db.batch_execute(SCHEMA).await.context("creating the baseline table")?;
    db.execute(
        "INSERT INTO bench_events (event_id, event_type, payload) \
         SELECT gen_random_uuid(), 'ProfileCreated', jsonb_build_object('bio', repeat('x', 160), 'n', n) \
         FROM generate_series(1, $1::int) AS n",
        &[&(seed_rows as i32)],
    )
    .await
    .context("seeding the baseline table")?;
    Ok(())
}

impl Baseline {
    /// Runs pgbench at `concurrency` for warm-up + duration and measures the window.
    pub async fn run(
        &self,
        concurrency: u32,
        warmup: Duration,
        duration: Duration,
        admin: &Client,
        watch: Watch,
        progress: &Progress,
    ) -> anyhow::Result<BaselineResult> {
        let dir = tempfile::Builder::new()
            .prefix("tally-bench-pgbench-")
            .tempdir()
            .context("creating a temp dir for pgbench")?;
        let script = dir.path().join("append.sql");
        std::fs::write(&script, &self.script).context("writing the pgbench script")?;
        // pgbench's threads are its client-side CPUs; more than two on a 2-core box only
        // adds context switches.
        let threads = concurrency.min(2);
        // Whole seconds: -T takes an integer.
        let secs = (warmup + duration).as_secs_f64().ceil() as u64 + SLACK_SECS;

        let window = Window::after(warmup, duration);
        let child = tokio::process::Command::new(&self.program)
            .args(["-n", "-h", "127.0.0.1", "-U", self.user, "-M", "prepared", "--log"])
            .arg(format!("--log-prefix={}", dir.path().join("tx").display()))
            .arg(format!("--port={}", self.port))
            .arg(format!("--client={concurrency}"))
            .arg(format!("--jobs={threads}"))
            .arg(format!("--time={secs}"))
            .arg(format!("--file={}", script.display()))
            .arg(self.database)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Never leave a load generator behind if we bail out.
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", self.program.display()))?;
        let watch = Watch { pgbench: child.id().map(|p| p as i32), ..watch };
        let _phase = progress.phase(&format!("pgbench {concurrency}"), warmup + duration, None);

        let wait = async {
            // Bounded: pgbench stops itself after -T; anything much later is a hang.
            tokio::time::timeout(Duration::from_secs(secs + 60), child.wait_with_output())
                .await
                .context("pgbench did not finish in time")?
                .context("waiting for pgbench")
        };
        let (output, usage) = tokio::join!(wait, window::observe(window, admin, watch));
        let output = output?;
        let usage = usage?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        anyhow::ensure!(output.status.success(), "pgbench failed ({}):\n{stdout}\n{stderr}", output.status);

        let log = read_logs(dir.path(), &window)?;
        let latency = log.latencies.summary();
        Ok(BaselineResult {
            concurrency,
            threads,
            tps: latency.count as f64 / window.seconds(),
            transactions: latency.count,
            latency,
            // The log and the summary count the same failures; either may be missing.
            failed: log.failed.max(reported_failures(&stdout)),
            pgbench_reported_tps: reported_tps(&stdout),
            usage,
        })
    }
}

struct TxLog {
    latencies: Latencies,
    failed: u64,
}

/// Reads pgbench's per-transaction logs (`tx.<pid>` and `tx.<pid>.<thread>`): each line is
/// `client txno latency_us script epoch_s epoch_us`, stamped at completion.
fn read_logs(dir: &Path, window: &Window) -> anyhow::Result<TxLog> {
    let mut out = TxLog { latencies: Latencies::default(), failed: 0 };
    for entry in std::fs::read_dir(dir).context("listing pgbench logs")? {
        let path = entry?.path();
        let is_log = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("tx."));
        if !is_log {
            continue;
        }
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(latency), Some(secs), Some(micros)) = (f.get(2), f.get(4), f.get(5)) else {
                continue;
            };
            // A failed or skipped transaction has a word instead of a latency.
            let Ok(latency) = latency.parse::<u64>() else {
                out.failed += 1;
                continue;
            };
            let done = secs.parse::<u64>().unwrap_or(0) * 1_000_000 + micros.parse::<u64>().unwrap_or(0);
            if window.contains_epoch_us(done) {
                out.latencies.record_micros(latency);
            }
        }
    }
    Ok(out)
}

/// `tps = 1234.56 (without initial connection time)`
fn reported_tps(stdout: &str) -> Option<f64> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// `number of failed transactions: 0 (0.000%)` (PostgreSQL 15+).
fn reported_failures(stdout: &str) -> u64 {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("number of failed transactions: "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pgbench_summary() {
        let out = "number of failed transactions: 3 (0.100%)\nlatency average = 1.2 ms\n\
                   tps = 812.345678 (without initial connection time)\n";
        assert_eq!(reported_tps(out), Some(812.345678));
        assert_eq!(reported_failures(out), 3);
        assert_eq!(reported_failures(""), 0);
    }
}
