//! `tally-bench isolation`: do writes hurt reads? Profile-read p50/p99 at a fixed read rate,
//! idle and while profile commands run at 80 % of their maximum, for Tally and for a
//! single-database design measured the same way in the same run.
//!
//! Tally: the real command-service (its relay publishing to Tansu), the real projector
//! writing the read DB and the real query-service reading it, on one durable cluster with
//! seeded profiles. The maximum command rate is measured first with a short closed loop
//! ([`crate::load`]); then GetProfile ([`openloop`], fixed rate) runs alone, and again next to
//! commands offered open loop at 0.8× that maximum, so the read DB really takes the projected
//! writes while it answers. Baseline ([`single`]): one table that the same write rate UPDATEs
//! and INSERTs into while the same read rate SELECTs from it; then, as a second reading, the
//! baseline's own closed-loop maximum is measured and its writes offered at the same share of
//! that (each design at 80 % of its own maximum). Everything shares the machine's CPUs; the
//! report shows who used them.

mod openloop;
mod report;
mod single;
mod usage;

use std::time::{Duration, Instant};

use clap::Args;
use tally_proto::v1::GetProfileRequest;
use tally_proto::v1::query_service_client::QueryServiceClient;
use tonic::transport::Channel;

use crate::binaries::ReadSide;
use crate::cli::{Common, Transport};
use crate::cluster;
use crate::getprofile::ReadLoad;
use crate::lag::probe;
use crate::load::{SimClient, Workload};
use crate::progress::Progress;
use crate::seed;
use crate::stack::{Databases, Services};
use crate::window::Window;
use openloop::{OpenResult, Pool};
use report::{IsolationReport, Phase, Side};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the read side may take to catch up with the event store between phases.
const CATCH_UP_LIMIT: Duration = Duration::from_secs(600);
/// Requests waiting at once before the generator sheds (and reports) the rest.
const MAX_IN_FLIGHT: usize = 2000;

#[derive(Debug, Clone, Args)]
pub struct IsolationArgs {
    #[command(flatten)]
    pub common: Common,

    /// GetProfile (and baseline SELECT) requests per second, offered open loop.
    #[arg(long, default_value_t = 1000)]
    pub read_rate: u32,

    /// Share of the measured maximum command rate offered during the loaded phases.
    #[arg(long, default_value_t = 0.8)]
    pub write_share: f64,

    /// Closed-loop clients for the maximum command rate (twice as many serve the open loop).
    #[arg(long, default_value_t = 32)]
    pub write_clients: u32,

    /// Measured seconds of the closed-loop maximum.
    #[arg(long, default_value_t = 5)]
    pub max_secs: u64,

    /// Measured seconds per phase (after the warm-up).
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,

    #[arg(long, default_value_t = 1000)]
    pub warmup_ms: u64,

    /// Seeded profiles the reads (and the baseline's updates) pick among.
    #[arg(long, default_value_t = 10_000)]
    pub profiles: u64,

    /// HTTP/2 connections the GetProfile requests share.
    #[arg(long, default_value_t = 4)]
    pub connections: u32,

    /// Connections of each of the baseline's pools (reads, writes): the query-service's and
    /// command-service's default pool size.
    #[arg(long, default_value_t = 16)]
    pub baseline_pool: u32,

    /// Partitions of each topic.
    #[arg(long, default_value_t = 3)]
    pub partitions: u32,
}

pub struct Plan {
    pub read_rate: f64,
    pub write_share: f64,
    pub write_clients: u32,
    pub max: Duration,
    pub duration: Duration,
    pub warmup: Duration,
    pub profiles: u64,
    /// At most this many writes a second in the baseline's own-share phase.
    pub own_rate_cap: Option<f64>,
}

impl IsolationArgs {
    fn plan(&self) -> anyhow::Result<Plan> {
        let plan = if self.common.smoke {
            Plan {
                read_rate: 100.0,
                write_share: self.write_share,
                write_clients: 2,
                max: Duration::from_secs(1),
                duration: Duration::from_secs(1),
                warmup: Duration::from_millis(300),
                profiles: 200,
                // The smoke runs a debug build beside the rest of the suite: thousands of
                // open-loop writes a second there measure the neighbours, and one shed
                // request fails the run. It checks that the phase works, not its rate
                // (the report shows the share actually offered).
                own_rate_cap: Some(1000.0),
            }
        } else {
            Plan {
                read_rate: f64::from(self.read_rate),
                write_share: self.write_share,
                write_clients: self.write_clients,
                max: Duration::from_secs(self.max_secs),
                duration: Duration::from_secs(self.duration_secs),
                warmup: Duration::from_millis(self.warmup_ms),
                profiles: self.profiles,
                own_rate_cap: None,
            }
        };
        anyhow::ensure!(plan.read_rate >= 1.0, "--read-rate must be at least 1");
        anyhow::ensure!(plan.write_share > 0.0 && plan.write_share <= 1.0, "--write-share must be in (0, 1]");
        anyhow::ensure!(plan.write_clients >= 1, "--write-clients must be at least 1");
        anyhow::ensure!(!plan.max.is_zero() && !plan.duration.is_zero(), "--max-secs and --duration-secs must be >= 1");
        anyhow::ensure!(plan.profiles >= 1, "--profiles must be at least 1");
        Ok(plan)
    }
}

pub async fn run(args: IsolationArgs) -> anyhow::Result<()> {
    let plan = args.plan()?;
    let bins = ReadSide::locate(&args.common.profile)?;
    let started_at = chrono::Utc::now().to_rfc3339();
    let progress = Progress::new(9);

    progress.note("starting Postgres, Tansu, command-service (with relay), projector and query-service");
    let dbs = Databases::start().await?;
    let write_db = {
        let mut db = dbs.write_db().await?;
        seed::profiles(&mut db, plan.profiles, 1).await?;
        cluster::analyze(&db).await?;
        db
    };
    single::prepare(&dbs.pg, plan.profiles).await?;
    let mut services = Services::start(&bins, &dbs, args.partitions).await?;
    let mut named = services.pids();
    named.push(("tansu".to_owned(), services.broker_pid()));
    let (pg, admin) = (&dbs.pg, &dbs.admin);
    let postmaster = cluster::postmaster_pid(pg);
    let readers = ReadLoad {
        connections: args.connections,
        concurrency: args.connections * 16,
        profiles: plan.profiles,
        timeout: REQUEST_TIMEOUT,
        pace: None,
    };
    let channels = readers.connect(&services.query.base).await?;
    let seeded = catch_up(&write_db, &channels[0], plan.profiles).await?;
    progress.note(format!("read side caught up with the seed in {seeded:.1} s"));
    progress.step_done();

    let tally_idle = {
        let _phase = progress.phase("tally idle", plan.warmup + plan.duration, None);
        let window = Window::after(plan.warmup, plan.duration);
        let (reads, cpu) = tokio::join!(
            tally_reads(&readers, &channels, plan.read_rate, window),
            usage::observe(window, postmaster, named.clone())
        );
        Phase { reads, writes: None, cpu }
    };
    note(&progress, "tally idle", &tally_idle);
    progress.step_done();

    let workload = Workload {
        transport: Transport::Grpc,
        profiles_per_client: 2,
        create_every: 10,
        max_ops_per_client: u64::MAX,
        request_timeout: REQUEST_TIMEOUT,
    };
    let command_base = services.command.base.clone();
    let sims = workload.prepare(0, plan.write_clients, &command_base).await?;
    let watch = crate::cpu::Watch { postmaster, service: Some(named[0].1), pgbench: None };
    // The command-service here is a `Running` (started with its relay), not the
    // `commands` workload's handle, so the appender's batch metrics are not sampled.
    let maximum = workload.measure(0, sims, plan.warmup, plan.max, None, admin, watch, &progress).await?;
    anyhow::ensure!(
        maximum.cmds_per_sec > 0.0 && maximum.errors == 0,
        "the maximum command rate run failed: {} commands, {} errors {:?}",
        maximum.commands,
        maximum.errors,
        maximum.sample_errors
    );
    let write_rate = maximum.cmds_per_sec * plan.write_share;
    progress.note(format!(
        "maximum {:.0} commands/s closed loop at {} clients; offering {write_rate:.0}/s open loop",
        maximum.cmds_per_sec, plan.write_clients
    ));
    let caught = catch_up(&write_db, &channels[0], plan.profiles).await?;
    progress.note(format!("read side caught up with the maximum run in {caught:.1} s"));
    progress.step_done();

    let sims = workload.prepare(1, plan.write_clients * 2, &command_base).await?;
    let tally_loaded = {
        let _phase = progress.phase("tally loaded", plan.warmup + plan.duration, None);
        let window = Window::after(plan.warmup, plan.duration);
        let (reads, writes, cpu) = tokio::join!(
            tally_reads(&readers, &channels, plan.read_rate, window),
            tally_writes(sims, write_rate, window),
            usage::observe(window, postmaster, named.clone())
        );
        Phase { reads, writes: Some(writes), cpu }
    };
    note(&progress, "tally loaded", &tally_loaded);
    let projected_after = catch_up(&write_db, &channels[0], plan.profiles).await?;
    progress.note(format!("read side caught up {projected_after:.1} s after the loaded phase"));
    services.ensure_running()?;
    progress.step_done();
    services.stop().await?;

    let read_pool = Pool::new(single::connect(pg, args.baseline_pool).await?);
    let single_idle = {
        let _phase = progress.phase("single idle", plan.warmup + plan.duration, None);
        let window = Window::after(plan.warmup, plan.duration);
        let (reads, cpu) = tokio::join!(
            baseline_reads(read_pool.clone(), plan.profiles, plan.read_rate, window),
            usage::observe(window, postmaster, Vec::new())
        );
        Phase { reads, writes: None, cpu }
    };
    note(&progress, "single idle", &single_idle);
    progress.step_done();

    let write_pool = Pool::new(single::connect(pg, args.baseline_pool).await?);
    let single_loaded = {
        let _phase = progress.phase("single loaded", plan.warmup + plan.duration, None);
        single_loaded_phase(&plan, read_pool.clone(), write_pool, write_rate, 0, postmaster).await
    };
    note(&progress, "single loaded", &single_loaded);
    progress.step_done();

    // The second reading: the baseline at the same share of its own maximum.
    let single_max = {
        let _phase = progress.phase("single maximum", plan.warmup + plan.max, None);
        let writers = single::connect(pg, plan.write_clients).await?;
        single::max_write_rate(writers, 1, plan.profiles, Window::after(plan.warmup, plan.max)).await?
    };
    let own_rate = (single_max * plan.write_share).min(plan.own_rate_cap.unwrap_or(f64::INFINITY));
    progress.note(format!(
        "single database: maximum {single_max:.0} commands/s closed loop at {} clients; offering {own_rate:.0}/s",
        plan.write_clients
    ));
    progress.step_done();
    let write_pool = Pool::new(single::connect(pg, plan.write_clients * 2).await?);
    let single_own = {
        let _phase = progress.phase("single loaded at its own share", plan.warmup + plan.duration, None);
        single_loaded_phase(&plan, read_pool, write_pool, own_rate, 2, postmaster).await
    };
    note(&progress, "single own", &single_own);
    progress.step_done();
    progress.finish();

    let tally = Side::new("tally", tally_idle, tally_loaded);
    let single = Side::new("single database", single_idle, single_loaded);
    let single_own = report::OwnShare::new(single_max, own_rate, &single, single_own);
    let report = IsolationReport::new(
        started_at,
        args.common.smoke,
        dbs.settings.clone(),
        &plan,
        maximum,
        write_rate,
        projected_after,
        tally,
        single,
        single_own,
        bins,
    );
    report::emit(&report, args.common.json.as_deref())
}

/// The single database's reads next to its writes offered at `rate` (load run `run`, which
/// keeps the handles it inserts unique).
async fn single_loaded_phase(
    plan: &Plan,
    read_pool: std::sync::Arc<Pool<single::Conn>>,
    write_pool: std::sync::Arc<Pool<single::Conn>>,
    rate: f64,
    run: u64,
    postmaster: Option<i32>,
) -> Phase {
    let window = Window::after(plan.warmup, plan.duration);
    let profiles = plan.profiles;
    let writes = openloop::run(rate, window, MAX_IN_FLIGHT, write_pool, move |conn, k| {
        single::write(conn, run, k, rand::random_range(1..=profiles))
    });
    let (reads, writes, cpu) = tokio::join!(
        baseline_reads(read_pool, plan.profiles, plan.read_rate, window),
        writes,
        usage::observe(window, postmaster, Vec::new())
    );
    Phase { reads, writes: Some(writes), cpu }
}

fn note(progress: &Progress, name: &str, phase: &Phase) {
    let r = &phase.reads.latency;
    let writes = phase.writes.as_ref().map_or(String::new(), |w| {
        format!("; writes {:.0}/s of {:.0}/s, p99 {:.2} ms", w.achieved_rate, w.target_rate, w.latency.p99_ms)
    });
    progress.note(format!(
        "{name:>14}: reads {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, {} errors{writes}",
        phase.reads.achieved_rate, r.p50_ms, r.p99_ms, phase.reads.errors
    ));
}

/// Waits until the query-service answers at the event store's current head; returns seconds.
async fn catch_up(write_db: &tokio_postgres::Client, channel: &Channel, profiles: u64) -> anyhow::Result<f64> {
    let started = Instant::now();
    let head: i64 = write_db.query_one("SELECT last_position FROM event_head WHERE id = 1", &[]).await?.get(0);
    let mut queries = probe::Queries::new(channel.clone());
    let id = seed::profile_id(profiles).to_string();
    probe::visible(&mut queries, &id, u64::try_from(head)?, CATCH_UP_LIMIT).await.map_err(anyhow::Error::msg)?;
    Ok(started.elapsed().as_secs_f64())
}

/// GetProfile for random seeded profiles at `rate`, over clients spread on `channels`.
async fn tally_reads(load: &ReadLoad, channels: &[Channel], rate: f64, window: Window) -> OpenResult {
    let clients = (0..load.concurrency).map(|i| QueryServiceClient::new(channels[i as usize % channels.len()].clone()));
    let profiles = load.profiles;
    openloop::run(rate, window, MAX_IN_FLIGHT, Pool::new(clients), move |mut client, _| async move {
        let id = seed::profile_id(rand::random_range(1..=profiles)).to_string();
        let request = GetProfileRequest { id: id.clone(), min_position: None };
        let result = match tokio::time::timeout(REQUEST_TIMEOUT, client.get_profile(request)).await {
            Ok(Ok(p)) if p.get_ref().id == id => Ok(()),
            Ok(Ok(p)) => Err(("wrong profile".to_owned(), format!("asked {id}, got {}", p.get_ref().id))),
            Ok(Err(s)) => Err((format!("grpc {:?}", s.code()), s.message().to_owned())),
            Err(_) => Err(("timeout".to_owned(), format!("no answer within {REQUEST_TIMEOUT:?}"))),
        };
        (client, result)
    })
    .await
}

/// Single-event profile commands at `rate`: each simulated client (one connection, its own
/// profiles) carries one command at a time, so no two commands race for one stream.
async fn tally_writes(sims: Vec<SimClient>, rate: f64, window: Window) -> OpenResult {
    openloop::run(rate, window, MAX_IN_FLIGHT, Pool::new(sims), |mut sim, k| async move {
        let op = async {
            if k % 10 == 9 {
                sim.conn.create(&format!("iso{}n{k}", sim.id)).await.map(drop)
            } else {
                let profile = sim.profiles[(k / 10) as usize % sim.profiles.len()].clone();
                sim.conn.update(&profile, &format!("{k:010} Benchmark profile biography of ordinary length.")).await
            }
        };
        let result = match tokio::time::timeout(REQUEST_TIMEOUT, op).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err((e.kind, e.detail)),
            Err(_) => Err(("timeout".to_owned(), format!("no answer within {REQUEST_TIMEOUT:?}"))),
        };
        (sim, result)
    })
    .await
}

async fn baseline_reads(
    pool: std::sync::Arc<Pool<single::Conn>>,
    profiles: u64,
    rate: f64,
    window: Window,
) -> OpenResult {
    openloop::run(rate, window, MAX_IN_FLIGHT, pool, move |conn, _| {
        single::read(conn, rand::random_range(1..=profiles))
    })
    .await
}

impl From<&Plan> for report::Params {
    fn from(p: &Plan) -> Self {
        report::Params {
            read_rate: p.read_rate,
            write_share: p.write_share,
            write_clients: p.write_clients,
            max_secs: p.max.as_secs_f64(),
            duration_secs: p.duration.as_secs_f64(),
            warmup_ms: p.warmup.as_millis(),
            profiles: p.profiles,
            own_rate_cap: p.own_rate_cap,
        }
    }
}
