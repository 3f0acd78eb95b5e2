//! `tally-bench footprint`: resident memory of each service, idle after start-up and at peak
//! under load.
//!
//! The real command-service (relay publishing to Tansu), projector and query-service start on
//! one durable cluster with a few seeded profiles. Once the read side has caught up with the
//! seed, [`rss`] samples every service for a quiet interval (idle), then while commands,
//! GetProfile reads and analytics pageviews all run closed loop at once (peak): the maximum of
//! the sampled `VmRSS` timeline and the kernel's `VmHWM` both go in the report.

mod ingest;
mod report;
pub(crate) mod rss;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use clap::Args;
use tonic::transport::Endpoint;

use crate::binaries::ReadSide;
use crate::cli::{Common, Transport};
use crate::cluster;
use crate::cpu::Watch;
use crate::getprofile::ReadLoad;
use crate::lag::probe;
use crate::load::Workload;
use crate::progress::{Live, Progress};
use crate::seed;
use crate::stack::{Databases, Services};
use crate::window::Window;
use report::FootprintReport;

const SAMPLE_EVERY: Duration = Duration::from_millis(100);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Args)]
pub struct FootprintArgs {
    #[command(flatten)]
    pub common: Common,

    /// Seconds of sampling with no traffic after start-up.
    #[arg(long, default_value_t = 10)]
    pub idle_secs: u64,

    /// Seconds of load (commands + reads + ingest at once), after the warm-up.
    #[arg(long, default_value_t = 30)]
    pub duration_secs: u64,

    #[arg(long, default_value_t = 2000)]
    pub warmup_ms: u64,

    /// Profiles seeded into the event store before start (the reads pick among them).
    #[arg(long, default_value_t = 10_000)]
    pub profiles: u64,

    /// Closed-loop command clients (UpdateProfile, every 10th a CreateProfile).
    #[arg(long, default_value_t = 16)]
    pub command_clients: u32,

    /// GetProfile requests in flight.
    #[arg(long, default_value_t = 16)]
    pub readers: u32,

    /// Closed-loop clients posting pageviews to `/api/event`.
    #[arg(long, default_value_t = 4)]
    pub ingest_clients: u32,

    /// Partitions of each topic.
    #[arg(long, default_value_t = 3)]
    pub partitions: u32,
}

pub struct Plan {
    pub idle: Duration,
    pub duration: Duration,
    pub warmup: Duration,
    pub profiles: u64,
    pub command_clients: u32,
    pub readers: u32,
    pub ingest_clients: u32,
}

impl FootprintArgs {
    fn plan(&self) -> anyhow::Result<Plan> {
        let plan = if self.common.smoke {
            Plan {
                idle: Duration::from_secs(1),
                duration: Duration::from_secs(2),
                warmup: Duration::from_millis(300),
                profiles: 100,
                command_clients: 2,
                readers: 2,
                ingest_clients: 1,
            }
        } else {
            Plan {
                idle: Duration::from_secs(self.idle_secs),
                duration: Duration::from_secs(self.duration_secs),
                warmup: Duration::from_millis(self.warmup_ms),
                profiles: self.profiles,
                command_clients: self.command_clients,
                readers: self.readers,
                ingest_clients: self.ingest_clients,
            }
        };
        anyhow::ensure!(
            !plan.idle.is_zero() && !plan.duration.is_zero(),
            "--idle-secs and --duration-secs must be >= 1"
        );
        anyhow::ensure!(plan.profiles >= 1, "--profiles must be at least 1");
        anyhow::ensure!(
            plan.command_clients >= 1 && plan.readers >= 1 && plan.ingest_clients >= 1,
            "--command-clients, --readers and --ingest-clients must be at least 1"
        );
        Ok(plan)
    }
}

pub async fn run(args: FootprintArgs) -> anyhow::Result<()> {
    let plan = args.plan()?;
    let bins = ReadSide::locate(&args.common.profile)?;
    let started_at = chrono::Utc::now().to_rfc3339();
    let progress = Progress::new(4);

    progress.note("starting Postgres, Tansu, command-service (with relay), projector and query-service");
    let dbs = Databases::start().await?;
    let seeded = seed::profiles(&mut dbs.write_db().await?, plan.profiles, 1).await?;
    let mut services = Services::start(&bins, &dbs, args.partitions).await?;
    let pids: Vec<i32> = services.pids().into_iter().map(|(_, pid)| pid).collect();
    progress.step_done();

    // Idle means after start-up: the relay has published the seed and the projector has
    // applied it, so the idle figure is a service at rest, not one still catching up.
    progress.note(format!("waiting for the read side to catch up with {} seeded events", seeded.events));
    let channel = Endpoint::from_shared(services.query.base.clone())?.timeout(REQUEST_TIMEOUT).connect().await?;
    let mut queries = probe::Queries::new(channel);
    let id = seed::profile_id(plan.profiles).to_string();
    probe::visible(&mut queries, &id, seeded.head, Duration::from_secs(300)).await.map_err(anyhow::Error::msg)?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = {
        let _phase = progress.phase("idle", plan.idle, None);
        let sampler = rss::Sampler::start(pids.clone(), SAMPLE_EVERY);
        tokio::time::sleep(plan.idle).await;
        sampler.finish().await?
    };
    progress.step_done();

    progress.note("preparing the load: command clients' profiles, one analytics site");
    let command_base = services.command.base.clone();
    let workload = Workload {
        transport: Transport::Grpc,
        profiles_per_client: 2,
        create_every: 10,
        max_ops_per_client: u64::MAX,
        request_timeout: REQUEST_TIMEOUT,
    };
    let sims = workload.prepare(0, plan.command_clients, &command_base).await?;
    ingest::register_site(&command_base).await?;
    let reads = ReadLoad {
        connections: plan.readers.min(4),
        concurrency: plan.readers,
        profiles: plan.profiles,
        timeout: REQUEST_TIMEOUT,
        pace: None,
    };
    let channels = reads.connect(&services.query.base).await?;
    progress.step_done();

    let watch = Watch { postmaster: cluster::postmaster_pid(&dbs.pg), service: Some(pids[0]), pgbench: None };
    let sampler = rss::Sampler::start(pids.clone(), SAMPLE_EVERY);
    let window = Window::after(plan.warmup, plan.duration);
    let read_live = Arc::new(Live::default());
    let ingest_live = Arc::new(Live::default());
    let (commands, read, ingested) = {
        let _reads = progress.phase("reads", plan.warmup + plan.duration, Some(read_live.clone()));
        let _ingest = progress.phase("ingest", plan.warmup + plan.duration, Some(ingest_live.clone()));
        tokio::join!(
            workload.measure(0, sims, plan.warmup, plan.duration, None, &dbs.admin, watch, &progress),
            reads.run(&channels, window, Arc::new(AtomicBool::new(false)), read_live),
            ingest::run(&command_base, plan.ingest_clients, Instant::now() + plan.warmup + plan.duration, ingest_live),
        )
    };
    let peak = sampler.finish().await?;
    services.ensure_running()?;
    progress.step_done();
    progress.finish();
    let memory = report::per_service(&services.all(), &idle, &peak);
    services.stop().await?;

    let report = FootprintReport::new(
        started_at,
        args.common.smoke,
        dbs.settings,
        &plan,
        memory,
        commands?,
        read,
        ingested?,
        bins,
    );
    report::emit(&report, args.common.json.as_deref())
}
