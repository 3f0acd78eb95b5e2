//! The footprint report: one row per service, the goals and the JSON file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::Plan;
use super::ingest::Ingested;
use super::rss::Timeline;
use crate::binaries::ReadSide;
use crate::getprofile::ReadResult;
use crate::load::TallyResult;
use crate::processes::Running;
use crate::report::{Goal, Machine};

/// Goals from issue 6, in MiB.
const GOAL_IDLE_MIB: f64 = 50.0;
const GOAL_PEAK_MIB: f64 = 200.0;

#[derive(Debug, Serialize)]
pub struct ServiceMemory {
    pub service: String,
    pub pid: i32,
    /// The highest `VmRSS` sampled while idle.
    pub idle_rss_kib: u64,
    pub idle_samples: u64,
    /// The highest `VmRSS` sampled under load.
    pub peak_rss_kib: u64,
    pub peak_samples: u64,
    /// `VmHWM` at the end of the load: the peak since start, spikes between samples included.
    pub hwm_kib: u64,
    /// `VmRSS` when the load stopped, after the peak: what the allocator kept.
    pub settled_rss_kib: u64,
}

impl ServiceMemory {
    pub fn peak_kib(&self) -> u64 {
        self.peak_rss_kib.max(self.hwm_kib)
    }
}

pub fn per_service(services: &[&Running], idle: &[Timeline], peak: &[Timeline]) -> Vec<ServiceMemory> {
    services
        .iter()
        .zip(idle.iter().zip(peak))
        .map(|(s, (i, p))| {
            let pid = s.process.pid();
            ServiceMemory {
                service: s.process.name().to_owned(),
                pid,
                idle_rss_kib: i.max_rss_kib,
                idle_samples: i.samples,
                peak_rss_kib: p.max_rss_kib,
                peak_samples: p.samples,
                hwm_kib: p.hwm_kib,
                settled_rss_kib: super::rss::read(pid).map_or(0, |m| m.rss_kib),
            }
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub struct FootprintReport {
    pub tool: &'static str,
    pub started_at: String,
    pub smoke: bool,
    pub machine: Machine,
    pub postgres: BTreeMap<String, String>,
    pub idle_secs: f64,
    pub duration_secs: f64,
    pub seeded_profiles: u64,
    pub services: Vec<ServiceMemory>,
    pub commands: TallyResult,
    pub reads: ReadResult,
    pub ingest: Ingested,
    pub binaries: ReadSide,
    pub goals: Vec<Goal>,
}

impl FootprintReport {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        started_at: String,
        smoke: bool,
        postgres: BTreeMap<String, String>,
        plan: &Plan,
        services: Vec<ServiceMemory>,
        commands: TallyResult,
        reads: ReadResult,
        ingest: Ingested,
        binaries: ReadSide,
    ) -> Self {
        Self {
            tool: "tally-bench footprint",
            started_at,
            smoke,
            machine: Machine::detect(),
            postgres,
            idle_secs: plan.idle.as_secs_f64(),
            duration_secs: plan.duration.as_secs_f64(),
            seeded_profiles: plan.profiles,
            goals: goals(&services),
            services,
            commands,
            reads,
            ingest,
            binaries,
        }
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn goals(services: &[ServiceMemory]) -> Vec<Goal> {
    let mut goals = Vec::new();
    for s in services {
        let (idle, peak) = (mib(s.idle_rss_kib), mib(s.peak_kib()));
        goals.push(Goal {
            goal: format!("{} idle RSS < {GOAL_IDLE_MIB} MiB", s.service),
            met: Some(idle < GOAL_IDLE_MIB),
            detail: format!("{idle:.1} MiB"),
        });
        goals.push(Goal {
            goal: format!("{} peak RSS < {GOAL_PEAK_MIB} MiB", s.service),
            met: Some(peak < GOAL_PEAK_MIB),
            detail: format!("{peak:.1} MiB"),
        });
    }
    goals
}

pub fn render(r: &FootprintReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nResident memory (MiB): idle for {} s after start-up, then {} s of commands ({:.0}/s), GetProfile \
         ({:.0}/s) and pageviews ({:.0}/s) at once; {} CPUs",
        r.idle_secs,
        r.duration_secs,
        r.commands.cmds_per_sec,
        r.reads.rps,
        r.ingest.accepted as f64 / r.duration_secs,
        r.machine.cpus
    );
    let _ = writeln!(
        s,
        "{:>16} | {:>8} | {:>14} | {:>8} | {:>13} | {:>7} | {:>8}",
        "service", "idle", "peak (sampled)", "VmHWM", "after load", "idle<50", "peak<200"
    );
    let _ = writeln!(s, "{}", "-".repeat(92));
    for m in &r.services {
        let ok = |met: bool| if met { "yes" } else { "NO" };
        let _ = writeln!(
            s,
            "{:>16} | {:>8.1} | {:>14.1} | {:>8.1} | {:>13.1} | {:>7} | {:>8}",
            m.service,
            mib(m.idle_rss_kib),
            mib(m.peak_rss_kib),
            mib(m.hwm_kib),
            mib(m.settled_rss_kib),
            ok(mib(m.idle_rss_kib) < GOAL_IDLE_MIB),
            ok(mib(m.peak_kib()) < GOAL_PEAK_MIB),
        );
    }
    crate::report::render_goals(&mut s, &r.goals);
    for e in r.commands.sample_errors.iter().chain(&r.reads.sample_errors).chain(&r.ingest.sample_errors) {
        let _ = writeln!(s, "  error: {e}");
    }
    s
}

/// Prints, writes the JSON, and fails the run when a side did no work or failed, or a
/// service was never sampled.
pub fn emit(r: &FootprintReport, json: Option<&Path>) -> anyhow::Result<()> {
    println!("{}", render(r));
    crate::report::write_json(r, json)?;
    let mut problems = Vec::new();
    if r.commands.commands == 0 || r.commands.errors > 0 {
        problems.push(format!("commands: {} done, {} errors", r.commands.commands, r.commands.errors));
    }
    if r.reads.requests == 0 || r.reads.errors > 0 {
        problems.push(format!("reads: {} answered, {} errors", r.reads.requests, r.reads.errors));
    }
    if r.ingest.accepted == 0 || r.ingest.errors > 0 {
        problems.push(format!("ingest: {} accepted, {} errors", r.ingest.accepted, r.ingest.errors));
    }
    for m in &r.services {
        if m.idle_samples == 0 || m.peak_samples == 0 || m.idle_rss_kib == 0 {
            problems
                .push(format!("{}: not sampled ({} idle, {} peak samples)", m.service, m.idle_samples, m.peak_samples));
        }
    }
    anyhow::ensure!(problems.is_empty(), "benchmark run failed:\n  {}", problems.join("\n  "));
    Ok(())
}
