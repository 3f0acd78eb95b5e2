//! Where the CPU went during a measurement, from `/proc` (no perf needed).
//!
//! On a 2-core machine the load generator, pgbench, Postgres and the service compete for the
//! same cores, so a throughput number means little without knowing who used them. Every tick
//! count here is in USER_HZ, the unit `/proc/stat` and `/proc/<pid>/stat` share, so shares are
//! plain ratios and no `sysconf` call is needed.

use serde::Serialize;

/// The processes to account for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Watch {
    pub postmaster: Option<i32>,
    pub service: Option<i32>,
    /// The pgbench process, while the baseline runs.
    pub pgbench: Option<i32>,
}

/// Cumulative counters at one instant.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    total: u64,
    idle: u64,
    iowait: u64,
    cpus: usize,
    postgres: u64,
    service: u64,
    this_process: u64,
    pgbench: u64,
}

/// CPU used between two samples, in cores (1.0 = one core busy for the whole interval).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CpuSplit {
    pub cpus: usize,
    /// Postgres: postmaster, live backends and background processes, plus exited backends.
    pub postgres: f64,
    /// The command-service process (all its threads).
    pub service: f64,
    /// This program (the Tally load generator; near zero while pgbench runs).
    pub load_generator: f64,
    /// The pgbench client (the baseline's load generator).
    pub pgbench: f64,
    /// Busy time not explained by the above: other programs on the machine, kernel work.
    pub other: f64,
    pub idle: f64,
    /// Idle while waiting for I/O (WAL flushes show up here).
    pub iowait: f64,
}

pub fn sample(watch: Watch) -> Sample {
    let (total, idle, iowait, cpus) = machine();
    let postgres = watch.postmaster.map_or(0, postgres_ticks);
    let own = |pid: Option<i32>| pid.and_then(proc_stat).map_or(0, |s| s.own);
    let service = own(watch.service);
    let pgbench = own(watch.pgbench);
    let this_process = own(Some(std::process::id() as i32));
    Sample { total, idle, iowait, cpus, postgres, service, this_process, pgbench }
}

pub fn split(before: &Sample, after: &Sample) -> CpuSplit {
    let total = after.total.saturating_sub(before.total);
    if total == 0 {
        return CpuSplit::default();
    }
    let cores = |ticks: u64| ticks as f64 / total as f64 * after.cpus as f64;
    let d = |f: fn(&Sample) -> u64| f(after).saturating_sub(f(before));
    let idle = d(|s| s.idle);
    let iowait = d(|s| s.iowait);
    let ours = d(|s| s.postgres) + d(|s| s.service) + d(|s| s.this_process) + d(|s| s.pgbench);
    let busy = total.saturating_sub(idle + iowait);
    CpuSplit {
        cpus: after.cpus,
        postgres: cores(d(|s| s.postgres)),
        service: cores(d(|s| s.service)),
        load_generator: cores(d(|s| s.this_process)),
        pgbench: cores(d(|s| s.pgbench)),
        other: cores(busy.saturating_sub(ours)),
        idle: cores(idle),
        iowait: cores(iowait),
    }
}

/// (total, idle, iowait, cpu count) from the aggregate `cpu` line of `/proc/stat`.
fn machine() -> (u64, u64, u64, usize) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpus = text
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count()
        .max(1);
    let Some(line) = text.lines().find(|l| l.starts_with("cpu ")) else {
        return (0, 0, 0, cpus);
    };
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal; guest time is already inside user.
    let total = v.iter().take(8).sum();
    (total, v.get(3).copied().unwrap_or(0), v.get(4).copied().unwrap_or(0), cpus)
}

#[derive(Debug, Clone, Copy, Default)]
struct ProcTicks {
    ppid: i32,
    /// utime + stime of the process itself (all threads).
    own: u64,
    /// cutime + cstime: children it has waited for.
    children: u64,
}

fn proc_stat(pid: i32) -> Option<ProcTicks> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses; fields resume after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17.
    let n = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    Some(ProcTicks { ppid: f.get(1)?.parse().ok()?, own: n(11) + n(12), children: n(13) + n(14) })
}

/// The postmaster with the backends it has reaped (their time lands in its cutime/cstime when
/// they exit, e.g. pgbench's connections) plus every live child.
fn postgres_ticks(postmaster: i32) -> u64 {
    let Some(root) = proc_stat(postmaster) else {
        return 0;
    };
    let live: u64 = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(proc_stat)
        .filter(|p| p.ppid == postmaster)
        .map(|p| p.own)
        .sum();
    root.own + root.children + live
}
