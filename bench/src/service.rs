//! The system under test: the real `command-service` binary, and what its metrics say.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use tally_devstack::{Readiness, Service};

use crate::cli::CommandsArgs;
use crate::window::Window;

/// The `command-service` binary to benchmark: `--command-service`, else
/// `<target>/<profile>/command-service`. We do not go through `tally_devstack::binary`,
/// whose profile comes from `TALLY_TEST_PROFILE` (debug by default): a benchmark of a debug
/// build would be meaningless, so the profile is an explicit argument defaulting to release.
pub fn locate(args: &CommandsArgs) -> anyhow::Result<PathBuf> {
    let path = match &args.command_service {
        Some(path) => path.clone(),
        None => tally_devstack::target_dir().join(&args.profile).join("command-service"),
    };
    let build = if args.profile == "release" {
        "cargo build --release -p tally-command-service"
    } else {
        "cargo build -p tally-command-service"
    };
    anyhow::ensure!(
        path.is_file(),
        "{} not found: build it first (`{build}`) or pass --command-service",
        path.display(),
    );
    Ok(path)
}

pub struct CommandService {
    process: Service,
    pub base: String,
    http: reqwest::Client,
}

impl CommandService {
    /// Starts the service on `db_url` on a free loopback port and waits for `/readyz`.
    pub async fn start(program: &PathBuf, db_url: &str, pool_size: Option<u32>) -> anyhow::Result<Self> {
        let mut last_error = None;
        // The free port can be taken before the service binds it; a few attempts cover that.
        for _ in 0..3 {
            let port = tally_devstack::free_port()?;
            let base = format!("http://127.0.0.1:{port}");
            let mut envs = vec![
                ("TALLY_DATABASE__URL", db_url.to_owned()),
                ("TALLY_SERVER__HOST", "127.0.0.1".to_owned()),
                ("TALLY_SERVER__PORT", port.to_string()),
                // Per-request logs would cost the service CPU the baseline does not pay.
                ("TALLY_TELEMETRY__LOG_LEVEL", "warn".to_owned()),
            ];
            if let Some(size) = pool_size {
                envs.push(("TALLY_DATABASE__POOL_SIZE", size.to_string()));
            }
            let readiness = Readiness::Http(format!("{base}/readyz"));
            match Service::spawn("command-service", program, ["serve"], envs, readiness).await {
                Ok(process) => {
                    // Bounded: a hung service must fail the run, not stall it.
                    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
                    return Ok(Self { process, base, http });
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.map_or_else(|| anyhow::anyhow!("command-service did not start"), anyhow::Error::from))
    }

    pub fn pid(&self) -> i32 {
        self.process.pid()
    }

    pub fn log_path(&self) -> PathBuf {
        self.process.log_path().to_path_buf()
    }

    /// Fails when the service has died (a crash under load must fail the benchmark).
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.process.try_exit_status()? {
            anyhow::bail!(
                "command-service exited ({status}); log {}:\n{}",
                self.process.log_path().display(),
                self.process.log_tail(40)
            );
        }
        Ok(())
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.process.terminate().await?;
        Ok(())
    }

    /// The appender's batching during `window`, from `/metrics` sampled at both edges.
    pub async fn observe_batches(&self, window: Window) -> anyhow::Result<Batches> {
        tokio::time::sleep_until(window.start.into()).await;
        let before = self.append_metrics().await?;
        tokio::time::sleep_until(window.end.into()).await;
        let after = self.append_metrics().await?;
        let batches = after.batches - before.batches;
        let commands = after.commands - before.commands;
        let commit_secs = after.commit_secs - before.commit_secs;
        Ok(Batches {
            batches: batches as u64,
            mean_batch_size: if batches > 0.0 { commands / batches } else { 0.0 },
            mean_commit_ms: if batches > 0.0 { commit_secs / batches * 1000.0 } else { 0.0 },
            failures: (after.failures - before.failures) as u64,
        })
    }

    async fn append_metrics(&self) -> anyhow::Result<AppendMetrics> {
        let text = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .context("GET /metrics")?
            .error_for_status()?
            .text()
            .await?;
        Ok(AppendMetrics::parse(&text))
    }
}

/// The appender's group commits inside the window.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Batches {
    /// Transactions the appender committed.
    pub batches: u64,
    /// Commands per commit: above 1, one WAL flush serves several commands.
    pub mean_batch_size: f64,
    /// Time from taking a batch to its commit returning (includes the WAL flush).
    pub mean_commit_ms: f64,
    pub failures: u64,
}

/// Cumulative counters from the Prometheus text.
#[derive(Debug, Clone, Copy, Default)]
struct AppendMetrics {
    batches: f64,
    commands: f64,
    commit_secs: f64,
    failures: f64,
}

impl AppendMetrics {
    /// Reads the `_sum`/`_count` series of the appender's histograms (exported as summaries
    /// or histograms depending on bucket configuration; both have `_sum` and `_count`).
    fn parse(text: &str) -> Self {
        let value = |name: &str| {
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .find(|l| l.split_whitespace().next() == Some(name))
                .and_then(|l| l.split_whitespace().last())
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        Self {
            batches: value("tally_append_batch_size_count"),
            commands: value("tally_append_batch_size_sum"),
            commit_secs: value("tally_append_batch_duration_seconds_sum"),
            failures: value("tally_append_batch_failures_total"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_summary_sums_and_counts() {
        let text = "# TYPE tally_append_batch_size summary\n\
                    tally_append_batch_size{quantile=\"0.5\"} 3\n\
                    tally_append_batch_size_sum 120\n\
                    tally_append_batch_size_count 40\n\
                    tally_append_batch_duration_seconds_sum 0.2\n";
        let m = AppendMetrics::parse(text);
        assert_eq!(m.batches, 40.0);
        assert_eq!(m.commands, 120.0);
        assert_eq!(m.commit_secs, 0.2);
        assert_eq!(m.failures, 0.0);
    }
}
