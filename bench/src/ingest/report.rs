//! The ingest report: one table next to the COPY baseline, the goals, and the JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::copy::CopyResult;
use crate::binaries::ReadSide;
use crate::cli::Transport;
use crate::latency::LatencySummary;
use crate::report::{Goal, Machine};

/// Issue 6: events/s end to end, share of the COPY rate, and the lag.
const GOAL_RATE: f64 = 30_000.0;
const GOAL_COPY_SHARE: f64 = 0.25;
const GOAL_LAG_P99_MS: f64 = 1000.0;
const GOAL_PEAK_RSS_MIB: f64 = 200.0;

/// Everything the run measured.
pub struct Inputs {
    pub peak_rss_mib: Vec<(String, f64)>,
    pub offered_rate: Option<u64>,
    pub started_at: String,
    pub smoke: bool,
    pub machine: Machine,
    pub transport: Transport,
    pub clients: u32,
    pub batch: usize,
    pub sites: usize,
    pub visitors_per_site: u32,
    pub client_ids: bool,
    pub load_secs: f64,
    pub drain_secs: f64,
    pub requests: u64,
    pub accepted: u64,
    pub visible: u64,
    pub probes_sent: u64,
    pub probes_visible: u64,
    pub request_latency: LatencySummary,
    pub lag: LatencySummary,
    pub errors: u64,
    pub sample_errors: Vec<String>,
    pub copy: CopyResult,
    pub binaries: ReadSide,
    pub postgres: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct IngestReport {
    pub tool: &'static str,
    pub started_at: String,
    pub smoke: bool,
    pub machine: Machine,
    pub postgres: BTreeMap<String, String>,
    pub transport: Transport,
    pub clients: u32,
    pub batch: usize,
    pub sites: usize,
    pub visitors_per_site: u32,
    pub client_ids: bool,
    /// Seconds of load, and from its end until `aggregate` counted every accepted event.
    pub load_secs: f64,
    pub drain_secs: f64,
    pub requests: u64,
    /// Events the service accepted (every request's events, all of them).
    pub accepted: u64,
    /// Events `aggregate` counts over all load sites after the drain.
    pub visible: u64,
    pub accepted_per_sec: f64,
    /// Visible events ÷ (load + drain): the sustained rate end to end.
    pub end_to_end_per_sec: f64,
    pub request_latency: LatencySummary,
    /// Marker acknowledged → counted by `aggregate` (with `min_position`).
    pub lag: LatencySummary,
    pub probes_sent: u64,
    pub probes_visible: u64,
    pub errors: u64,
    pub sample_errors: Vec<String>,
    pub copy: CopyResult,
    /// End-to-end rate ÷ COPY rate.
    pub copy_share: f64,
    pub binaries: ReadSide,
    /// Each service's `VmHWM` at the end: its peak resident memory under this load.
    pub peak_rss_mib: Vec<(String, f64)>,
    /// `--rate`: the events/s the clients offered, paced; `None` when they sent flat out.
    pub offered_rate: Option<u64>,
    pub goals: Vec<Goal>,
}

impl IngestReport {
    pub fn new(i: Inputs) -> Self {
        let accepted_per_sec = i.accepted as f64 / i.load_secs.max(1e-9);
        let end_to_end_per_sec = i.visible as f64 / (i.load_secs + i.drain_secs).max(1e-9);
        let copy_share = if i.copy.rows_per_sec > 0.0 { end_to_end_per_sec / i.copy.rows_per_sec } else { 0.0 };
        let goals = vec![
            Goal {
                goal: format!("end-to-end >= {GOAL_RATE:.0} events/s"),
                met: Some(end_to_end_per_sec >= GOAL_RATE),
                detail: format!("{end_to_end_per_sec:.0} events/s (accepted {accepted_per_sec:.0}/s)"),
            },
            Goal {
                goal: format!("end-to-end >= {:.0} % of the COPY rate", GOAL_COPY_SHARE * 100.0),
                met: Some(copy_share >= GOAL_COPY_SHARE),
                detail: format!("{:.1} % of {:.0} rows/s", copy_share * 100.0, i.copy.rows_per_sec),
            },
            Goal {
                goal: format!("lag p99 < {GOAL_LAG_P99_MS:.0} ms"),
                met: (i.lag.count > 0).then_some(i.lag.p99_ms < GOAL_LAG_P99_MS),
                detail: format!("p50 {:.0} ms, p99 {:.0} ms over {} probes", i.lag.p50_ms, i.lag.p99_ms, i.lag.count),
            },
            Goal {
                goal: "every accepted event is counted by aggregate".to_owned(),
                met: Some(i.visible == i.accepted && i.probes_visible == i.probes_sent),
                detail: format!(
                    "{} accepted, {} counted; {} probes sent, {} counted",
                    i.accepted, i.visible, i.probes_sent, i.probes_visible
                ),
            },
            Goal {
                goal: format!(
                    "every service's peak RSS < {GOAL_PEAK_RSS_MIB:.0} MiB under this load (issue 6's budget)"
                ),
                met: Some(i.peak_rss_mib.iter().all(|(_, mib)| *mib < GOAL_PEAK_RSS_MIB)),
                detail: i
                    .peak_rss_mib
                    .iter()
                    .map(|(name, mib)| format!("{name} {mib:.0} MiB"))
                    .collect::<Vec<_>>()
                    .join(", "),
            },
        ];
        Self {
            tool: "tally-bench ingest",
            started_at: i.started_at,
            smoke: i.smoke,
            machine: i.machine,
            postgres: i.postgres,
            transport: i.transport,
            clients: i.clients,
            batch: i.batch,
            sites: i.sites,
            visitors_per_site: i.visitors_per_site,
            client_ids: i.client_ids,
            load_secs: i.load_secs,
            drain_secs: i.drain_secs,
            requests: i.requests,
            accepted: i.accepted,
            visible: i.visible,
            accepted_per_sec,
            end_to_end_per_sec,
            request_latency: i.request_latency,
            lag: i.lag,
            probes_sent: i.probes_sent,
            probes_visible: i.probes_visible,
            errors: i.errors,
            sample_errors: i.sample_errors,
            copy: i.copy,
            copy_share,
            binaries: i.binaries,
            peak_rss_mib: i.peak_rss_mib,
            offered_rate: i.offered_rate,
            goals,
        }
    }

    /// The run itself worked (the speed goals are reported, not enforced).
    pub fn ok(&self) -> bool {
        self.errors == 0
            && self.accepted > 0
            && self.visible == self.accepted
            && self.probes_visible == self.probes_sent
            && self.copy.rows > 0
    }

    pub fn failure(&self) -> String {
        format!(
            "{} errors, {} accepted, {} visible, {}/{} probes counted, {} rows copied; first error: {:?}",
            self.errors,
            self.accepted,
            self.visible,
            self.probes_visible,
            self.probes_sent,
            self.copy.rows,
            self.sample_errors.first()
        )
    }
}

pub fn render(r: &IngestReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nAnalytics ingest: {} clients × batches of {} events over {:?} for {:.1} s ({}), {} sites × {} visitors, \
         client ids {}; command-service → relay → Tansu → projector → query-service; {} CPUs",
        r.clients,
        r.batch,
        r.transport,
        r.load_secs,
        r.offered_rate.map_or_else(|| "flat out".to_owned(), |rate| format!("paced to {rate} events/s")),
        r.sites,
        r.visitors_per_site,
        if r.client_ids { "on" } else { "off" },
        r.machine.cpus
    );
    let (q, l) = (&r.request_latency, &r.lag);
    let _ = writeln!(s, "  {:<34} {:>12} {:>10} {:>10} {:>9}", "", "events/s", "p50 ms", "p99 ms", "% of COPY");
    let row = |s: &mut String, name: &str, rate: f64, p50: Option<f64>, p99: Option<f64>| {
        let ms = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"));
        let share = if r.copy.rows_per_sec > 0.0 { rate / r.copy.rows_per_sec * 100.0 } else { 0.0 };
        let _ = writeln!(s, "  {name:<34} {rate:>12.0} {:>10} {:>10} {share:>8.1}%", ms(p50), ms(p99));
    };
    row(&mut s, "tally accepted (request latency)", r.accepted_per_sec, Some(q.p50_ms), Some(q.p99_ms));
    row(&mut s, "tally end to end (lag)", r.end_to_end_per_sec, Some(l.p50_ms), Some(l.p99_ms));
    row(&mut s, &format!("COPY baseline ({} streams)", r.copy.streams), r.copy.rows_per_sec, None, None);
    let _ = writeln!(
        s,
        "  {} events accepted in {} requests, {} counted by aggregate after a {:.1} s drain; {} COPY rows in {:.2} s; \
         {} probes",
        r.accepted, r.requests, r.visible, r.drain_secs, r.copy.rows, r.copy.secs, r.probes_sent
    );
    crate::report::render_goals(&mut s, &r.goals);
    for e in &r.sample_errors {
        let _ = writeln!(s, "  error: {e}");
    }
    s
}
