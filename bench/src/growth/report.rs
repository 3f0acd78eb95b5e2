//! The growth report: one row per event-store size, p99 ratios to the first, goals, JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::Plan;
use crate::binaries::ReadSide;
use crate::getprofile::ReadResult;
use crate::load::TallyResult;
use crate::processes::Rebuilt;
use crate::report::{Goal, Machine};
use crate::seed::Seeded;

/// Issue 6: p99 flat within 1.5× as the store grows.
const GOAL_RATIO: f64 = 1.5;

#[derive(Debug, Serialize)]
pub struct Step {
    /// The size asked for (`--sizes`).
    pub target: u64,
    /// Events in the store when measured (the seed rounds up to whole profiles).
    pub events: u64,
    /// This step's seed.
    pub seeded: Seeded,
    /// The rebuild that projected the whole store into the read DB.
    pub rebuilt: Rebuilt,
    pub append: TallyResult,
    pub query: ReadResult,
    pub write_db_bytes: u64,
    pub read_db_bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct Ratios {
    pub events: u64,
    /// p99 at this size ÷ p99 at the first size.
    pub append_p99: f64,
    pub query_p99: f64,
}

#[derive(Debug, Serialize)]
pub struct GrowthReport {
    pub tool: &'static str,
    pub started_at: String,
    pub smoke: bool,
    pub machine: Machine,
    pub postgres: BTreeMap<String, String>,
    pub updates_per_profile: u32,
    pub concurrency: u32,
    pub readers: u32,
    pub duration_secs: f64,
    pub warmup_ms: u128,
    /// What the up-front disk check asked for, for the largest size.
    pub disk_needed_bytes: u64,
    pub steps: Vec<Step>,
    pub ratios: Vec<Ratios>,
    pub binaries: ReadSide,
    pub goals: Vec<Goal>,
}

impl GrowthReport {
    pub(super) fn new(
        started_at: String,
        smoke: bool,
        postgres: BTreeMap<String, String>,
        plan: &Plan,
        disk_needed_bytes: u64,
        steps: Vec<Step>,
        binaries: ReadSide,
    ) -> Self {
        let ratios = ratios(&steps);
        Self {
            tool: "tally-bench growth",
            started_at,
            smoke,
            machine: Machine::detect(),
            postgres,
            updates_per_profile: plan.updates,
            concurrency: plan.concurrency,
            readers: plan.readers,
            duration_secs: plan.duration.as_secs_f64(),
            warmup_ms: plan.warmup.as_millis(),
            disk_needed_bytes,
            goals: goals(&ratios),
            ratios,
            steps,
            binaries,
        }
    }
}

fn ratios(steps: &[Step]) -> Vec<Ratios> {
    let Some(first) = steps.first() else { return Vec::new() };
    let ratio = |v: f64, base: f64| if base > 0.0 { v / base } else { 0.0 };
    steps
        .iter()
        .map(|s| Ratios {
            events: s.events,
            append_p99: ratio(s.append.latency.p99_ms, first.append.latency.p99_ms),
            query_p99: ratio(s.query.latency.p99_ms, first.query.latency.p99_ms),
        })
        .collect()
}

fn goals(ratios: &[Ratios]) -> Vec<Goal> {
    let worst = |f: fn(&Ratios) -> f64| ratios.iter().map(f).fold(0.0, f64::max);
    let detail = |f: fn(&Ratios) -> f64| ratios.iter().map(|r| format!("{:.2}x", f(r))).collect::<Vec<_>>().join(" → ");
    let measured = ratios.len() >= 2;
    vec![
        Goal {
            goal: format!("append p99 flat within {GOAL_RATIO}x of the first size"),
            met: measured.then(|| worst(|r| r.append_p99) <= GOAL_RATIO),
            detail: detail(|r| r.append_p99),
        },
        Goal {
            goal: format!("query p99 flat within {GOAL_RATIO}x of the first size"),
            met: measured.then(|| worst(|r| r.query_p99) <= GOAL_RATIO),
            detail: detail(|r| r.query_p99),
        },
    ]
}

pub fn render(r: &GrowthReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nGrowth: UpdateProfile from {} closed-loop clients, then GetProfile with {} in flight, {} s each after \
         {} ms warm-up, at each event-store size; {} CPUs",
        r.concurrency, r.readers, r.duration_secs, r.warmup_ms, r.machine.cpus
    );
    let _ = writeln!(
        s,
        "{:>11} | {:>9} | {:>15} | {:>8} | {:>16} | {:>7} | {:>8} | {:>16} | {:>7}",
        "events", "seed s", "rebuild s (ev/s)", "DB GiB", "append p50/p99", "ratio", "cmds/s", "query p50/p99", "ratio"
    );
    let _ = writeln!(s, "{}", "-".repeat(128));
    for (step, ratio) in r.steps.iter().zip(&r.ratios) {
        let (a, q) = (&step.append.latency, &step.query.latency);
        let _ = writeln!(
            s,
            "{:>11} | {:>9.1} | {:>16} | {:>8.2} | {:>16} | {:>6.2}x | {:>8.0} | {:>16} | {:>6.2}x",
            step.events,
            step.seeded.seconds,
            format!("{:.1} ({:.0})", step.rebuilt.wall_secs, step.rebuilt.reported_rate),
            (step.write_db_bytes + step.read_db_bytes) as f64 / f64::from(1u32 << 30),
            format!("{:.2} / {:.2}", a.p50_ms, a.p99_ms),
            ratio.append_p99,
            step.append.cmds_per_sec,
            format!("{:.2} / {:.2}", q.p50_ms, q.p99_ms),
            ratio.query_p99,
        );
    }
    let _ = writeln!(s, "(query: {:.0} GetProfile/s at the last size)", r.steps.last().map_or(0.0, |s| s.query.rps));
    crate::report::render_goals(&mut s, &r.goals);
    for step in &r.steps {
        for e in step.append.sample_errors.iter().chain(&step.query.sample_errors) {
            let _ = writeln!(s, "  error at {} events: {e}", step.events);
        }
    }
    s
}

/// Prints, writes the JSON, and fails the run when a size was not reached or a side failed.
pub fn emit(r: &GrowthReport, json: Option<&Path>) -> anyhow::Result<()> {
    println!("{}", render(r));
    crate::report::write_json(r, json)?;
    let mut problems = Vec::new();
    for step in &r.steps {
        let n = step.events;
        if n < step.target {
            problems.push(format!("the store holds {n} events, fewer than the {} asked for", step.target));
        }
        if step.append.commands == 0 || step.append.errors > 0 {
            problems.push(format!("appends at {n}: {} done, {} errors", step.append.commands, step.append.errors));
        }
        if step.query.requests == 0 || step.query.errors > 0 {
            problems.push(format!("queries at {n}: {} answered, {} errors", step.query.requests, step.query.errors));
        }
    }
    anyhow::ensure!(problems.is_empty(), "benchmark run failed:\n  {}", problems.join("\n  "));
    Ok(())
}
