//! `tally-bench reads`: GetProfile through the real query-service vs. a `pgbench -S`-style
//! primary-key SELECT on the same read-DB table, in the same run.
//!
//! One durable cluster holds the event store and the read DB. Profile events are seeded
//! straight into the event store ([`crate::seed`]) and the real `projector rebuild profiles`
//! builds the read model from them, so the rows are what the projector writes. Then per
//! concurrency level: pgbench (prepared `SELECT … FROM profiles WHERE id = …` on random
//! seeded ids), then the query-service under [`crate::getprofile`] with as many requests in
//! flight as pgbench had clients.

mod report;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::binaries::ReadSide;
use crate::cli::{Common, Transport};
use crate::cluster;
use crate::cpu::Watch;
use crate::getprofile::ReadLoad;
use crate::pgbench::Baseline;
use crate::processes;
use crate::progress::{Live, Progress};
use crate::seed;
use crate::window::{self, Window};
pub use report::{ReadsReport, Row, TallyRun};

pub const WRITE_DB: &str = "tally_write";
pub const READ_DB: &str = "tally_read";

/// The columns the query-service's GetProfile selects (query-service/src/read/model.rs), so
/// the baseline reads the same row width through the same view.
const COLUMNS: &str =
    "id, handle, display_name, email, bio, avatar_url, attributes, sites, version, create_time, update_time";

#[derive(Debug, Clone, Args)]
pub struct ReadsArgs {
    #[command(flatten)]
    pub common: Common,

    /// Profiles in the read model (seeded as events, projected by a real rebuild).
    #[arg(long, default_value_t = 100_000)]
    pub profiles: u64,

    /// Rounds of ProfileUpdated per profile on top of its ProfileCreated.
    #[arg(long, default_value_t = 1)]
    pub updates: u32,

    /// Requests in flight (= pgbench clients), comma separated.
    #[arg(long, value_delimiter = ',', default_value = "8,16,32,64")]
    pub concurrency: Vec<u32>,

    /// HTTP/2 connections the in-flight gRPC requests share (at most one per request in
    /// flight). REST holds one HTTP/1.1 connection per request in flight.
    #[arg(long, default_value_t = 16)]
    pub connections: u32,

    /// How the load reaches the service, comma separated; each is measured at every level:
    /// gRPC `GetProfile`, and REST `GET /v1/profiles/{id}`.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "grpc,rest")]
    pub transport: Vec<Transport>,

    /// Measured seconds per level and side (after the warm-up).
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,

    #[arg(long, default_value_t = 1000)]
    pub warmup_ms: u64,

    /// A request slower than this counts as an error.
    #[arg(long, default_value_t = 5000)]
    pub request_timeout_ms: u64,

    /// `TALLY_DATABASE__POOL_SIZE` for the query-service (its default when absent).
    #[arg(long)]
    pub service_pool_size: Option<u32>,

    #[arg(long, env = "TALLY_BENCH_PGBENCH", default_value = "/usr/lib/postgresql/15/bin/pgbench")]
    pub pgbench: PathBuf,
}

/// The effective sizes after `--smoke`.
struct Plan {
    profiles: u64,
    updates: u32,
    concurrency: Vec<u32>,
    connections: u32,
    transports: Vec<Transport>,
    duration: Duration,
    warmup: Duration,
}

impl ReadsArgs {
    fn plan(&self) -> anyhow::Result<Plan> {
        let plan = if self.common.smoke {
            Plan {
                profiles: 200,
                updates: 1,
                concurrency: vec![4],
                connections: 2,
                transports: vec![Transport::Grpc, Transport::Rest],
                duration: Duration::from_secs(1),
                warmup: Duration::from_millis(300),
            }
        } else {
            Plan {
                profiles: self.profiles,
                updates: self.updates,
                concurrency: self.concurrency.clone(),
                connections: self.connections,
                transports: self.transport.clone(),
                duration: Duration::from_secs(self.duration_secs),
                warmup: Duration::from_millis(self.warmup_ms),
            }
        };
        anyhow::ensure!(plan.profiles >= 1, "--profiles must be at least 1");
        anyhow::ensure!(!plan.duration.is_zero(), "--duration-secs must be at least 1");
        anyhow::ensure!(plan.connections >= 1, "--connections must be at least 1");
        anyhow::ensure!(!plan.transports.is_empty(), "--transport must name at least one transport");
        anyhow::ensure!(
            !plan.concurrency.is_empty() && plan.concurrency.iter().all(|&c| (1..=1000).contains(&c)),
            "--concurrency must list levels between 1 and 1000"
        );
        Ok(plan)
    }
}

pub async fn run(args: ReadsArgs) -> anyhow::Result<()> {
    let plan = args.plan()?;
    let bins = ReadSide::locate(&args.common.profile)?;
    anyhow::ensure!(args.pgbench.is_file(), "pgbench not found at {} (pass --pgbench)", args.pgbench.display());
    let started_at = chrono::Utc::now().to_rfc3339();
    let progress = Progress::new(2 + (1 + plan.transports.len() as u64) * plan.concurrency.len() as u64);

    progress.note(format!("seeding {} profiles x {} events into the event store", plan.profiles, plan.updates + 1));
    let pg = cluster::start(Vec::new()).await?;
    let admin = cluster::connect(&pg, "postgres").await?;
    let settings = cluster::settings(&admin).await?;
    pg.create_database(WRITE_DB).await?;
    pg.create_database(READ_DB).await?;
    let (write_url, read_url) = (pg.url(WRITE_DB), pg.url(READ_DB));
    seed::migrate(&write_url).await?;
    let seeded = seed::profiles(&mut cluster::connect(&pg, WRITE_DB).await?, plan.profiles, plan.updates).await?;
    progress.step_done();

    progress.note("projecting them with `projector rebuild profiles`");
    let rebuilt = processes::rebuild(&bins.projector, &read_url, &write_url, None, Duration::from_secs(3600)).await?;
    anyhow::ensure!(
        rebuilt.events == seeded.events,
        "the rebuild replayed {} of {} events",
        rebuilt.events,
        seeded.events
    );
    let read_db = cluster::connect(&pg, READ_DB).await?;
    cluster::analyze(&read_db).await?;
    let mut query = processes::query_service(&bins.query_service, &read_url, args.service_pool_size).await?;
    progress.step_done();

    let baseline = Baseline {
        program: args.pgbench.clone(),
        database: READ_DB,
        script: format!(
            "\\set n random(1, {})\nSELECT {COLUMNS} FROM profiles WHERE id = {};\n",
            plan.profiles,
            seed::PROFILE_ID_SQL
        ),
        port: pg.port(),
        user: tally_devstack::SUPERUSER,
    };
    let watch = Watch { postmaster: cluster::postmaster_pid(&pg), service: Some(query.process.pid()), pgbench: None };
    let mut rows = Vec::new();
    for &clients in &plan.concurrency {
        cluster::checkpoint(&admin).await?;
        let base = baseline
            .run(clients, plan.warmup, plan.duration, &admin, watch, &progress)
            .await
            .with_context(|| format!("pgbench at {clients} clients"))?;
        progress.note(format!(
            "pgbench {clients:>4} clients: {:>8.0} tps, p50 {:.2} ms, p99 {:.2} ms",
            base.tps, base.latency.p50_ms, base.latency.p99_ms
        ));
        progress.step_done();

        let mut runs = Vec::new();
        for &transport in &plan.transports {
            let load = ReadLoad {
                connections: plan.connections.min(clients),
                concurrency: clients,
                profiles: plan.profiles,
                timeout: Duration::from_millis(args.request_timeout_ms),
                pace: None,
            };
            let channels = match transport {
                Transport::Grpc => load.connect(&query.base).await?,
                Transport::Rest => Vec::new(),
            };
            cluster::checkpoint(&admin).await?;
            let live = Arc::new(Live::default());
            let window = Window::after(plan.warmup, plan.duration);
            let label = format!("{} {clients}", transport.name());
            let _phase = progress.phase(&label, plan.warmup + plan.duration, Some(live.clone()));
            let stop = Arc::new(AtomicBool::new(false));
            let run = async {
                match transport {
                    Transport::Grpc => Ok(load.run(&channels, window, stop, live).await),
                    Transport::Rest => load.run_rest(&query.base, window, stop, live).await,
                }
            };
            let (tally, usage) = tokio::join!(run, window::observe(window, &admin, watch));
            let tally = tally?;
            query.ensure_running()?;
            progress.note(format!(
                "{:<7} {clients:>4} in flight: {:>8.0} rps, p50 {:.2} ms, p99 {:.2} ms, {} errors",
                transport.name(),
                tally.rps,
                tally.latency.p50_ms,
                tally.latency.p99_ms,
                tally.errors
            ));
            progress.step_done();
            runs.push(TallyRun::new(transport, &base, tally, usage?));
        }
        rows.push(Row { concurrency: clients, baseline: base, tally: runs });
    }
    progress.finish();
    query.stop().await?;

    let report = ReadsReport::new(started_at, args.common.smoke, settings, &plan, seeded, rebuilt, bins, rows);
    report::emit(&report, args.common.json.as_deref())
}

impl From<&Plan> for report::Params {
    fn from(p: &Plan) -> Self {
        report::Params {
            profiles: p.profiles,
            updates: p.updates,
            concurrency: p.concurrency.clone(),
            connections: p.connections,
            transports: p.transports.clone(),
            duration_secs: p.duration.as_secs_f64(),
            warmup_ms: p.warmup.as_millis(),
        }
    }
}
