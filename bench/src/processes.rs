//! The read side's processes, started from the real binaries on loopback ports.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use tally_devstack::{Readiness, Service};

/// Per-request logs would cost the services CPU a baseline does not pay.
const LOG_LEVEL: &str = "warn";

/// A started service and its base URL (REST and gRPC share the port).
pub struct Running {
    pub process: Service,
    pub base: String,
}

impl Running {
    /// Fails when the process has died (a crash under load must fail the benchmark).
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.process.try_exit_status()? {
            anyhow::bail!(
                "{} exited ({status}); log {}:\n{}",
                self.process.name(),
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
}

/// Starts `program args` with `envs` plus a free port, and waits for `/readyz`. A free port
/// can be taken before the service binds it; a few attempts cover that.
async fn spawn(
    name: &str,
    program: &Path,
    args: &[&str],
    envs: Vec<(&'static str, String)>,
) -> anyhow::Result<Running> {
    let mut last_error = None;
    for _ in 0..3 {
        let port = tally_devstack::free_port()?;
        let base = format!("http://127.0.0.1:{port}");
        let mut all = envs.clone();
        all.push(("TALLY_SERVER__HOST", "127.0.0.1".to_owned()));
        all.push(("TALLY_SERVER__PORT", port.to_string()));
        all.push(("TALLY_TELEMETRY__LOG_LEVEL", LOG_LEVEL.to_owned()));
        let readiness = Readiness::Http(format!("{base}/readyz"));
        match Service::spawn(name, program, args.iter().copied(), all, readiness).await {
            Ok(process) => return Ok(Running { process, base }),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.map_or_else(|| anyhow::anyhow!("{name} did not start"), anyhow::Error::from))
        .with_context(|| format!("starting {}", program.display()))
}

/// `query-service serve` over the read DB.
pub async fn query_service(program: &Path, read_url: &str, pool_size: Option<u32>) -> anyhow::Result<Running> {
    let mut envs = vec![("TALLY_DATABASE__URL", read_url.to_owned())];
    if let Some(size) = pool_size {
        envs.push(("TALLY_DATABASE__POOL_SIZE", size.to_string()));
    }
    spawn("query-service", program, &["serve"], envs).await
}

/// `command-service serve` on the write DB; its relay publishes to `brokers`.
pub async fn command_service(
    program: &Path,
    write_url: &str,
    brokers: &str,
    partitions: u32,
) -> anyhow::Result<Running> {
    command_service_with(program, write_url, brokers, partitions, Vec::new()).await
}

/// [`command_service`] with `extra` settings on top.
pub async fn command_service_with(
    program: &Path,
    write_url: &str,
    brokers: &str,
    partitions: u32,
    extra: Vec<(&'static str, String)>,
) -> anyhow::Result<Running> {
    let mut envs = vec![
        ("TALLY_DATABASE__URL", write_url.to_owned()),
        ("TALLY_KAFKA__BROKERS", brokers.to_owned()),
        ("TALLY_KAFKA__TOPIC_PARTITIONS", partitions.to_string()),
    ];
    envs.extend(extra);
    spawn("command-service", program, &["serve"], envs).await
}

/// `projector run` from `brokers` with manual partition assignment (Tansu takes ~20 s to
/// form a consumer group; offsets live in the read DB either way).
pub async fn projector(program: &Path, read_url: &str, write_url: &str, brokers: &str) -> anyhow::Result<Running> {
    let envs = vec![
        ("TALLY_READ_DATABASE__URL", read_url.to_owned()),
        ("TALLY_EVENT_STORE__URL", write_url.to_owned()),
        ("TALLY_KAFKA__BROKERS", brokers.to_owned()),
        ("TALLY_KAFKA__ASSIGNMENT", "manual".to_owned()),
    ];
    spawn("projector", program, &["run"], envs).await
}

/// One `projector rebuild profiles` run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rebuilt {
    /// From start to exit: migrations, replay, verification and the switch.
    pub wall_secs: f64,
    /// The projector's own report: events replayed, and its time and rate (replay,
    /// verification and switch; without process start and migrations).
    pub events: u64,
    pub reported_secs: f64,
    pub reported_rate: f64,
    pub stdout: String,
}

/// Runs `projector rebuild profiles --quiet` to completion (bounded by `limit`).
pub async fn rebuild(
    program: &Path,
    read_url: &str,
    write_url: &str,
    page: Option<u32>,
    limit: Duration,
) -> anyhow::Result<Rebuilt> {
    let (wall_secs, stdout) = rebuild_projection(program, "profiles", read_url, write_url, page, limit).await?;
    let (events, reported_secs, reported_rate) =
        parse_rebuilt(&stdout).with_context(|| format!("unexpected rebuild report:\n{stdout}"))?;
    Ok(Rebuilt { wall_secs, events, reported_secs, reported_rate, stdout })
}

/// Runs `projector rebuild <projection> --quiet` to completion (bounded by `limit`): its
/// wall time and its report (stdout).
pub async fn rebuild_projection(
    program: &Path,
    projection: &str,
    read_url: &str,
    write_url: &str,
    page: Option<u32>,
    limit: Duration,
) -> anyhow::Result<(f64, String)> {
    let mut command = tokio::process::Command::new(program);
    command
        .args(["rebuild", projection, "--quiet"])
        .env("TALLY_READ_DATABASE__URL", read_url)
        .env("TALLY_EVENT_STORE__URL", write_url)
        .env("TALLY_TELEMETRY__LOG_LEVEL", LOG_LEVEL)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(page) = page {
        command.arg(format!("--page={page}"));
    }
    let started = Instant::now();
    let output = tokio::time::timeout(limit, command.output())
        .await
        .with_context(|| format!("projector rebuild {projection} did not finish in time"))?
        .context("running projector rebuild")?;
    let wall_secs = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    anyhow::ensure!(
        output.status.success(),
        "projector rebuild {projection} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok((wall_secs, stdout))
}

/// `rebuilt profiles v1 -> v2: 1000 events in 0.1s (10000 events/s), 0 dead-lettered`
fn parse_rebuilt(stdout: &str) -> Option<(u64, f64, f64)> {
    let line = stdout.lines().find(|l| l.starts_with("rebuilt profiles"))?;
    let words: Vec<&str> = line.split_once(": ")?.1.split_whitespace().collect();
    let events = words.first()?.parse().ok()?;
    let secs = words.get(3)?.trim_end_matches('s').parse().ok()?;
    let rate = words.get(4)?.trim_start_matches('(').parse().ok()?;
    Some((events, secs, rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_projectors_report_line() {
        let out = "rebuilt profiles v2 -> v3: 12000 events in 0.5s (24000 events/s), 0 dead-lettered, written in 1 round(s)\n\
                   verified against the event store:\n";
        assert_eq!(parse_rebuilt(out), Some((12000, 0.5, 24000.0)));
        assert_eq!(parse_rebuilt("nothing"), None);
    }
}
