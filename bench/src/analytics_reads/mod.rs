//! `tally-bench analytics-reads`: Tally's `aggregate` and `breakdown(page)` over 30 days of a
//! big site, against the naive GROUP BY over a raw pageviews table in the same Postgres and
//! against DuckDB over the same raw rows (issues 4 and 6).
//!
//! A deterministic data set ([`dataset`]) is written in one pass to the event store, as the
//! appender stores it, and to the raw table ([`store`]); the real projector builds the read
//! tables from the event store ([`project`]); then each side is asked the same questions in
//! turn ([`tally`], [`raw`], [`duck`]) and must give the same answer ([`answer`]) before any
//! latency is compared ([`report`]).

mod answer;
mod dataset;
mod dims;
mod duck;
mod explain;
mod project;
mod raw;
mod report;
mod store;
mod tally;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;

use crate::cli::Common;
use crate::progress::{Live, Progress};
use crate::reads::{READ_DB, WRITE_DB};
use crate::stack::Databases;
use crate::{binaries, cluster, processes};
use answer::{Range, Side};
use dataset::{Generator, Shape};
use report::{AnalyticsReadsReport, Preparation, Repetitions};

#[derive(Debug, Clone, Args)]
pub struct AnalyticsReadsArgs {
    #[command(flatten)]
    pub common: Common,

    /// Pageviews in the data set (80 % on the big site, 30 days).
    #[arg(long, default_value_t = 10_000_000)]
    pub pageviews: u64,

    /// Sites: the big one and `sites - 1` small ones.
    #[arg(long, default_value_t = 1000)]
    pub sites: u32,

    /// Distinct pages of the big site (power-law popularity).
    #[arg(long, default_value_t = 3000)]
    pub pages: u32,

    /// Seed of the data set's generator: the same seed gives the same pageviews.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Timed repetitions of each Tally query (after the warm-up).
    #[arg(long, default_value_t = 300)]
    pub reps: u32,

    /// Untimed Tally repetitions first (connections, caches, plans).
    #[arg(long, default_value_t = 30)]
    pub warmup: u32,

    /// Timed repetitions of each baseline query (after one untimed run); they take seconds
    /// each at full size.
    #[arg(long, default_value_t = 10)]
    pub baseline_reps: u32,

    /// Rows of the page breakdown.
    #[arg(long, default_value_t = 10)]
    pub limit: u32,
}

const DAYS: u32 = 30;

struct Plan {
    shape: Shape,
    reps: u32,
    warmup: u32,
    baseline_reps: u32,
    limit: u32,
}

impl AnalyticsReadsArgs {
    fn plan(&self) -> anyhow::Result<Plan> {
        let today = chrono::Utc::now().date_naive();
        let (pageviews, sites, pages, reps, warmup, baseline_reps) = if self.common.smoke {
            (20_000, 20, 300, 20, 3, 2)
        } else {
            (self.pageviews, self.sites, self.pages, self.reps, self.warmup, self.baseline_reps)
        };
        anyhow::ensure!(pageviews >= u64::from(DAYS), "--pageviews must be at least {DAYS}");
        anyhow::ensure!((1..=100_000).contains(&sites), "--sites must be between 1 and 100000");
        anyhow::ensure!(pages >= 1, "--pages must be at least 1");
        anyhow::ensure!(reps >= 1 && baseline_reps >= 1, "--reps and --baseline-reps must be at least 1");
        anyhow::ensure!((1..=1000).contains(&self.limit), "--limit must be between 1 and 1000");
        let shape = Shape { pageviews, sites, days: DAYS, big_pages: pages, seed: self.seed, last_day: today };
        Ok(Plan { shape, reps, warmup, baseline_reps, limit: self.limit })
    }
}

pub async fn run(args: AnalyticsReadsArgs) -> anyhow::Result<()> {
    let plan = args.plan()?;
    let projector = binaries::locate("projector", &args.common.profile)?;
    let query_service = binaries::locate("query-service", &args.common.profile)?;
    let started_at = chrono::Utc::now().to_rfc3339();
    let progress = Progress::new(5);
    let generator = Generator::new(plan.shape);
    let range = Range { first: generator.date(0), last: generator.date(DAYS - 1) };

    let Databases { pg, admin: _admin, settings, write_url, read_url } = Databases::start().await?;
    let mut write_db = cluster::connect(&pg, WRITE_DB).await?;
    let mut read_db = cluster::connect(&pg, READ_DB).await?;
    read_db.batch_execute(raw::DDL).await?;

    progress.note(format!(
        "writing {} pageviews ({} sites, {DAYS} days) to the event store and the raw table",
        plan.shape.pageviews, plan.shape.sites
    ));
    let live = Arc::new(Live::default());
    let (written, key) = {
        let _phase = progress.phase("seed", Duration::from_secs(600), Some(live.clone()));
        store::write(&generator, &mut write_db, &mut read_db, live).await?
    };
    let started = Instant::now();
    read_db.batch_execute(raw::INDEX).await?;
    let raw_index_secs = started.elapsed().as_secs_f64();
    cluster::analyze(&write_db).await?;
    progress.note(format!("seeded {} events in {:.1} s", written.events, written.seconds));
    progress.step_done();

    progress.note("projector rebuild analytics: the real projector builds the read tables");
    let projected = {
        let _phase = progress.phase("project", Duration::from_secs(1200), None);
        project::run(&projector, &read_url, &write_url).await?
    };
    cluster::analyze(&read_db).await?;
    progress.note(format!("projected {} events in {:.1} s", projected.events, projected.wall_secs));
    progress.step_done();

    let mut query = processes::query_service(&query_service, &read_url, None).await?;
    let live = Arc::new(Live::default());
    let answered = {
        let _phase = progress.phase("tally", Duration::from_secs(60), Some(live.clone()));
        let big = store::site_id(0);
        let target = tally::Target { base: &query.base, site: big, key: &key };
        tally::measure(&target, &range, plan.limit, plan.warmup, plan.reps, live).await
    };
    // A failed request names its status; the service's log says why.
    let (tally, tally_requests) =
        answered.map_err(|e| e.context(format!("query-service log:\n{}", query.process.log_tail(20))))?;
    query.ensure_running()?;
    query.stop().await?;
    let scanned = rollup_rows(&read_db, &range).await?;
    let breakdown_plan = explain::breakdown(&read_db, &range, plan.limit).await?;
    progress.step_done();

    progress.note("baseline (a): the naive GROUP BY over the raw table");
    let naive = {
        let _phase = progress.phase("postgres", Duration::from_secs(120), None);
        raw::measure(&read_db, &range, plan.limit, 1, plan.baseline_reps).await?
    };
    progress.step_done();
    progress.note("baseline (b): DuckDB over the same raw rows");
    let (duck, loaded) = {
        let _phase = progress.phase("duckdb", Duration::from_secs(120), None);
        duck::measure(&read_db, &range, plan.limit, 1, plan.baseline_reps).await?
    };
    progress.step_done();
    progress.finish();

    let sides = vec![Side::new("tally", tally)?, Side::new("postgres", naive)?, Side::new("duckdb", duck)?];
    for other in &sides[1..] {
        let diff = sides[0].answer.differences(&other.name, &other.answer);
        anyhow::ensure!(diff.is_empty(), "Tally and {} answer differently:\n  {}", other.name, diff.join("\n  "));
    }
    let (ratios, goals) = report::judge(&sides);
    let big_site_pageviews = sides[1].answer.totals.pageviews;
    let report = AnalyticsReadsReport {
        tool: "tally-bench analytics-reads",
        started_at,
        smoke: args.common.smoke,
        machine: crate::report::Machine::detect(),
        postgres: settings,
        shape: plan.shape,
        big_site_pageviews,
        preparation: Preparation { written, raw_index_secs, projected, duckdb: loaded },
        repetitions: Repetitions {
            tally: plan.reps,
            tally_warmup: plan.warmup,
            baselines: plan.baseline_reps,
            limit: plan.limit,
        },
        tally_requests,
        scanned,
        breakdown_plan,
        sides,
        ratios,
        goals,
    };
    report::emit(&report, args.common.json.as_deref())
}

/// The rollup rows Tally's two statements read for the big site's range: what their latency
/// grows with (recorded to explain a missed goal).
async fn rollup_rows(db: &tokio_postgres::Client, range: &Range) -> anyhow::Result<report::Scanned> {
    let site = store::site_id(0);
    let count = |sql: &'static str, dim: &'static str| async move {
        let n: i64 = db.query_one(sql, &[&site, &dim, &range.first, &range.last]).await?.get(0);
        anyhow::Ok(n as u64)
    };
    let days = "SELECT count(*) FROM analytics_rollup WHERE site_id = $1 AND dim = $2 \
                AND local_date BETWEEN $3 AND $4 AND hour >= -1";
    let open_from = store::open_from(db, site).await?;
    let (codes, starts, signs) = tally_query_service::stats::spans(range.first, range.last, open_from);
    let spanned: i64 = db
        .query_one(
            "SELECT count(*) FROM unnest($3::int2[], $4::date[]) AS t(hour, local_date) \
             JOIN analytics_rollup r ON r.site_id = $1 AND r.dim = $2 AND r.local_date = t.local_date \
               AND r.hour = t.hour",
            &[&site, &"page", &codes, &starts],
        )
        .await?
        .get(0);
    Ok(report::Scanned {
        total_rows: count(days, "").await?,
        page_spans: signs.len(),
        page_rows: spanned as u64,
        page_day_rows: count(days, "page").await?,
    })
}
