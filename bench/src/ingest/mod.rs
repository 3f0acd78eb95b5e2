//! `tally-bench ingest`: analytics ingest end to end, next to a raw `COPY` of the same rows.
//!
//! The real command-service (relay on) → Tansu → projector (Kafka mode) → query-service, on
//! one durable throw-away cluster (write DB and read DB). `clients` closed-loop clients each
//! send batches of generated events ([`events`]) over gRPC `RecordEvents` or REST
//! `POST /v1/events` for a fixed time ([`load`]), while [`probe`] sends a marker pageview to a
//! probe site every interval and follows it into `aggregate`. After the load the run waits
//! until every accepted event is counted by `aggregate` (the drain), checks the counts, then
//! `COPY`s the same rows into one index-free table on the write DB ([`copy`]): the physical
//! limit the goals compare with.

mod copy;
mod events;
mod load;
mod probe;
mod report;
mod setup;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use tokio::task::JoinSet;

use crate::binaries::ReadSide;
use crate::cli::{Common, Transport};
use crate::latency::Latencies;
use crate::progress::{Live, Progress};
use crate::report::Machine;

#[derive(Debug, Clone, Args)]
pub struct IngestArgs {
    #[command(flatten)]
    pub common: Common,

    /// Concurrent clients, each with its own connection, sending batch after batch.
    #[arg(long, default_value_t = 32)]
    pub clients: u32,

    /// Events per request.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,

    /// Seconds of load.
    #[arg(long, default_value_t = 30)]
    pub duration_secs: u64,

    /// Offered events/s over all clients, each pacing its batches; 0 (the default) sends
    /// as fast as the answers come (the highest rate accepted, whatever the read side does).
    /// A rate the read side keeps up with shows its lag without a growing backlog.
    #[arg(long, default_value_t = 0)]
    pub rate: u64,

    #[arg(long, value_enum, default_value_t = Transport::Grpc)]
    pub transport: Transport,

    /// Registered sites sharing the traffic (skewed: a few big ones, a long tail).
    #[arg(long, default_value_t = 100)]
    pub sites: usize,

    /// Distinct visitors (IP + user agent) per site.
    #[arg(long, default_value_t = 5000)]
    pub visitors_per_site: u32,

    /// Send no client event ids (skips the dedupe table; trackers like Plausible's send none).
    #[arg(long)]
    pub no_client_ids: bool,

    /// Seed of the event generator: the same seed sends the same events.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Milliseconds between two lag probes.
    #[arg(long, default_value_t = 250)]
    pub probe_interval_ms: u64,

    /// Partitions of the analytics topic.
    #[arg(long, default_value_t = 3)]
    pub partitions: u32,

    /// Parallel connections of the COPY baseline.
    #[arg(long, default_value_t = 32)]
    pub copy_streams: u32,

    /// A request, a probe or the drain taking longer than this is an error.
    #[arg(long, default_value_t = 120_000)]
    pub timeout_ms: u64,

    /// Load `pg_stat_statements` and print, after the drain, the statements the write DB and
    /// the read DB spent their time on during load and drain (µs/op is per accepted event).
    #[arg(long)]
    pub pg_stat_statements: bool,
}

/// The effective sizes after `--smoke`.
struct Plan {
    clients: u32,
    batch: usize,
    duration: Duration,
    sites: usize,
    visitors_per_site: u32,
    copy_streams: u32,
}

impl IngestArgs {
    fn plan(&self) -> anyhow::Result<Plan> {
        let plan = if self.common.smoke {
            Plan {
                clients: 4,
                batch: 20,
                duration: Duration::from_secs(2),
                sites: 5,
                visitors_per_site: 50,
                copy_streams: 2,
            }
        } else {
            Plan {
                clients: self.clients,
                batch: self.batch,
                duration: Duration::from_secs(self.duration_secs),
                sites: self.sites,
                visitors_per_site: self.visitors_per_site,
                copy_streams: self.copy_streams,
            }
        };
        anyhow::ensure!((1..=1000).contains(&plan.clients), "--clients must be between 1 and 1000");
        anyhow::ensure!((1..=1000).contains(&plan.batch), "--batch must be between 1 and 1000 (the API's limit)");
        anyhow::ensure!(!plan.duration.is_zero(), "--duration-secs must be at least 1");
        anyhow::ensure!(
            plan.sites >= 1 && plan.visitors_per_site >= 1,
            "--sites and --visitors-per-site must be positive"
        );
        anyhow::ensure!(self.probe_interval_ms >= 10, "--probe-interval-ms must be at least 10");
        Ok(plan)
    }
}

pub async fn run(args: IngestArgs) -> anyhow::Result<()> {
    let plan = args.plan()?;
    let bins = ReadSide::locate(&args.common.profile)?;
    let started_at = chrono::Utc::now().to_rfc3339();
    let limit = Duration::from_millis(args.timeout_ms);
    let progress = Progress::new(5);

    progress.note("starting Postgres, Tansu, command-service (with relay), projector and query-service");
    let mut stack = setup::Stack::start(&bins, args.partitions, args.pg_stat_statements).await?;
    progress.step_done();
    progress.note(format!("registering {} sites and the probe site", plan.sites));
    let sites = setup::register_sites(&stack, plan.sites, limit).await?;
    progress.step_done();

    if args.pg_stat_statements {
        crate::statements::reset(&stack.admin().await?).await?;
    }
    let live = Arc::new(Live::default());
    let deadline = Instant::now() + plan.duration;
    let load_started = Instant::now();
    let site_ids = Arc::new(sites.ids.clone());
    let mut clients = JoinSet::new();
    let pace = (args.rate > 0)
        .then(|| Duration::from_secs_f64(f64::from(plan.clients) * plan.batch as f64 / args.rate as f64));
    for c in 0..plan.clients {
        let sender = load::Sender::connect(args.transport, &stack.command.base, limit).await?;
        let generator = events::Generator::new(args.seed, c, plan.sites, plan.visitors_per_site, !args.no_client_ids);
        clients.spawn(load::client(sender, generator, site_ids.clone(), plan.batch, pace, deadline, live.clone()));
    }
    let mut probes = JoinSet::new();
    {
        let _phase = progress.phase("ingest", plan.duration, Some(live.clone()));
        let mut tick = tokio::time::interval(Duration::from_millis(args.probe_interval_ms));
        let mut k = 0;
        while Instant::now() < deadline {
            tick.tick().await;
            probes.spawn(probe::probe(
                stack.commands.clone(),
                stack.queries.clone(),
                sites.probe.clone(),
                sites.probe_key.clone(),
                k,
                limit,
            ));
            k += 1;
        }
    }
    let mut results = Vec::new();
    while let Some(done) = clients.join_next().await {
        results.push(done.context("a client panicked")?);
    }
    let load_secs = load_started.elapsed().as_secs_f64();
    progress.step_done();

    let mut latencies = Latencies::default();
    let (mut requests, mut accepted, mut errors, mut max_position) = (0, 0, 0, 0);
    let mut sample_errors = Vec::new();
    let mut batches = Vec::new();
    for r in &results {
        latencies.merge(&r.latencies);
        requests += r.requests;
        accepted += r.accepted;
        errors += r.errors;
        max_position = max_position.max(r.max_position);
        batches.push(r.requests);
        sample_errors.extend(r.sample_error.clone());
    }

    progress.note("draining: waiting until aggregate counts every accepted event");
    let _phase = progress.phase("drain", Duration::from_secs(60), None);
    let drain = setup::count_visible(&mut stack, &sites, max_position, limit).await?;
    let drain_secs = load_started.elapsed().as_secs_f64() - load_secs;
    drop(_phase);
    let mut lags = Latencies::default();
    let mut probes_sent = 0;
    while let Some(done) = probes.join_next().await {
        probes_sent += 1;
        match done.context("a probe panicked")?.lag {
            Ok(lag) => lags.record(lag),
            Err(e) => {
                errors += 1;
                sample_errors.push(e);
            }
        }
    }
    if args.pg_stat_statements {
        let admin = stack.admin().await?;
        for database in [setup::WRITE_DB, setup::READ_DB] {
            println!("{database}: statements by execution time over load and drain");
            for line in crate::statements::top(&admin, database, accepted, 12).await? {
                println!("  {line}");
            }
        }
    }
    // Probes finishing after the drain's read are counted now.
    let probe_visible = setup::probe_count(&mut stack, &sites, limit).await?;
    progress.step_done();

    progress.note(format!("COPY baseline: the same rows over {} connections", plan.copy_streams));
    let copy_plan = copy::Plan {
        seed: args.seed,
        sites: plan.sites,
        visitors_per_site: plan.visitors_per_site,
        with_ids: !args.no_client_ids,
        batch: plan.batch,
        batches,
    };
    let baseline = copy::run(&stack.pg, setup::WRITE_DB, &sites.ids, &copy_plan, plan.copy_streams).await?;
    progress.step_done();
    let peak_rss_mib = stack.peak_rss_mib();
    let postgres = stack.stop().await?;
    progress.finish();

    sample_errors.truncate(5);
    let report = report::IngestReport::new(report::Inputs {
        started_at,
        smoke: args.common.smoke,
        machine: Machine::detect(),
        transport: args.transport,
        clients: plan.clients,
        batch: plan.batch,
        sites: plan.sites,
        visitors_per_site: plan.visitors_per_site,
        client_ids: !args.no_client_ids,
        load_secs,
        drain_secs,
        requests,
        accepted,
        visible: drain.events,
        probes_sent,
        probes_visible: probe_visible,
        request_latency: latencies.summary(),
        lag: lags.summary(),
        errors,
        sample_errors,
        copy: baseline,
        binaries: bins,
        postgres,
        peak_rss_mib,
        offered_rate: (args.rate > 0).then_some(args.rate),
    });
    println!("{}", report::render(&report));
    crate::report::write_json(&report, args.common.json.as_deref())?;
    anyhow::ensure!(report.ok(), "benchmark run failed: {}", report.failure());
    Ok(())
}
