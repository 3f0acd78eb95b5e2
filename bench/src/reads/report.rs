//! The reads report: the side-by-side table, the goals and the JSON file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::Plan;
use crate::binaries::ReadSide;
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
    pub duration_secs: f64,
    pub warmup_ms: u128,
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub concurrency: u32,
    pub baseline: BaselineResult,
    pub tally: ReadResult,
    pub tally_usage: Usage,
    /// Tally GetProfile/s ÷ pgbench SELECT transactions/s.
    pub throughput_ratio: f64,
}

impl Row {
    pub fn new(baseline: BaselineResult, tally: ReadResult, tally_usage: Usage) -> Self {
        let ratio = if baseline.tps > 0.0 { tally.rps / baseline.tps } else { 0.0 };
        Self { concurrency: baseline.concurrency, baseline, tally, tally_usage, throughput_ratio: ratio }
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
            goals: goals(&rows),
            rows,
        }
    }
}

/// "Sustainable" means within the latency goal: the best GetProfile rate among the levels
/// whose p99 stays ≤ 2 ms, compared with the best pgbench rate of the run.
fn goals(rows: &[Row]) -> Vec<Goal> {
    let best_pgbench = rows.iter().map(|r| r.baseline.tps).fold(0.0, f64::max);
    let sustainable = rows
        .iter()
        .filter(|r| r.tally.requests > 0 && r.tally.latency.p99_ms <= GOAL_P99_MS)
        .max_by(|a, b| a.tally.rps.total_cmp(&b.tally.rps));
    let per_level = rows
        .iter()
        .map(|r| format!("{} in flight: {:.2} ms", r.concurrency, r.tally.latency.p99_ms))
        .collect::<Vec<_>>()
        .join(", ");
    let p99 = Goal {
        goal: format!("GetProfile p99 <= {GOAL_P99_MS} ms"),
        met: Some(sustainable.is_some()),
        detail: per_level,
    };
    let ratio = match sustainable {
        Some(r) if best_pgbench > 0.0 => Goal {
            goal: format!("GetProfile rps at p99 <= {GOAL_P99_MS} ms >= {GOAL_RATIO:.1}x the best pgbench SELECT tps"),
            met: Some(r.tally.rps / best_pgbench >= GOAL_RATIO),
            detail: format!(
                "{:.0} rps at {} in flight vs {best_pgbench:.0} tps (ratio {:.2})",
                r.tally.rps,
                r.concurrency,
                r.tally.rps / best_pgbench
            ),
        },
        _ => Goal {
            goal: format!("GetProfile rps at p99 <= {GOAL_P99_MS} ms >= {GOAL_RATIO:.1}x the best pgbench SELECT tps"),
            met: Some(false),
            detail: "no level kept p99 within the goal".to_owned(),
        },
    };
    vec![p99, ratio]
}

pub fn render(report: &ReadsReport) -> String {
    let mut s = String::new();
    let pg = |k: &str| report.postgres.get(k).map_or("?", String::as_str);
    let _ = writeln!(
        s,
        "\nTally GetProfile (gRPC, {} connections) vs pgbench primary-key SELECT on the same read DB \
         (PostgreSQL {}); {} profiles; {} s per level after {} ms warm-up; {} CPUs",
        report.params.connections,
        pg("server_version"),
        report.params.profiles,
        report.params.duration_secs,
        report.params.warmup_ms,
        report.machine.cpus,
    );
    let _ = writeln!(
        s,
        "{:>9} | {:>11} | {:>18} | {:>11} | {:>16} | {:>13} | {:>17}",
        "in flight",
        "pgbench tps",
        "pgbench p50/p99 ms",
        "tally rps",
        "tally p50/p99 ms",
        "tally/pgbench",
        "cpu pg/svc/gen"
    );
    let _ = writeln!(s, "{}", "-".repeat(114));
    for r in &report.rows {
        let (b, t, c) = (&r.baseline, &r.tally, &r.tally_usage.cpu);
        let _ = writeln!(
            s,
            "{:>9} | {:>11.0} | {:>18} | {:>11.0} | {:>16} | {:>12.2}x | {:>17}",
            r.concurrency,
            b.tps,
            format!("{:.2} / {:.2}", b.latency.p50_ms, b.latency.p99_ms),
            t.rps,
            format!("{:.2} / {:.2}", t.latency.p50_ms, t.latency.p99_ms),
            r.throughput_ratio,
            format!("{:.2}/{:.2}/{:.2}", c.postgres, c.service, c.load_generator),
        );
    }
    let _ = writeln!(
        s,
        "\nRead model projected by `projector rebuild`: {} events in {:.1} s ({:.0} events/s)",
        report.projected.events, report.projected.reported_secs, report.projected.reported_rate
    );
    crate::report::render_goals(&mut s, &report.goals);
    for r in &report.rows {
        for e in &r.tally.sample_errors {
            let _ = writeln!(s, "  error at {} in flight: {e}", r.concurrency);
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
        if r.tally.requests == 0 || r.tally.errors > 0 {
            problems.push(format!("tally at {c}: {} answered, {} errors", r.tally.requests, r.tally.errors));
        }
    }
    anyhow::ensure!(problems.is_empty(), "benchmark run failed:\n  {}", problems.join("\n  "));
    Ok(())
}
