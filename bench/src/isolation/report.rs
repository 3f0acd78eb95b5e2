//! The isolation report: idle vs loaded read latency for Tally and the single-database
//! design, the goals and the JSON file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::Plan;
use super::openloop::OpenResult;
use super::usage::CpuUse;
use crate::binaries::ReadSide;
use crate::load::TallyResult;
use crate::report::{Goal, Machine};

/// Issue 6: loaded read p99 at most twice the idle one.
const GOAL_RATIO: f64 = 2.0;

#[derive(Debug, Serialize)]
pub struct Params {
    pub read_rate: f64,
    pub write_share: f64,
    pub write_clients: u32,
    pub max_secs: f64,
    pub duration_secs: f64,
    pub warmup_ms: u128,
    pub profiles: u64,
    /// The cap on the baseline's own-share write rate (smoke runs only).
    pub own_rate_cap: Option<f64>,
}

/// One measured phase: the reads, the writes next to them (loaded only), the CPUs.
#[derive(Debug, Serialize)]
pub struct Phase {
    pub reads: OpenResult,
    pub writes: Option<OpenResult>,
    pub cpu: CpuUse,
}

#[derive(Debug, Serialize)]
pub struct Side {
    pub name: &'static str,
    pub idle: Phase,
    pub loaded: Phase,
    /// Loaded read p99 ÷ idle read p99.
    pub p99_ratio: f64,
}

impl Side {
    pub fn new(name: &'static str, idle: Phase, loaded: Phase) -> Self {
        let (i, l) = (idle.reads.latency.p99_ms, loaded.reads.latency.p99_ms);
        Self { name, p99_ratio: if i > 0.0 { l / i } else { 0.0 }, idle, loaded }
    }
}

/// The second reading: the single-database design with its writes at the same share of its
/// own closed-loop maximum (Tally's reading already is at its own).
#[derive(Debug, Serialize)]
pub struct OwnShare {
    /// Commands/s of the design's closed loop at `write_clients` connections.
    pub maximum: f64,
    pub write_rate: f64,
    pub loaded: Phase,
    /// Loaded read p99 ÷ the design's idle read p99.
    pub p99_ratio: f64,
}

impl OwnShare {
    pub fn new(maximum: f64, write_rate: f64, side: &Side, loaded: Phase) -> Self {
        let idle = side.idle.reads.latency.p99_ms;
        let p99_ratio = if idle > 0.0 { loaded.reads.latency.p99_ms / idle } else { 0.0 };
        Self { maximum, write_rate, loaded, p99_ratio }
    }
}

#[derive(Debug, Serialize)]
pub struct IsolationReport {
    pub tool: &'static str,
    pub started_at: String,
    pub smoke: bool,
    pub machine: Machine,
    pub postgres: BTreeMap<String, String>,
    pub params: Params,
    /// The closed-loop run that found the maximum command rate.
    pub maximum: TallyResult,
    /// The rate both sides' writes were offered (write_share × the maximum).
    pub write_rate: f64,
    /// Seconds the read side needed after the loaded phase to show the event store's head.
    pub catch_up_after_load_secs: f64,
    pub tally: Side,
    pub single: Side,
    pub single_own: OwnShare,
    pub binaries: ReadSide,
    pub goals: Vec<Goal>,
}

impl IsolationReport {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        started_at: String,
        smoke: bool,
        postgres: BTreeMap<String, String>,
        plan: &Plan,
        maximum: TallyResult,
        write_rate: f64,
        catch_up_after_load_secs: f64,
        tally: Side,
        single: Side,
        single_own: OwnShare,
        binaries: ReadSide,
    ) -> Self {
        Self {
            tool: "tally-bench isolation",
            started_at,
            smoke,
            machine: Machine::detect(),
            postgres,
            params: plan.into(),
            maximum,
            write_rate,
            catch_up_after_load_secs,
            goals: goals(&tally, &single, &single_own),
            tally,
            single,
            single_own,
            binaries,
        }
    }
}

fn goals(tally: &Side, single: &Side, own: &OwnShare) -> Vec<Goal> {
    let p99 = |s: &Side, loaded: bool| if loaded { s.loaded.reads.latency.p99_ms } else { s.idle.reads.latency.p99_ms };
    vec![
        Goal {
            goal: format!("Tally read p99 under writes <= {GOAL_RATIO}x idle"),
            met: Some(tally.p99_ratio > 0.0 && tally.p99_ratio <= GOAL_RATIO),
            detail: format!("{:.2} ms vs {:.2} ms idle ({:.2}x)", p99(tally, true), p99(tally, false), tally.p99_ratio),
        },
        Goal {
            goal: "Tally's reads suffer less from writes than the single-database design's, same write rate".to_owned(),
            met: Some(tally.p99_ratio > 0.0 && tally.p99_ratio < single.p99_ratio),
            detail: format!(
                "loaded/idle p99 {:.2}x vs {:.2}x (loaded p99 {:.2} ms vs {:.2} ms)",
                tally.p99_ratio,
                single.p99_ratio,
                p99(tally, true),
                p99(single, true)
            ),
        },
        Goal {
            goal: "... and with each design's writes at the same share of its own maximum".to_owned(),
            met: Some(tally.p99_ratio > 0.0 && tally.p99_ratio < own.p99_ratio),
            detail: format!(
                "loaded/idle p99 {:.2}x vs {:.2}x (single database at {:.0} of its {:.0} commands/s, loaded p99 {:.2} ms)",
                tally.p99_ratio, own.p99_ratio, own.write_rate, own.maximum, own.loaded.reads.latency.p99_ms
            ),
        },
    ]
}

fn cpu_cell(c: &CpuUse) -> String {
    let services = c.services.values().map(|v| format!("{v:.2}")).collect::<Vec<_>>().join("+");
    let services = if services.is_empty() { "-".to_owned() } else { services };
    format!("{:.2} / {services} / {:.2} / {:.2} / {:.2}", c.postgres, c.load_generator, c.other, c.idle)
}

pub fn render(r: &IsolationReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nIsolation: profile reads at {:.0}/s (open loop), idle and next to writes at {:.0}/s ({:.0}% of Tally's \
         closed-loop maximum of {:.0} commands/s at {} clients); {} s per phase after {} ms warm-up; {} CPUs",
        r.params.read_rate,
        r.write_rate,
        r.params.write_share * 100.0,
        r.maximum.cmds_per_sec,
        r.params.write_clients,
        r.params.duration_secs,
        r.params.warmup_ms,
        r.machine.cpus
    );
    let _ = writeln!(
        s,
        "{:>16} | {:>7} | {:>9} | {:>16} | {:>13} | {:>17} | {:>41}",
        "side",
        "phase",
        "reads/s",
        "read p50/p99 ms",
        "writes/s",
        "write p50/p99 ms",
        "cpu pg / services / gen / other / idle"
    );
    let _ = writeln!(s, "{}", "-".repeat(137));
    for side in [&r.tally, &r.single] {
        for (phase, p) in [("idle", &side.idle), ("loaded", &side.loaded)] {
            let writes = p.writes.as_ref();
            let _ = writeln!(
                s,
                "{:>16} | {:>7} | {:>9.0} | {:>16} | {:>13} | {:>17} | {:>41}",
                side.name,
                phase,
                p.reads.achieved_rate,
                format!("{:.2} / {:.2}", p.reads.latency.p50_ms, p.reads.latency.p99_ms),
                writes.map_or("-".to_owned(), |w| format!("{:.0} of {:.0}", w.achieved_rate, w.target_rate)),
                writes.map_or("-".to_owned(), |w| format!("{:.2} / {:.2}", w.latency.p50_ms, w.latency.p99_ms)),
                cpu_cell(&p.cpu),
            );
        }
        let _ = writeln!(s, "{:>16}   loaded/idle read p99: {:.2}x", "", side.p99_ratio);
    }
    let (own, w) = (&r.single_own, r.single_own.loaded.writes.as_ref());
    let _ = writeln!(
        s,
        "{:>16} | {:>7} | {:>9.0} | {:>16} | {:>13} | {:>17} | {:>41}",
        "single database",
        "own",
        own.loaded.reads.achieved_rate,
        format!("{:.2} / {:.2}", own.loaded.reads.latency.p50_ms, own.loaded.reads.latency.p99_ms),
        w.map_or("-".to_owned(), |w| format!("{:.0} of {:.0}", w.achieved_rate, w.target_rate)),
        w.map_or("-".to_owned(), |w| format!("{:.2} / {:.2}", w.latency.p50_ms, w.latency.p99_ms)),
        cpu_cell(&own.loaded.cpu),
    );
    let _ = writeln!(
        s,
        "{:>16}   loaded/idle read p99: {:.2}x, writes at {:.0}% of its own maximum of {:.0} commands/s",
        "",
        own.p99_ratio,
        // The share offered: a smoke run caps it.
        if own.maximum > 0.0 { own.write_rate / own.maximum * 100.0 } else { 0.0 },
        own.maximum
    );
    let names = r.tally.loaded.cpu.services.keys().cloned().collect::<Vec<_>>().join("+");
    let _ = writeln!(
        s,
        "(services = {names}; the read side caught up with the store {:.1} s after the loaded phase)",
        r.catch_up_after_load_secs
    );
    crate::report::render_goals(&mut s, &r.goals);
    let own = &r.single_own.loaded;
    for e in own.reads.sample_errors.iter().chain(own.writes.iter().flat_map(|w| &w.sample_errors)) {
        let _ = writeln!(s, "  error (single database, own share): {e}");
    }
    for side in [&r.tally, &r.single] {
        for p in [&side.idle, &side.loaded] {
            let writes = p.writes.iter().flat_map(|w| &w.sample_errors);
            for e in p.reads.sample_errors.iter().chain(writes) {
                let _ = writeln!(s, "  error ({}): {e}", side.name);
            }
        }
    }
    s
}

/// Prints, writes the JSON, and fails the run on any error, shed request or idle side.
pub fn emit(r: &IsolationReport, json: Option<&Path>) -> anyhow::Result<()> {
    println!("{}", render(r));
    crate::report::write_json(r, json)?;
    let mut problems = Vec::new();
    for side in [&r.tally, &r.single] {
        for (phase, p) in [("idle", &side.idle), ("loaded", &side.loaded)] {
            let mut check = |what: &str, o: &OpenResult| {
                if o.completed == 0 || o.errors > 0 || o.shed > 0 {
                    problems.push(format!(
                        "{} {phase} {what}: {} answered, {} errors, {} shed {:?}",
                        side.name, o.completed, o.errors, o.shed, o.sample_errors
                    ));
                }
            };
            check("reads", &p.reads);
            if let Some(w) = &p.writes {
                check("writes", w);
            }
        }
    }
    for (what, o) in [("reads", Some(&r.single_own.loaded.reads)), ("writes", r.single_own.loaded.writes.as_ref())] {
        if let Some(o) = o.filter(|o| o.completed == 0 || o.errors > 0 || o.shed > 0) {
            problems.push(format!(
                "single database own-share {what}: {} answered, {} errors, {} shed {:?}",
                o.completed, o.errors, o.shed, o.sample_errors
            ));
        }
    }
    anyhow::ensure!(problems.is_empty(), "benchmark run failed:\n  {}", problems.join("\n  "));
    Ok(())
}
