//! `tally-bench rebuild`: the real `projector rebuild profiles` over N events, while readers
//! keep querying the query-service.
//!
//! Events are seeded straight into the event store ([`crate::seed`]); a first, unmeasured
//! rebuild projects them, so the query-service has a version to serve. The measured rebuild
//! then replays everything into the next version, verifies it and switches, while
//! [`crate::getprofile`] readers ask for random profiles the whole time: a rebuild must not
//! take reads down, and a stall shows as the longest gap between answers.

mod report;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Args;

use crate::binaries::ReadSide;
use crate::cli::Common;
use crate::cluster;
use crate::getprofile::ReadLoad;
use crate::processes;
use crate::progress::{Live, Progress};
use crate::reads::{READ_DB, WRITE_DB};
use crate::seed;
use crate::stack::Databases;
use crate::window::Window;
pub use report::RebuildReport;

/// Readers run this long before the rebuild starts and after it ends, so "throughout"
/// includes both edges.
const EDGE: Duration = Duration::from_millis(500);
/// Upper bound for one rebuild; far beyond any healthy run.
const REBUILD_LIMIT: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Args)]
pub struct RebuildArgs {
    #[command(flatten)]
    pub common: Common,

    /// Events in the event store (rounded down to whole profiles of `updates + 1` events).
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,

    /// ProfileUpdated events per profile after its ProfileCreated.
    #[arg(long, default_value_t = 9)]
    pub updates: u32,

    /// `projector rebuild --page` (events per page); the projector's default when absent.
    #[arg(long)]
    pub page: Option<u32>,

    /// Concurrent readers querying during the rebuild.
    #[arg(long, default_value_t = 2)]
    pub readers: u32,

    /// GetProfile requests per second, all readers together: enough to see every moment of
    /// the rebuild, few enough not to take the CPU the rebuild is measured on.
    #[arg(long, default_value_t = 200)]
    pub reader_rate: u32,
}

pub struct Plan {
    pub profiles: u64,
    pub updates: u32,
    pub readers: u32,
    pub reader_rate: u32,
}

impl RebuildArgs {
    fn plan(&self) -> anyhow::Result<Plan> {
        let (events, updates, readers) =
            if self.common.smoke { (2_000, 3, 1) } else { (self.events, self.updates, self.readers) };
        let profiles = events / (u64::from(updates) + 1);
        anyhow::ensure!(profiles >= 1, "--events must cover at least one profile ({} events)", updates + 1);
        anyhow::ensure!(readers >= 1, "--readers must be at least 1");
        anyhow::ensure!(self.reader_rate >= 1, "--reader-rate must be at least 1");
        Ok(Plan { profiles, updates, readers, reader_rate: self.reader_rate })
    }
}

pub async fn run(args: RebuildArgs) -> anyhow::Result<()> {
    let plan = args.plan()?;
    let bins = ReadSide::locate(&args.common.profile)?;
    let started_at = chrono::Utc::now().to_rfc3339();
    let progress = Progress::new(3);

    progress.note(format!("seeding {} profiles x {} events into the event store", plan.profiles, plan.updates + 1));
    let Databases { pg, admin: _admin, settings, write_url, read_url } = Databases::start().await?;
    let mut write_db = cluster::connect(&pg, WRITE_DB).await?;
    let seeded = seed::profiles(&mut write_db, plan.profiles, plan.updates).await?;
    cluster::analyze(&write_db).await?;
    progress.note(format!("seeded {} events in {:.1} s", seeded.events, seeded.seconds));
    progress.step_done();

    progress.note("first rebuild (not measured): the version the query-service serves meanwhile");
    processes::rebuild(&bins.projector, &read_url, &write_url, args.page, REBUILD_LIMIT).await?;
    cluster::analyze(&cluster::connect(&pg, READ_DB).await?).await?;
    let mut query = processes::query_service(&bins.query_service, &read_url, None).await?;
    progress.step_done();

    let load = ReadLoad {
        connections: 1,
        concurrency: plan.readers,
        profiles: plan.profiles,
        timeout: Duration::from_secs(5),
        pace: Some(Duration::from_secs_f64(f64::from(plan.readers) / f64::from(plan.reader_rate))),
    };
    let channels = load.connect(&query.base).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let live = Arc::new(Live::default());
    // The window only bounds the readers; `stop` ends them.
    let window = Window::after(Duration::ZERO, REBUILD_LIMIT + EDGE * 4);
    let readers = {
        let (stop, live) = (stop.clone(), live.clone());
        tokio::spawn(async move { load.run(&channels, window, stop, live).await })
    };
    tokio::time::sleep(EDGE).await;
    progress.note("measured rebuild, readers querying throughout");
    let rebuilt = {
        let _phase = progress.phase("rebuild", Duration::from_secs(1), Some(live));
        processes::rebuild(&bins.projector, &read_url, &write_url, args.page, REBUILD_LIMIT).await
    };
    tokio::time::sleep(EDGE).await;
    stop.store(true, Ordering::Relaxed);
    let reads = readers.await?;
    let rebuilt = rebuilt?;
    query.ensure_running()?;
    progress.step_done();
    progress.finish();
    query.stop().await?;

    let report =
        RebuildReport::new(started_at, args.common.smoke, settings, &plan, args.page, seeded, rebuilt, reads, bins);
    report::emit(&report, args.common.json.as_deref())
}
