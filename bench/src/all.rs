//! `tally-bench all`: every workload in turn, then one summary of every goal.
//!
//! Each workload runs as a child process of this same binary (`tally-bench <workload>
//! --json <out>/<workload>.json`), for two reasons: a workload tears down its own clusters
//! and services, and a process boundary guarantees nothing of one (threads, buffers, open
//! files, a half-stopped Postgres) skews the figures of the next; and one failing workload
//! must not stop the others from producing their figures. The children print their own
//! tables and progress as they go; this module only reads their JSON reports back.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, ValueEnum};
use serde::Serialize;
use serde_json::Value;

use crate::report::Machine;

/// The workloads, in the order `all` runs them: the write side, then the read side, then
/// the ones that grow or hold the stack for longest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    Commands,
    Ingest,
    Reads,
    AnalyticsReads,
    Isolation,
    Lag,
    Rebuild,
    Growth,
    Footprint,
}

impl Workload {
    fn name(self) -> String {
        self.to_possible_value().map(|v| v.get_name().to_owned()).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Args)]
pub struct AllArgs {
    /// Directory for each workload's JSON report and `summary.json`.
    #[arg(long, default_value = "target/bench")]
    pub out_dir: PathBuf,

    /// Run only these workloads (comma separated); all of them when absent.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<Workload>,

    /// Leave these workloads out (comma separated), e.g. `growth` when disk is short.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub skip: Vec<Workload>,

    /// Every workload's smoke run (seconds each, tiny sizes; figures mean nothing).
    #[arg(long)]
    pub smoke: bool,

    /// Cargo profile whose binaries are benchmarked (passed to every workload).
    #[arg(long, env = "TALLY_BENCH_PROFILE", default_value = "release")]
    pub profile: String,
}

/// One workload's outcome as the summary shows it.
#[derive(Debug, Serialize)]
struct Outcome {
    workload: Workload,
    /// Whether the workload ran to the end and wrote its report.
    completed: bool,
    seconds: f64,
    report: Option<PathBuf>,
    /// The report's `goals` array, as the workload wrote it.
    goals: Vec<Value>,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct Summary {
    started_at: String,
    smoke: bool,
    profile: String,
    machine: Machine,
    workloads: Vec<Outcome>,
}

pub fn run(args: AllArgs) -> anyhow::Result<()> {
    let selected: Vec<Workload> = Workload::value_variants()
        .iter()
        .copied()
        .filter(|w| args.only.is_empty() || args.only.contains(w))
        .filter(|w| !args.skip.contains(w))
        .collect();
    anyhow::ensure!(!selected.is_empty(), "--only and --skip leave no workload to run");
    std::fs::create_dir_all(&args.out_dir).map_err(|e| anyhow::anyhow!("creating {}: {e}", args.out_dir.display()))?;
    let exe = std::env::current_exe()?;
    let started_at = chrono::Utc::now().to_rfc3339();

    let mut outcomes = Vec::with_capacity(selected.len());
    for (i, &workload) in selected.iter().enumerate() {
        eprintln!("\n=== [{}/{}] tally-bench {} ===", i + 1, selected.len(), workload.name());
        outcomes.push(run_one(&exe, workload, &args));
    }

    let summary = Summary {
        started_at,
        smoke: args.smoke,
        profile: args.profile.clone(),
        machine: Machine::detect(),
        workloads: outcomes,
    };
    print!("{}", render(&summary));
    let path = args.out_dir.join("summary.json");
    std::fs::write(&path, serde_json::to_string_pretty(&summary)?)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    eprintln!("wrote {}", path.display());

    let failed: Vec<String> = summary.workloads.iter().filter(|o| !o.completed).map(|o| o.workload.name()).collect();
    // A missed goal is a finding, reported above; a workload that could not run is a failure.
    anyhow::ensure!(failed.is_empty(), "workloads that did not complete: {}", failed.join(", "));
    Ok(())
}

fn run_one(exe: &Path, workload: Workload, args: &AllArgs) -> Outcome {
    let report = args.out_dir.join(format!("{}.json", workload.name()));
    // A stale report from an earlier run must never pass for this run's.
    let _ = std::fs::remove_file(&report);
    let mut command = std::process::Command::new(exe);
    command.arg(workload.name()).args(["--profile", &args.profile, "--json"]).arg(&report);
    if args.smoke {
        command.arg("--smoke");
    }
    let started = Instant::now();
    let status = command.status();
    let seconds = started.elapsed().as_secs_f64();
    let failure = match status {
        Ok(s) if s.success() => None,
        Ok(s) => Some(format!("exited with {s}")),
        Err(e) => Some(format!("could not start: {e}")),
    };
    let parsed = match failure {
        Some(e) => Err(e),
        None => read_goals(&report),
    };
    match parsed {
        Ok(goals) => Outcome { workload, completed: true, seconds, report: Some(report), goals, error: None },
        Err(error) => {
            eprintln!("tally-bench {}: {error}", workload.name());
            Outcome { workload, completed: false, seconds, report: None, goals: Vec::new(), error: Some(error) }
        }
    }
}

fn read_goals(report: &Path) -> Result<Vec<Value>, String> {
    let bytes = std::fs::read(report).map_err(|e| format!("no report at {}: {e}", report.display()))?;
    let json: Value = serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", report.display()))?;
    Ok(json.get("goals").and_then(Value::as_array).cloned().unwrap_or_default())
}

fn render(summary: &Summary) -> String {
    let mut s = String::new();
    let kind = if summary.smoke { "smoke run: the figures mean nothing" } else { "full run" };
    let _ = writeln!(s, "\nSummary ({kind}; {} binaries)", summary.profile);
    let _ = writeln!(s, "{:<16} {:>8}  {:<12} goal", "workload", "time", "verdict");
    for o in &summary.workloads {
        let time = format!("{:.0} s", o.seconds);
        if let Some(error) = &o.error {
            let _ = writeln!(s, "{:<16} {time:>8}  {:<12} {error}", o.workload.name(), "FAILED");
            continue;
        }
        if o.goals.is_empty() {
            let _ = writeln!(s, "{:<16} {time:>8}  {:<12} (no stated goal)", o.workload.name(), "-");
        }
        for g in &o.goals {
            let verdict = match g.get("met").and_then(Value::as_bool) {
                Some(true) => "MET",
                Some(false) => "MISSED",
                None => "NOT MEASURED",
            };
            let text = |k: &str| g.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            let _ =
                writeln!(s, "{:<16} {time:>8}  {verdict:<12} {}: {}", o.workload.name(), text("goal"), text("detail"));
        }
    }
    s
}
