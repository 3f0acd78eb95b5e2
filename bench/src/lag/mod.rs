//! `tally-bench lag`: projection lag under a fixed command rate.
//!
//! The real command-service (its relay publishing to Tansu), the real projector consuming
//! the topic and the real query-service, on one durable cluster. Commands arrive at a fixed
//! rate (open loop: a slow answer does not slow the arrivals), each followed to the read side
//! by [`probe`]; the figure is the time from a command's acknowledgement until a GetProfile
//! carrying its position answers.

pub(crate) mod probe;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde::Serialize;
use tally_devstack::{Broker, BrokerOptions};
use tokio::task::JoinSet;
use tonic::transport::Endpoint;

use crate::binaries::ReadSide;
use crate::cli::Common;
use crate::cluster;
use crate::latency::{Latencies, LatencySummary};
use crate::processes;
use crate::progress::Progress;
use crate::reads::{READ_DB, WRITE_DB};
use crate::report::{Goal, Machine};
use crate::window::Window;

const TOPIC: &str = "tally.profile.v1";
const SAMPLE_ERRORS: usize = 5;

#[derive(Debug, Clone, Args)]
pub struct LagArgs {
    #[command(flatten)]
    pub common: Common,

    /// Commands per second (UpdateProfile, one event each).
    #[arg(long, default_value_t = 500)]
    pub rate: u32,

    /// Measured seconds (after the warm-up).
    #[arg(long, default_value_t = 30)]
    pub duration_secs: u64,

    #[arg(long, default_value_t = 2000)]
    pub warmup_ms: u64,

    /// Profiles the commands update in turn.
    #[arg(long, default_value_t = 100)]
    pub profiles: u32,

    /// Partitions of the profile topic.
    #[arg(long, default_value_t = 3)]
    pub partitions: u32,

    /// A command not visible after this long counts as an error.
    #[arg(long, default_value_t = 30_000)]
    pub visible_timeout_ms: u64,
}

#[derive(Debug, Serialize)]
pub struct LagReport {
    pub tool: &'static str,
    pub started_at: String,
    pub smoke: bool,
    pub machine: Machine,
    pub postgres: BTreeMap<String, String>,
    pub target_rate: u32,
    pub duration_secs: f64,
    pub warmup_ms: u128,
    pub profiles: u32,
    pub partitions: u32,
    /// Commands acknowledged inside the window, per second.
    pub achieved_rate: f64,
    pub command_latency: LatencySummary,
    /// Acknowledgement → visible through the query-service with `min_position`.
    pub lag: LatencySummary,
    /// Bounded waits that ran out before visibility (each re-asked).
    pub retries: u64,
    pub errors: u64,
    pub sample_errors: Vec<String>,
    pub binaries: ReadSide,
    pub goals: Vec<Goal>,
}

pub async fn run(args: LagArgs) -> anyhow::Result<()> {
    let (rate, duration, warmup, profiles) = if args.common.smoke {
        (20, Duration::from_secs(2), Duration::from_millis(500), 5)
    } else {
        (args.rate, Duration::from_secs(args.duration_secs), Duration::from_millis(args.warmup_ms), args.profiles)
    };
    anyhow::ensure!(
        rate >= 1 && profiles >= 1 && !duration.is_zero(),
        "--rate, --profiles and --duration-secs must be positive"
    );
    let bins = ReadSide::locate(&args.common.profile)?;
    let started_at = chrono::Utc::now().to_rfc3339();
    let progress = Progress::new(3);

    progress.note("starting Postgres, Tansu, command-service (with relay), projector and query-service");
    let pg = cluster::start(Vec::new()).await?;
    let admin = cluster::connect(&pg, "postgres").await?;
    let settings = cluster::settings(&admin).await?;
    pg.create_database(WRITE_DB).await?;
    pg.create_database(READ_DB).await?;
    let (write_url, read_url) = (pg.url(WRITE_DB), pg.url(READ_DB));
    let broker = Broker::start(BrokerOptions::default()).await.context("starting Tansu")?;
    broker.create_topic(TOPIC, args.partitions).await?;
    let brokers = broker.bootstrap();
    let mut command = processes::command_service(&bins.command_service, &write_url, &brokers, args.partitions).await?;
    let mut projector = processes::projector(&bins.projector, &read_url, &write_url, &brokers).await?;
    let mut query = processes::query_service(&bins.query_service, &read_url, None).await?;
    progress.step_done();

    let limit = Duration::from_millis(args.visible_timeout_ms);
    let connect = |base: String| async move {
        Endpoint::from_shared(base.clone())?
            .tcp_nodelay(true)
            .timeout(limit)
            .connect()
            .await
            .with_context(|| format!("gRPC connect to {base}"))
    };
    let mut commands = probe::Commands::new(connect(command.base.clone()).await?);
    let mut queries = probe::Queries::new(connect(query.base.clone()).await?);
    let mut ids = Vec::new();
    let mut last = 0;
    for n in 0..profiles {
        let (id, position) = probe::create(&mut commands, &format!("lag{n}")).await?;
        ids.push(id);
        last = position;
    }
    // Not measured: the read side has the profiles before the clock starts.
    probe::visible(&mut queries, &ids[0], last, limit).await.map_err(anyhow::Error::msg)?;
    progress.step_done();

    let window = Window::after(warmup, duration);
    let mut probes = JoinSet::new();
    {
        let _phase = progress.phase("lag", warmup + duration, None);
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
        // Open loop: late ticks are sent at once, so the offered rate holds.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut k: u64 = 0;
        while tokio::time::Instant::now() < window.end.into() {
            tick.tick().await;
            let id = ids[(k % ids.len() as u64) as usize].clone();
            probes.spawn(probe::probe(commands.clone(), queries.clone(), id, k, limit));
            k += 1;
        }
    }
    let mut commanded = Latencies::default();
    let mut lags = Latencies::default();
    let (mut retries, mut errors, mut sample_errors) = (0, 0, Vec::new());
    while let Some(done) = probes.join_next().await {
        let sample = done.context("a probe panicked")?;
        if let Some(e) = sample.error {
            errors += 1;
            if sample_errors.len() < SAMPLE_ERRORS {
                sample_errors.push(e);
            }
            continue;
        }
        if window.contains(sample.acked_at) {
            commanded.record(sample.command);
            lags.record(sample.lag.unwrap_or_default());
            retries += u64::from(sample.retries);
        }
    }
    for service in [&mut command, &mut projector, &mut query] {
        service.ensure_running()?;
    }
    progress.step_done();
    progress.finish();
    for service in [command, projector, query] {
        service.stop().await?;
    }

    let command_latency = commanded.summary();
    let lag = lags.summary();
    let goals = vec![Goal {
        goal: "every acknowledged command becomes visible through the query-service".to_owned(),
        met: Some(errors == 0 && lag.count > 0),
        detail: format!(
            "{} visible, {errors} errors; lag p50 {:.2} ms, p99 {:.2} ms",
            lag.count, lag.p50_ms, lag.p99_ms
        ),
    }];
    let report = LagReport {
        tool: "tally-bench lag",
        started_at,
        smoke: args.common.smoke,
        machine: Machine::detect(),
        postgres: settings,
        target_rate: rate,
        duration_secs: duration.as_secs_f64(),
        warmup_ms: warmup.as_millis(),
        profiles,
        partitions: args.partitions,
        achieved_rate: command_latency.count as f64 / window.seconds(),
        command_latency,
        lag,
        retries,
        errors,
        sample_errors,
        binaries: bins,
        goals,
    };
    println!("{}", render(&report));
    crate::report::write_json(&report, args.common.json.as_deref())?;
    anyhow::ensure!(errors == 0 && lag.count > 0, "benchmark run failed: {} visible, {errors} errors", lag.count);
    Ok(())
}

fn render(r: &LagReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nProjection lag: UpdateProfile at {} /s for {} s (after {} ms warm-up) through command-service → relay → \
         Tansu ({} partitions) → projector → query-service; {} CPUs",
        r.target_rate, r.duration_secs, r.warmup_ms, r.partitions, r.machine.cpus
    );
    let (c, l) = (&r.command_latency, &r.lag);
    let _ = writeln!(
        s,
        "  commands: {:.0}/s acknowledged, p50 {:.2} ms, p99 {:.2} ms",
        r.achieved_rate, c.p50_ms, c.p99_ms
    );
    let _ = writeln!(
        s,
        "  lag (ack → visible with min_position): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {} re-asks",
        l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, r.retries
    );
    crate::report::render_goals(&mut s, &r.goals);
    for e in &r.sample_errors {
        let _ = writeln!(s, "  error: {e}");
    }
    s
}
