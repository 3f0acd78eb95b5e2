//! The analytics-reads report: one table (each query, each side, p50/p99 and the ratio to
//! Tally), the answer all sides agreed on, the goals, and the JSON file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::answer::Side;
use super::dataset::Shape;
use super::duck::Loaded;
use super::project::Projected;
use super::store::Written;
use crate::latency::LatencySummary;
use crate::report::{Goal, Machine, render_goals, write_json};

/// Goals from issues 4 and 6.
const GOAL_P99_MS: f64 = 20.0;
const GOAL_VS_POSTGRES: f64 = 100.0;
const GOAL_VS_DUCKDB: f64 = 10.0;

#[derive(Debug, Serialize)]
pub struct Preparation {
    pub written: Written,
    pub raw_index_secs: f64,
    pub projected: Projected,
    pub duckdb: Loaded,
}

/// Rollup rows of the big site's range: the aggregate reads the total rows, the page
/// breakdown the page rows of the range's whole spans (weeks, months, days).
#[derive(Debug, Serialize)]
pub struct Scanned {
    pub total_rows: u64,
    /// The spans the range is read as.
    pub page_spans: usize,
    pub page_rows: u64,
    /// The page rows a day at a time would have been.
    pub page_day_rows: u64,
}

#[derive(Debug, Serialize)]
pub struct Repetitions {
    pub tally: u32,
    pub tally_warmup: u32,
    pub baselines: u32,
    pub limit: u32,
}

#[derive(Debug, Serialize)]
pub struct AnalyticsReadsReport {
    pub tool: &'static str,
    pub started_at: String,
    pub smoke: bool,
    pub machine: Machine,
    pub postgres: BTreeMap<String, String>,
    pub shape: Shape,
    pub big_site_pageviews: u64,
    pub preparation: Preparation,
    pub repetitions: Repetitions,
    /// Requests the query-service answered (warm-up included); every one a 200.
    pub tally_requests: u64,
    pub scanned: Scanned,
    /// `EXPLAIN (ANALYZE, BUFFERS)` of the page breakdown's statement on the read DB.
    pub breakdown_plan: String,
    /// Tally first, then the naive Postgres query, then DuckDB; all gave the same answer.
    pub sides: Vec<Side>,
    /// Baseline p50 / Tally p50, per baseline and query.
    pub ratios: BTreeMap<String, f64>,
    pub goals: Vec<Goal>,
}

fn ratio(base: &LatencySummary, tally: &LatencySummary) -> f64 {
    if tally.p50_ms > 0.0 { base.p50_ms / tally.p50_ms } else { 0.0 }
}

/// Ratios and goals from the three sides (Tally, naive Postgres, DuckDB).
pub fn judge(sides: &[Side]) -> (BTreeMap<String, f64>, Vec<Goal>) {
    let [tally, naive, duck] = sides else { unreachable!("three sides") };
    let mut ratios = BTreeMap::new();
    for (name, base) in [("postgres", naive), ("duckdb", duck)] {
        ratios.insert(format!("{name}/aggregate"), ratio(&base.aggregate, &tally.aggregate));
        ratios.insert(format!("{name}/breakdown"), ratio(&base.breakdown, &tally.breakdown));
    }
    let worst_p99 = tally.aggregate.p99_ms.max(tally.breakdown.p99_ms);
    let least = |name: &str| ratios[&format!("{name}/aggregate")].min(ratios[&format!("{name}/breakdown")]);
    let goals = vec![
        Goal {
            goal: format!("Tally p99 <= {GOAL_P99_MS} ms (aggregate and breakdown(page), 30 days, big site)"),
            met: Some(worst_p99 <= GOAL_P99_MS),
            detail: format!("aggregate {:.2} ms, breakdown {:.2} ms", tally.aggregate.p99_ms, tally.breakdown.p99_ms),
        },
        Goal {
            goal: format!(">= {GOAL_VS_POSTGRES}x faster than the naive query in Postgres (p50)"),
            met: Some(least("postgres") >= GOAL_VS_POSTGRES),
            detail: format!("{:.0}x at the slower of the two queries", least("postgres")),
        },
        Goal {
            goal: format!(">= {GOAL_VS_DUCKDB}x faster than DuckDB over the raw rows (p50)"),
            met: Some(least("duckdb") >= GOAL_VS_DUCKDB),
            detail: format!("{:.1}x at the slower of the two queries", least("duckdb")),
        },
    ];
    (ratios, goals)
}

pub fn render(r: &AnalyticsReadsReport) -> String {
    let mut s = String::new();
    let p = &r.preparation;
    let _ = writeln!(
        s,
        "\nanalytics reads: {} days on the big site ({} of {} pageviews, {} sites){}",
        r.shape.days,
        r.big_site_pageviews,
        r.shape.pageviews,
        r.shape.sites,
        if r.smoke { " [smoke: figures mean nothing]" } else { "" }
    );
    let _ = writeln!(
        s,
        "seeded {} events in {:.1} s; projector rebuild analytics {:.1} s ({:.0} events/s); \
         DuckDB {} load {:.1} s (export {:.1} s)",
        p.written.events,
        p.written.seconds,
        p.projected.wall_secs,
        p.projected.events_per_sec,
        p.duckdb.duckdb_version,
        p.duckdb.load_secs,
        p.duckdb.export_secs
    );
    let _ = writeln!(
        s,
        "\n{:<10} {:<9} {:>6} {:>10} {:>10} {:>14}",
        "query", "side", "reps", "p50 ms", "p99 ms", "p50 vs tally"
    );
    for q in ["aggregate", "breakdown"] {
        for side in &r.sides {
            let l = if q == "aggregate" { &side.aggregate } else { &side.breakdown };
            let vs = r.ratios.get(&format!("{}/{q}", side.name)).map_or("-".to_owned(), |x| format!("{x:.1}x"));
            let _ =
                writeln!(s, "{q:<10} {:<9} {:>6} {:>10.2} {:>10.2} {vs:>14}", side.name, l.count, l.p50_ms, l.p99_ms);
        }
    }
    let t = &r.sides[0].answer.totals;
    let _ = writeln!(
        s,
        "\nsame answer on every side: {} visitors, {} visits, {} pageviews, bounce rate {} %, visit duration {} s; \
         top {} pages equal",
        t.visitors,
        t.visits,
        t.pageviews,
        t.bounce_rate,
        t.visit_duration,
        r.sides[0].answer.pages.len()
    );
    let _ = writeln!(
        s,
        "Tally read {} rollup rows per aggregate, {} page rows per breakdown ({} spans; {} rows a day at a time)",
        r.scanned.total_rows, r.scanned.page_rows, r.scanned.page_spans, r.scanned.page_day_rows
    );
    let _ = writeln!(s, "The page breakdown's plan (EXPLAIN ANALYZE on the read DB, planned for these values):");
    for line in r.breakdown_plan.lines() {
        let _ = writeln!(s, "  {line}");
    }
    render_goals(&mut s, &r.goals);
    s
}

pub fn emit(report: &AnalyticsReadsReport, json: Option<&Path>) -> anyhow::Result<()> {
    print!("{}", render(report));
    write_json(report, json)
}
