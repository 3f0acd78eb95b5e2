//! `tally-bench commands`: orchestration of one benchmark run.
//!
//! One durable cluster for everything; per concurrency level the baseline runs first, then
//! Tally, each after a CHECKPOINT, so both see the same disk, the same WAL settings and the
//! same (warm) machine state within seconds of each other.

use std::time::Duration;

use anyhow::Context;

use crate::cli::CommandsArgs;
use crate::cluster;
use crate::cpu::Watch;
use crate::load::Workload;
use crate::peer::Peer;
use crate::pgbench::{self, Baseline};
use crate::progress::Progress;
use crate::report::{self, Machine, Params, Report, Row, ServiceInfo};
use crate::service::{self, CommandService};
use crate::statements;

/// The write database of the service under test.
const TALLY_DATABASE: &str = "tally_write";
/// The peer baseline's database, on the same cluster.
const PEER_DATABASE: &str = "postgres_es";
/// The peer's pool when the service's is left at its default (the service's default size).
const PEER_DEFAULT_POOL: u32 = 16;

pub async fn commands(args: CommandsArgs) -> anyhow::Result<()> {
    let plan = args.plan()?;
    // Fail before starting anything slow when a program is missing.
    let binary = service::locate(&plan.args)?;
    anyhow::ensure!(
        plan.args.pgbench.is_file(),
        "pgbench not found at {} (Debian: apt-get install postgresql-15, or pass --pgbench)",
        plan.args.pgbench.display()
    );
    let started_at = chrono::Utc::now().to_rfc3339();
    let sides = if plan.args.no_peer { 2 } else { 3 };
    let progress = Progress::new(2 + sides * plan.concurrency.len() as u64);

    progress.note("starting a durable throw-away Postgres cluster");
    let stats = plan.args.pg_stat_statements;
    let pg = cluster::start(if stats { statements::settings() } else { Vec::new() }).await?;
    let admin = cluster::connect(&pg, "postgres").await?;
    let settings = cluster::settings(&admin).await?;
    pg.create_database(pgbench::DATABASE).await?;
    let baseline_db = cluster::connect(&pg, pgbench::DATABASE).await?;
    pgbench::prepare(&baseline_db, plan.seed_profiles).await?;
    pg.create_database(TALLY_DATABASE).await?;
    progress.step_done();

    progress.note(format!("starting {}", binary.display()));
    let mut service = CommandService::start(&binary, &pg.url(TALLY_DATABASE), plan.args.service_pool_size)
        .await
        .context("starting the command-service")?;
    // After the service's migrations, so the event-store tables exist.
    let tally_db = cluster::connect(&pg, TALLY_DATABASE).await?;
    if stats {
        statements::install(&admin).await?;
    }
    progress.step_done();

    let watch = Watch { postmaster: cluster::postmaster_pid(&pg), service: Some(service.pid()), pgbench: None };
    let baseline = Baseline {
        program: plan.args.pgbench.clone(),
        database: pgbench::DATABASE,
        script: pgbench::SCRIPT.to_owned(),
        port: pg.port(),
        user: tally_devstack::SUPERUSER,
    };
    let workload = Workload {
        transport: plan.args.transport,
        profiles_per_client: plan.args.profiles_per_client,
        create_every: plan.args.create_every,
        max_ops_per_client: plan.args.max_ops_per_client,
        request_timeout: Duration::from_millis(plan.args.request_timeout_ms),
    };

    let peer = if plan.args.no_peer {
        None
    } else {
        pg.create_database(PEER_DATABASE).await?;
        let pool = plan.args.service_pool_size.unwrap_or(PEER_DEFAULT_POOL);
        Some(Peer::start(&pg.url(PEER_DATABASE), pool).await.context("starting the postgres-es baseline")?)
    };

    if plan.seed_profiles > 0 {
        progress.note(format!("seeding {} profiles through the service (not measured)", plan.seed_profiles));
        workload.seed(plan.seed_profiles, &service.base).await.context("seeding profiles")?;
    }

    let mut rows = Vec::new();
    for (tag, &clients) in plan.concurrency.iter().enumerate() {
        cluster::analyze(&baseline_db).await?;
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

        let sims = workload
            .prepare(tag, clients, &service.base)
            .await
            .with_context(|| format!("creating the profiles of {clients} clients"))?;
        cluster::analyze(&tally_db).await?;
        cluster::checkpoint(&admin).await?;
        if stats {
            statements::reset(&admin).await?;
        }
        let tally = workload
            .measure(tag, sims, plan.warmup, plan.duration, Some(&service), &admin, watch, &progress)
            .await
            .with_context(|| format!("tally at {clients} clients"))?;
        service.ensure_running()?;
        progress.note(format!(
            "tally   {clients:>4} clients: {:>8.0} cmds/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
            tally.cmds_per_sec, tally.latency.p50_ms, tally.latency.p99_ms, tally.errors
        ));
        if stats {
            // The statistics also cover the warm-up, so divide by the commands of the whole run.
            let ops = (tally.cmds_per_sec * (plan.warmup + plan.duration).as_secs_f64()) as u64;
            for line in statements::top(&admin, TALLY_DATABASE, ops, 12).await? {
                progress.note(format!("  {line}"));
            }
        }
        progress.step_done();

        let peer_result = match &peer {
            None => None,
            Some(peer) => {
                let sims = workload.prepare_peer(tag, clients, peer).await.context("postgres-es profiles")?;
                cluster::checkpoint(&admin).await?;
                let result = workload
                    .measure(tag, sims, plan.warmup, plan.duration, None, &admin, watch, &progress)
                    .await
                    .with_context(|| format!("postgres-es at {clients} clients"))?;
                progress.note(format!(
                    "pg-es   {clients:>4} clients: {:>8.0} cmds/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
                    result.cmds_per_sec, result.latency.p50_ms, result.latency.p99_ms, result.errors
                ));
                progress.step_done();
                Some(result)
            }
        };
        rows.push(Row::new(base, tally, peer_result));
    }
    progress.finish();
    let log = service.log_path();
    service.stop().await?;

    let report = Report {
        tool: "tally-bench commands",
        started_at,
        smoke: plan.args.smoke,
        machine: Machine::detect(),
        postgres: settings,
        params: Params {
            duration_secs: plan.duration.as_secs_f64(),
            warmup_ms: plan.warmup.as_millis(),
            concurrency: plan.concurrency.clone(),
            profiles_per_client: plan.args.profiles_per_client,
            create_every: plan.args.create_every,
            seed_profiles: plan.seed_profiles,
            baseline_workload: "pgbench -M prepared: one INSERT per transaction into \
                bench_events(bigint identity pk, uuid, text, ~200 B jsonb, timestamptz)",
            tally_workload: "UpdateProfile (new bio, 1 event) on the client's own profiles, \
                every Nth command a CreateProfile (1 event)",
        },
        service: ServiceInfo { binary, pool_size: plan.args.service_pool_size, log },
        goals: report::goals(&rows),
        warnings: report::warnings(&rows),
        rows,
    };
    println!("{}", report::render(&report));
    if let Some(path) = &plan.args.json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    check(&report)
}

/// A benchmark with failures measures nothing: any error or an idle side fails the run (and
/// with it `make test`'s smoke check).
fn check(report: &Report) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    for r in &report.rows {
        let c = r.concurrency;
        if r.baseline.transactions == 0 {
            problems.push(format!("pgbench completed no transaction at {c} clients"));
        }
        if r.baseline.failed > 0 {
            problems.push(format!("pgbench had {} failed transactions at {c} clients", r.baseline.failed));
        }
        if r.tally.commands == 0 {
            problems.push(format!("tally completed no command at {c} clients"));
        }
        if r.tally.errors > 0 {
            problems.push(format!("tally had {} errors at {c} clients: {:?}", r.tally.errors, r.tally.error_kinds));
        }
        if r.tally.batches.failures > 0 {
            problems.push(format!("the appender reported {} failed batches at {c} clients", r.tally.batches.failures));
        }
        if let Some(p) = r.peer.as_ref().filter(|p| p.commands == 0 || p.errors > 0) {
            problems.push(format!(
                "postgres-es completed {} commands with {} errors at {c} clients: {:?}",
                p.commands, p.errors, p.error_kinds
            ));
        }
    }
    anyhow::ensure!(problems.is_empty(), "benchmark run failed:\n  {}", problems.join("\n  "));
    Ok(())
}
