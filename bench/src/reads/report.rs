//! The reads report: the side-by-side table, the goals and the JSON file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::Plan;
use crate::binaries::ReadSide;
use crate::cli::Transport;
use crate::getprofile::ReadResult;
use crate::pgbench::BaselineResult;
use crate::processes::Rebuilt;
use crate::report::{Goal, Machine};
use crate::seed::Seeded;
use crate::window::Usage;

/// Goals from issue 3.
const GOAL_RATIO: f64 = 0.5;
const GOAL_P99_MS: f64 = 2.0;

#[derive(Debug, Serialize)]
pub struct ReadsReport {
    pub tool: &'static str,
    pub started_at: String,
    pub smoke: bool,
    pub machine: Machine,
    pub postgres: BTreeMap<String, String>,
    pub params: Params,
    pub seeded: Seeded,
    /// The rebuild that projected the seeded events into the read model.
    pub projected: Rebuilt,
    pub binaries: ReadSide,
    pub rows: Vec<Row>,
    pub goals: Vec<Goal>,
}

#[derive(Debug, Serialize)]
pub struct Params {
    pub profiles: u64,
    pub updates: u32,
    pub concurrency: Vec<u32>,
    pub connections: u32,
    pub transports: Vec<Transport>,
    pub duration_secs: f64,
    pub warmup_ms: u128,
}

/// One concurrency level: pgbench, then the service over each transport.
#[derive(Debug, Serialize)]
pub struct Row {
    pub concurrency: u32,
    pub baseline: BaselineResult,
    pub tally: Vec<TallyRun>,
}

/// The service at one level over one transport.
#[derive(Debug, Serialize)]
pub struct TallyRun {
    pub transport: Transport,
    pub result: ReadResult,
    pub usage: Usage,
    /// Profiles read per second ÷ this level's pgbench SELECT transactions/s.
    pub throughput_ratio: f64,
}

impl TallyRun {
    pub fn new(transport: Transport, baseline: &BaselineResult, result: ReadResult, usage: Usage) -> Self {
        let ratio = if baseline.tps > 0.0 { result.rps / baseline.tps } else { 0.0 };
        Self { transport, result, usage, throughput_ratio: ratio }
    }
}

fn describe(transport: Transport) -> &'static str {
    match transport {
        Transport::Grpc => "gRPC GetProfile",
        Transport::Rest => "REST GET /v1/profiles/{id}",
    }
}

impl ReadsReport {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        started_at: String,
        smoke: bool,
        postgres: BTreeMap<String, String>,
        plan: &Plan,
        seeded: Seeded,
        projected: Rebuilt,
        binaries: ReadSide,
        rows: Vec<Row>,
    ) -> Self {
        Self {
            tool: "tally-bench reads",
            started_at,
            smoke,
            machine: Machine::detect(),
            postgres,
            params: plan.into(),
            seeded,
            projected,
            binaries,
            goals: plan.transports.iter().flat_map(|&t| goals(&rows, t)).collect(),
            rows,
        }
    }
}

/// "Sustainable" means within the latency goal: the best rate of `transport` among the levels
/// whose p99 stays ≤ 2 ms, compared with the best pgbench rate of the run.
fn goals(rows: &[Row], transport: Transport) -> Vec<Goal> {
    let name = describe(transport);
    let best_pgbench = rows.iter().map(|r| r.baseline.tps).fold(0.0, f64::max);
    let runs = rows.iter().flat_map(|r| r.tally.iter().filter(|t| t.transport == transport).map(move |t| (r, t)));
    let sustainable = runs
        .clone()
        .filter(|(_, t)| t.result.requests > 0 && t.result.latency.p99_ms <= GOAL_P99_MS)
        .max_by(|(_, a), (_, b)| a.result.rps.total_cmp(&b.result.rps));
    let per_level = runs
        .map(|(r, t)| format!("{} in flight: {:.2} ms", r.concurrency, t.result.latency.p99_ms))
        .collect::<Vec<_>>()
        .join(", ");
    let p99 =
        Goal { goal: format!("{name} p99 <= {GOAL_P99_MS} ms"), met: Some(sustainable.is_some()), detail: per_level };
    let goal = format!("{name} rps at p99 <= {GOAL_P99_MS} ms >= {GOAL_RATIO:.1}x the best pgbench SELECT tps");
    let ratio = match sustainable {
        Some((r, t)) if best_pgbench > 0.0 => Goal {
            goal,
            met: Some(t.result.rps / best_pgbench >= GOAL_RATIO),
            detail: format!(
                "{:.0} rps at {} in flight vs {best_pgbench:.0} tps (ratio {:.2})",
                t.result.rps,
                r.concurrency,
                t.result.rps / best_pgbench
            ),
        },
        _ => Goal { goal, met: Some(false), detail: "no level kept p99 within the goal".to_owned() },
    };
    vec![p99, ratio]
}

pub fn render(report: &ReadsReport) -> String {
    let mut s = String::new();
    let pg = |k: &str| report.postgres.get(k).map_or("?", String::as_str);
    let _ = writeln!(
        s,
        "\nTally profile reads (gRPC GetProfile over at most {} shared HTTP/2 connections; REST GET \
         /v1/profiles/{{id}} over one keep-alive HTTP/1.1 connection per request in flight) vs pgbench \
         primary-key SELECT on the same read DB (PostgreSQL {}); {} profiles; {} s per level after {} ms \
         warm-up; {} CPUs",
        report.params.connections,
        pg("server_version"),
        report.params.profiles,
        report.params.duration_secs,
        report.params.warmup_ms,
        report.machine.cpus,
    );
    let _ = writeln!(
        s,
        "{:>9} | {:>11} | {:>18} | {:>9} | {:>11} | {:>16} | {:>13} | {:>17}",
        "in flight",
        "pgbench tps",
        "pgbench p50/p99 ms",
        "transport",
        "tally rps",
        "tally p50/p99 ms",
        "tally/pgbench",
        "cpu pg/svc/gen"
    );
    let _ = writeln!(s, "{}", "-".repeat(126));
    for r in &report.rows {
        let b = &r.baseline;
        for (i, run) in r.tally.iter().enumerate() {
            let (t, c) = (&run.result, &run.usage.cpu);
            let (level, tps, latency) = if i == 0 {
                (
                    r.concurrency.to_string(),
                    format!("{:.0}", b.tps),
                    format!("{:.2} / {:.2}", b.latency.p50_ms, b.latency.p99_ms),
                )
            } else {
                Default::default()
            };
            let _ = writeln!(
                s,
                "{level:>9} | {tps:>11} | {latency:>18} | {:>9} | {:>11.0} | {:>16} | {:>12.2}x | {:>17}",
                run.transport.name(),
                t.rps,
                format!("{:.2} / {:.2}", t.latency.p50_ms, t.latency.p99_ms),
                run.throughput_ratio,
                format!("{:.2}/{:.2}/{:.2}", c.postgres, c.service, c.load_generator),
            );
        }
    }
    let _ = writeln!(
        s,
        "\nRead model projected by `projector rebuild`: {} events in {:.1} s ({:.0} events/s)",
        report.projected.events, report.projected.reported_secs, report.projected.reported_rate
    );
    crate::report::render_goals(&mut s, &report.goals);
    for r in &report.rows {
        for run in &r.tally {
            for e in &run.result.sample_errors {
                let _ = writeln!(s, "  {} error at {} in flight: {e}", run.transport.name(), r.concurrency);
            }
        }
    }
    s
}

/// Prints, writes the JSON, and fails the run on any error or idle side.
pub fn emit(report: &ReadsReport, json: Option<&Path>) -> anyhow::Result<()> {
    println!("{}", render(report));
    crate::report::write_json(report, json)?;
    let mut problems = Vec::new();
    for r in &report.rows {
        let c = r.concurrency;
        if r.baseline.transactions == 0 || r.baseline.failed > 0 {
            problems.push(format!("pgbench at {c}: {} done, {} failed", r.baseline.transactions, r.baseline.failed));
        }
        for run in &r.tally {
            let t = &run.result;
            if t.requests == 0 || t.errors > 0 {
                let name = run.transport.name();
                problems.push(format!("tally {name} at {c}: {} answered, {} errors", t.requests, t.errors));
            }
        }
    }
    anyhow::ensure!(problems.is_empty(), "benchmark run failed:\n  {}", problems.join("\n  "));
    Ok(())
}
