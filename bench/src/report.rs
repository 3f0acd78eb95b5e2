//! The report: the comparison table, the resource breakdown, the goals, and the JSON file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use crate::load::TallyResult;
use crate::pgbench::BaselineResult;
use crate::wal::DbDelta;
use crate::window::Usage;

/// Goals from the performance issue.
const GOAL_CLIENTS: u32 = 32;
const GOAL_P99_MS: f64 = 10.0;
/// Issue 6: at least five times the commands/s of cqrs-es + postgres-es.
const GOAL_PEER_RATIO: f64 = 5.0;
/// CPU (in cores) used by programs outside the benchmark above which a run is suspect: on a
/// 2-core machine a compiler in the background moves the figures by tens of percent.
const OTHER_CPU_LIMIT: f64 = 0.15;

#[derive(Debug, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub started_at: String,
    pub smoke: bool,
    pub machine: Machine,
    /// Server settings as the cluster reported them.
    pub postgres: BTreeMap<String, String>,
    pub params: Params,
    pub service: ServiceInfo,
    pub rows: Vec<Row>,
    pub goals: Vec<Goal>,
    /// Reasons to distrust this run (e.g. other programs competing for the CPUs).
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Params {
    pub duration_secs: f64,
    pub warmup_ms: u128,
    pub concurrency: Vec<u32>,
    pub profiles_per_client: u32,
    pub create_every: u64,
    pub seed_profiles: u32,
    pub baseline_workload: &'static str,
    pub tally_workload: &'static str,
}

#[derive(Debug, Serialize)]
pub struct ServiceInfo {
    pub binary: PathBuf,
    pub pool_size: Option<u32>,
    pub log: PathBuf,
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub concurrency: u32,
    pub baseline: BaselineResult,
    pub tally: TallyResult,
    /// Tally commands/s ÷ pgbench transactions/s.
    pub throughput_ratio: f64,
    /// Tally p99 ÷ pgbench p99.
    pub p99_ratio: f64,
    /// The same commands on cqrs-es + postgres-es, when measured.
    pub peer: Option<TallyResult>,
    /// Tally commands/s ÷ postgres-es commands/s.
    pub peer_ratio: Option<f64>,
}

impl Row {
    pub fn new(baseline: BaselineResult, tally: TallyResult, peer: Option<TallyResult>) -> Self {
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        Self {
            peer_ratio: peer.as_ref().map(|p| ratio(tally.cmds_per_sec, p.cmds_per_sec)),
            peer,
            concurrency: baseline.concurrency,
            throughput_ratio: ratio(tally.cmds_per_sec, baseline.tps),
            p99_ratio: ratio(tally.latency.p99_ms, baseline.latency.p99_ms),
            baseline,
            tally,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Goal {
    pub goal: String,
    /// `None` when the run did not measure it (e.g. no 32-client level).
    pub met: Option<bool>,
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub kernel: String,
}

impl Machine {
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        Self {
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            cpu_model: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
                .unwrap_or_default(),
            memory_gib: (mem_kib / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned(),
        }
    }
}

pub fn goals(rows: &[Row]) -> Vec<Goal> {
    let throughput = match rows.iter().find(|r| r.concurrency == GOAL_CLIENTS) {
        Some(r) => Goal {
            goal: format!("tally commands/s >= pgbench tps at {GOAL_CLIENTS} clients"),
            met: Some(r.tally.cmds_per_sec >= r.baseline.tps),
            detail: format!(
                "{:.0} cmds/s vs {:.0} tps (ratio {:.2})",
                r.tally.cmds_per_sec, r.baseline.tps, r.throughput_ratio
            ),
        },
        None => Goal {
            goal: format!("tally commands/s >= pgbench tps at {GOAL_CLIENTS} clients"),
            met: None,
            detail: format!("not measured: add {GOAL_CLIENTS} to --concurrency"),
        },
    };
    let worst = rows.iter().max_by(|a, b| a.tally.latency.p99_ms.total_cmp(&b.tally.latency.p99_ms));
    let p99 = Goal {
        goal: format!("tally p99 <= {GOAL_P99_MS} ms at every measured concurrency"),
        met: worst.map(|w| w.tally.latency.p99_ms <= GOAL_P99_MS),
        detail: rows
            .iter()
            .map(|r| format!("{} clients: {:.2} ms", r.concurrency, r.tally.latency.p99_ms))
            .collect::<Vec<_>>()
            .join(", "),
    };
    let peer = match rows.iter().find(|r| r.concurrency == GOAL_CLIENTS).and_then(|r| Some((r, r.peer.as_ref()?))) {
        Some((r, p)) => Goal {
            goal: format!("tally commands/s >= {GOAL_PEER_RATIO}x postgres-es at {GOAL_CLIENTS} clients"),
            met: Some(r.tally.cmds_per_sec >= GOAL_PEER_RATIO * p.cmds_per_sec),
            detail: format!(
                "{:.0} cmds/s vs {:.0} cmds/s (ratio {:.2})",
                r.tally.cmds_per_sec,
                p.cmds_per_sec,
                r.peer_ratio.unwrap_or_default()
            ),
        },
        None => Goal {
            goal: format!("tally commands/s >= {GOAL_PEER_RATIO}x postgres-es at {GOAL_CLIENTS} clients"),
            met: None,
            detail: "not measured (--no-peer, or 32 not in --concurrency)".to_owned(),
        },
    };
    vec![throughput, p99, peer]
}

/// Flags windows in which something outside the benchmark used noticeable CPU.
pub fn warnings(rows: &[Row]) -> Vec<String> {
    let mut out = Vec::new();
    for r in rows {
        for (side, other) in [("pgbench", r.baseline.usage.cpu.other), ("tally", r.tally.usage.cpu.other)] {
            if other > OTHER_CPU_LIMIT {
                out.push(format!(
                    "{side} at {} clients: other programs used {other:.2} cores during the \
                     window; rerun on a quiet machine before trusting these figures",
                    r.concurrency
                ));
            }
        }
    }
    out
}

/// The human-readable report (stdout).
pub fn render(report: &Report) -> String {
    let mut s = String::new();
    let pg = |k: &str| report.postgres.get(k).map_or("?", String::as_str);
    let transport = report.rows.first().map_or("grpc", |r| r.tally.transport.name());
    let _ = writeln!(
        s,
        "\nTally commands ({transport}) vs pgbench one-row INSERT, same run, same cluster \
         (PostgreSQL {}, fsync={}, synchronous_commit={}, full_page_writes={}); {} s per level \
         after {} ms warm-up; {} CPUs",
        pg("server_version"),
        pg("fsync"),
        pg("synchronous_commit"),
        pg("full_page_writes"),
        report.params.duration_secs,
        report.params.warmup_ms,
        report.machine.cpus,
    );
    let _ = writeln!(
        s,
        "{:>7} | {:>11} | {:>18} | {:>12} | {:>16} | {:>13}",
        "clients", "pgbench tps", "pgbench p50/p99 ms", "tally cmds/s", "tally p50/p99 ms", "tally/pgbench"
    );
    let _ = writeln!(s, "{}", "-".repeat(94));
    for r in &report.rows {
        let (b, t) = (&r.baseline, &r.tally);
        let peer = match (&r.peer, r.peer_ratio) {
            (Some(p), Some(ratio)) => format!(
                " | postgres-es {:.0} cmds/s, p50/p99 {:.2} / {:.2} ms, tally/postgres-es {ratio:.2}x",
                p.cmds_per_sec, p.latency.p50_ms, p.latency.p99_ms
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "{:>7} | {:>11.0} | {:>18} | {:>12.0} | {:>16} | {:>12.2}x{peer}",
            r.concurrency,
            b.tps,
            format!("{:.2} / {:.2}", b.latency.p50_ms, b.latency.p99_ms),
            t.cmds_per_sec,
            format!("{:.2} / {:.2}", t.latency.p50_ms, t.latency.p99_ms),
            r.throughput_ratio,
        );
    }

    let _ = writeln!(
        s,
        "\nWhere the time went (CPU in cores of {}; per op = per transaction or command):",
        report.machine.cpus
    );
    let _ = writeln!(
        s,
        "{:>7} {:>8} | {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>6} | {:>8} {:>8} {:>11} | {:>6} {:>9} | {:>6}",
        "clients",
        "side",
        "pg",
        "svc",
        "gen",
        "bench",
        "other",
        "idle",
        "iowait",
        "xacts/op",
        "WAL B/op",
        "WAL fsync/s",
        "batch",
        "commit ms",
        "errors"
    );
    for r in &report.rows {
        let b = &r.baseline;
        let t = &r.tally;
        let seconds = report.params.duration_secs;
        let _ = writeln!(
            s,
            "{:>7} {:>8} | {} | {} | {:>6} {:>9} | {:>6}",
            r.concurrency,
            "pgbench",
            cpu_cells(&b.usage),
            db_cells(&b.usage.db, b.transactions, seconds),
            "-",
            "-",
            b.failed
        );
        let _ = writeln!(
            s,
            "{:>7} {:>8} | {} | {} | {:>6.1} {:>9.2} | {:>6}",
            r.concurrency,
            "tally",
            cpu_cells(&t.usage),
            db_cells(&t.usage.db, t.commands, seconds),
            t.batches.mean_batch_size,
            t.batches.mean_commit_ms,
            t.errors
        );
        if let Some(p) = &r.peer {
            let _ = writeln!(
                s,
                "{:>7} {:>8} | {} | {} | {:>6} {:>9} | {:>6}",
                r.concurrency,
                "pg-es",
                cpu_cells(&p.usage),
                db_cells(&p.usage.db, p.commands, seconds),
                "-",
                "-",
                p.errors
            );
        }
    }

    render_goals(&mut s, &report.goals);
    for w in &report.warnings {
        let _ = writeln!(s, "  WARNING: {w}");
    }
    for r in &report.rows {
        for e in &r.tally.sample_errors {
            let _ = writeln!(s, "  error at {} clients: {e}", r.concurrency);
        }
    }
    s
}

/// The goals section every report ends with.
pub fn render_goals(s: &mut String, goals: &[Goal]) {
    let _ = writeln!(s, "\nGoals:");
    for g in goals {
        let verdict = match g.met {
            Some(true) => "MET",
            Some(false) => "MISSED",
            None => "NOT MEASURED",
        };
        let _ = writeln!(s, "  [{verdict}] {}: {}", g.goal, g.detail);
    }
}

/// Writes `report` as pretty JSON to `path`, when given.
pub fn write_json(report: &impl Serialize, path: Option<&std::path::Path>) -> anyhow::Result<()> {
    if let Some(path) = path {
        let json = serde_json::to_string_pretty(report)?;
        std::fs::write(path, json).map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn cpu_cells(u: &Usage) -> String {
    let c = &u.cpu;
    format!(
        "{:>5.2} {:>5.2} {:>5.2} {:>5.2} {:>5.2} {:>5.2} {:>6.2}",
        c.postgres, c.service, c.load_generator, c.pgbench, c.other, c.idle, c.iowait
    )
}

fn db_cells(db: &DbDelta, ops: u64, seconds: f64) -> String {
    let per_op = |v: i64| if ops > 0 { v as f64 / ops as f64 } else { 0.0 };
    format!(
        "{:>8.3} {:>8.0} {:>11.0}",
        per_op(db.write_transactions),
        per_op(db.wal_bytes),
        db.wal_syncs as f64 / seconds
    )
}
