//! The rebuild report: throughput, what the readers saw, the goals and the JSON file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::Plan;
use crate::binaries::ReadSide;
use crate::getprofile::ReadResult;
use crate::processes::Rebuilt;
use crate::report::{Goal, Machine};
use crate::seed::Seeded;

/// Goal from issue 3.
const GOAL_EVENTS_PER_SEC: f64 = 200_000.0;

#[derive(Debug, Serialize)]
pub struct RebuildReport {
    pub tool: &'static str,
    pub started_at: String,
    pub smoke: bool,
    pub machine: Machine,
    pub postgres: BTreeMap<String, String>,
    pub profiles: u64,
    pub updates_per_profile: u32,
    pub readers: u32,
    pub reader_rate: u32,
    pub page: Option<u32>,
    pub seeded: Seeded,
    pub rebuilt: Rebuilt,
    /// Events over the whole command's wall time (start, replay, verify, switch, exit).
    pub wall_events_per_sec: f64,
    /// GetProfile answers while the rebuild ran (plus a short edge on both sides).
    pub reads: ReadResult,
    pub binaries: ReadSide,
    pub goals: Vec<Goal>,
}

impl RebuildReport {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        started_at: String,
        smoke: bool,
        postgres: BTreeMap<String, String>,
        plan: &Plan,
        page: Option<u32>,
        seeded: Seeded,
        rebuilt: Rebuilt,
        reads: ReadResult,
        binaries: ReadSide,
    ) -> Self {
        let wall = if rebuilt.wall_secs > 0.0 { rebuilt.events as f64 / rebuilt.wall_secs } else { 0.0 };
        let goals = vec![
            Goal {
                goal: format!("rebuild >= {GOAL_EVENTS_PER_SEC:.0} events/s from the event store"),
                met: Some(wall >= GOAL_EVENTS_PER_SEC),
                detail: format!(
                    "{wall:.0} events/s over the whole command ({:.2} s); {:.0} events/s by the projector's own clock",
                    rebuilt.wall_secs, rebuilt.reported_rate
                ),
            },
            Goal {
                goal: "queries answered throughout the rebuild".to_owned(),
                met: Some(reads.errors == 0 && reads.requests > 0),
                detail: format!(
                    "{} answers, {} errors, p99 {:.2} ms, longest gap between answers {:.1} ms",
                    reads.requests, reads.errors, reads.latency.p99_ms, reads.longest_gap_ms
                ),
            },
        ];
        Self {
            tool: "tally-bench rebuild",
            started_at,
            smoke,
            machine: Machine::detect(),
            postgres,
            profiles: plan.profiles,
            updates_per_profile: plan.updates,
            readers: plan.readers,
            reader_rate: plan.reader_rate,
            page,
            seeded,
            rebuilt,
            wall_events_per_sec: wall,
            reads,
            binaries,
            goals,
        }
    }
}

pub fn emit(report: &RebuildReport, json: Option<&Path>) -> anyhow::Result<()> {
    let mut s = String::new();
    let r = &report.rebuilt;
    let _ = writeln!(
        s,
        "\n`projector rebuild profiles` over {} events ({} profiles x {}), PostgreSQL {}, {} CPUs",
        report.seeded.events,
        report.profiles,
        report.updates_per_profile + 1,
        report.postgres.get("server_version").map_or("?", String::as_str),
        report.machine.cpus
    );
    let _ = writeln!(
        s,
        "  whole command: {:.2} s = {:.0} events/s; projector's own figure (replay, verify, switch): {:.2} s = {:.0} events/s",
        r.wall_secs, report.wall_events_per_sec, r.reported_secs, r.reported_rate
    );
    let q = &report.reads;
    let _ = writeln!(
        s,
        "  readers ({} at {} requests/s in all): {} answers, {} errors, p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms, longest gap {:.1} ms",
        q.concurrency,
        report.reader_rate,
        q.requests,
        q.errors,
        q.latency.p50_ms,
        q.latency.p99_ms,
        q.latency.max_ms,
        q.longest_gap_ms
    );
    crate::report::render_goals(&mut s, &report.goals);
    for e in &q.sample_errors {
        let _ = writeln!(s, "  reader error: {e}");
    }
    println!("{s}");
    crate::report::write_json(report, json)?;
    anyhow::ensure!(
        r.events == report.seeded.events,
        "the rebuild replayed {} of {} events",
        r.events,
        report.seeded.events
    );
    anyhow::ensure!(q.requests > 0 && q.errors == 0, "readers: {} answers, {} errors", q.requests, q.errors);
    Ok(())
}
