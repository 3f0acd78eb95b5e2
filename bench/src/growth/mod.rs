//! `tally-bench growth`: append and query p99 as the event store grows (1 M → 10 M → 50 M
//! events by default).
//!
//! Per size: profile events are seeded straight into the event store ([`crate::seed`], one
//! COPY) up to the size, the real `projector rebuild profiles` projects the whole store into
//! the read DB (timed), and then, one after the other so they do not share the CPUs, the real
//! command-service takes single-event profile commands from a fixed number of closed-loop
//! clients ([`crate::load`]) and the real query-service answers GetProfile for random
//! profiles of the whole store ([`crate::getprofile`]). The p99s are compared with the first
//! size's. Free disk is checked up front for the largest size.

mod disk;
mod report;

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
use crate::load::Workload;
use crate::processes;
use crate::progress::{Live, Progress};
use crate::reads::{READ_DB, WRITE_DB};
use crate::seed;
use crate::service::CommandService;
use crate::stack::Databases;
use crate::window::{self, Window};
use report::{GrowthReport, Step};

const REBUILD_LIMIT: Duration = Duration::from_secs(6 * 3600);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Args)]
pub struct GrowthArgs {
    #[command(flatten)]
    pub common: Common,

    /// Event-store sizes to measure at, ascending, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1000000,10000000,50000000")]
    pub sizes: Vec<u64>,

    /// ProfileUpdated events per seeded profile after its ProfileCreated.
    #[arg(long, default_value_t = 9)]
    pub updates: u32,

    /// Closed-loop command clients (UpdateProfile, every 10th a CreateProfile).
    #[arg(long, default_value_t = 8)]
    pub concurrency: u32,

    /// GetProfile requests in flight.
    #[arg(long, default_value_t = 8)]
    pub readers: u32,

    /// Measured seconds per size and side (after the warm-up).
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,

    #[arg(long, default_value_t = 1000)]
    pub warmup_ms: u64,
}

pub struct Plan {
    pub sizes: Vec<u64>,
    pub updates: u32,
    pub concurrency: u32,
    pub readers: u32,
    pub duration: Duration,
    pub warmup: Duration,
}

impl GrowthArgs {
    fn plan(&self) -> anyhow::Result<Plan> {
        let plan = if self.common.smoke {
            Plan {
                sizes: vec![2_000, 6_000],
                updates: 3,
                concurrency: 2,
                readers: 2,
                duration: Duration::from_secs(1),
                warmup: Duration::from_millis(300),
            }
        } else {
            Plan {
                sizes: self.sizes.clone(),
                updates: self.updates,
                concurrency: self.concurrency,
                readers: self.readers,
                duration: Duration::from_secs(self.duration_secs),
                warmup: Duration::from_millis(self.warmup_ms),
            }
        };
        let per_profile = u64::from(plan.updates) + 1;
        anyhow::ensure!(
            !plan.sizes.is_empty() && plan.sizes.windows(2).all(|w| w[0] < w[1]) && plan.sizes[0] >= per_profile,
            "--sizes must be ascending, the first at least {per_profile} events (one profile)"
        );
        anyhow::ensure!(plan.concurrency >= 1 && plan.readers >= 1, "--concurrency and --readers must be >= 1");
        anyhow::ensure!(!plan.duration.is_zero(), "--duration-secs must be at least 1");
        Ok(plan)
    }
}

pub async fn run(args: GrowthArgs) -> anyhow::Result<()> {
    let plan = args.plan()?;
    let bins = ReadSide::locate(&args.common.profile)?;
    let started_at = chrono::Utc::now().to_rfc3339();
    let progress = Progress::new(1 + 2 * plan.sizes.len() as u64);

    let dbs = Databases::start().await?;
    let largest = *plan.sizes.last().expect("checked non-empty");
    let disk_needed = disk::ensure_room(dbs.pg.dir(), largest)?;
    let (pg, admin, write_url, read_url) = (&dbs.pg, &dbs.admin, &dbs.write_url, &dbs.read_url);
    let mut write_db = dbs.write_db().await?;
    let read_db = dbs.read_db().await?;
    progress.step_done();

    let workload = Workload {
        transport: Transport::Grpc,
        profiles_per_client: 2,
        create_every: 10,
        max_ops_per_client: u64::MAX,
        request_timeout: REQUEST_TIMEOUT,
    };
    let per_profile = u64::from(plan.updates) + 1;
    let mut query = None;
    let mut seeded_profiles = 0;
    let mut steps = Vec::new();
    for (tag, &size) in plan.sizes.iter().enumerate() {
        // The measured commands of earlier steps are in the store too; seed up to the size.
        let head = event_head(&write_db).await?;
        let profiles = size.saturating_sub(head).div_ceil(per_profile);
        progress.note(format!(
            "growing the event store from {head} to ~{size} events ({profiles} profiles x {per_profile})"
        ));
        let seeded = seed::profiles_from(&mut write_db, seeded_profiles + 1, profiles, plan.updates).await?;
        seeded_profiles += profiles;
        cluster::vacuum_analyze(&write_db).await?;
        let events = event_head(&write_db).await?;
        progress.note(format!(
            "seeded {} events in {:.1} s; projecting {events} with `projector rebuild`",
            seeded.events, seeded.seconds
        ));
        let rebuilt = processes::rebuild(&bins.projector, read_url, write_url, None, REBUILD_LIMIT).await?;
        anyhow::ensure!(rebuilt.events == events, "the rebuild replayed {} of {events} events", rebuilt.events);
        cluster::vacuum_analyze(&read_db).await?;
        progress.step_done();

        // Started after the first rebuild (it needs a version to serve), then kept: later
        // rebuilds switch it to the new version as in production.
        if query.is_none() {
            query = Some(processes::query_service(&bins.query_service, read_url, None).await?);
        }
        let query = query.as_mut().expect("started above");
        // A fresh command-service per size: the seed was written behind its back, and whatever
        // it cached about the store must come from the store as it now is.
        let mut command = CommandService::start(&bins.command_service, write_url, None)
            .await
            .context("starting the command-service")?;
        cluster::checkpoint(admin).await?;
        let watch = Watch { postmaster: cluster::postmaster_pid(pg), service: Some(command.pid()), pgbench: None };
        let sims = workload.prepare(tag, plan.concurrency, &command.base).await?;
        let append = workload
            .measure(tag, sims, plan.warmup, plan.duration, Some(&command), admin, watch, &progress)
            .await
            .with_context(|| format!("appends at {size} events"))?;
        command.ensure_running()?;
        command.stop().await?;

        let load = ReadLoad {
            connections: plan.readers.min(4),
            concurrency: plan.readers,
            profiles: seeded_profiles,
            timeout: REQUEST_TIMEOUT,
            pace: None,
        };
        let channels = load.connect(&query.base).await?;
        let live = Arc::new(Live::default());
        let window = Window::after(plan.warmup, plan.duration);
        let watch = Watch { service: Some(query.process.pid()), ..watch };
        let reads = {
            let _phase = progress.phase(&format!("query {size}"), plan.warmup + plan.duration, Some(live.clone()));
            let stop = Arc::new(AtomicBool::new(false));
            let (reads, usage) =
                tokio::join!(load.run(&channels, window, stop, live), window::observe(window, admin, watch));
            usage?;
            reads
        };
        query.ensure_running()?;
        let sizes = database_sizes(admin).await?;
        progress.note(format!(
            "{events:>11} events: append p99 {:.2} ms ({:.0}/s), query p99 {:.2} ms ({:.0}/s)",
            append.latency.p99_ms, append.cmds_per_sec, reads.latency.p99_ms, reads.rps
        ));
        progress.step_done();
        steps.push(Step {
            target: size,
            events,
            seeded,
            rebuilt,
            append,
            query: reads,
            write_db_bytes: sizes.0,
            read_db_bytes: sizes.1,
        });
    }
    progress.finish();
    if let Some(query) = query {
        query.stop().await?;
    }
    let report =
        GrowthReport::new(started_at, args.common.smoke, dbs.settings.clone(), &plan, disk_needed, steps, bins);
    report::emit(&report, args.common.json.as_deref())
}

async fn event_head(db: &tokio_postgres::Client) -> anyhow::Result<u64> {
    let head: i64 = db.query_one("SELECT last_position FROM event_head WHERE id = 1", &[]).await?.get(0);
    Ok(u64::try_from(head)?)
}

async fn database_sizes(admin: &tokio_postgres::Client) -> anyhow::Result<(u64, u64)> {
    let row = admin
        .query_one("SELECT pg_database_size($1), pg_database_size($2)", &[&WRITE_DB, &READ_DB])
        .await
        .context("pg_database_size")?;
    Ok((u64::try_from(row.get::<_, i64>(0))?, u64::try_from(row.get::<_, i64>(1))?))
}
