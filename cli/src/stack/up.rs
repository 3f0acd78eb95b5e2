//! `tally up`: start the stack, seed it, supervise it in the foreground, stop it cleanly.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use tally_devstack::{PgCluster, PgOptions, ProcessStamp, Readiness, Service, ServiceSpec};
use tokio::signal::unix::{SignalKind, signal};

use super::seed;
use super::services::{Ctx, DATABASES, SERVICES, ServiceDef};
use super::state::{ServiceEntry, StackFile, StateDir};
use crate::ui::{note, step};

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    #[command(flatten)]
    state: crate::StateArgs,
    /// Postgres port (loopback only).
    #[arg(long, default_value_t = 5433)]
    pg_port: u16,
    /// Port of the command service (REST + gRPC).
    #[arg(long, default_value_t = 8080)]
    http_port: u16,
    /// Directory holding the service binaries [default: the directory of `tally` itself].
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Do not create demo profiles and sites.
    #[arg(long)]
    no_seed: bool,
}

/// Runs the stack in the foreground until Ctrl-C / SIGTERM or until a service dies.
pub async fn up(args: UpArgs) -> Result<()> {
    let state = StateDir::resolve(args.state.state_dir.clone())?;
    if let Some(owner) = state.live_supervisor() {
        bail!("a stack is already running (pid {}); stop it with `tally down`", owner.pid);
    }
    // Otherwise an unrelated server on that port could answer our readiness probe.
    std::net::TcpListener::bind(("127.0.0.1", args.http_port))
        .with_context(|| format!("port {} is in use: stop whatever holds it or pass --http-port", args.http_port))?;
    std::fs::create_dir_all(state.logs()).with_context(|| format!("create {}", state.logs().display()))?;
    ProcessStamp::current().write(&state.supervisor_pid())?;
    // Installed first, so a `tally down` during startup still gets an orderly stop.
    let mut stop = StopSignals::new()?;

    let mut stack = Stack::default();
    let outcome = tokio::select! {
        r = stack.run(&args, &state) => r,
        s = stop.recv() => { note(format!("{s}: stopping")); Ok(()) }
    };
    let outcome = match outcome {
        Ok(()) if stack.is_up() => stack.wait(&mut stop).await,
        other => other,
    };
    stack.shutdown(&state).await;
    let _ = std::fs::remove_file(state.supervisor_pid());
    outcome
}

/// What `tally up` has started so far.
#[derive(Default)]
struct Stack {
    pg: Option<PgCluster>,
    services: Vec<Service>,
}

impl Stack {
    fn is_up(&self) -> bool {
        self.pg.is_some() && self.services.len() == SERVICES.len()
    }

    async fn run(&mut self, args: &UpArgs, state: &StateDir) -> Result<()> {
        let opts = PgOptions { dir: Some(state.pg()), port: args.pg_port, durable: true, ..PgOptions::default() };
        let pg = step("postgres", async { Ok(PgCluster::start(opts).await?) }, |pg: &PgCluster| {
            let how = if pg.reused() { "reused" } else { "new cluster" };
            format!("127.0.0.1:{} ({how}, {})", pg.port(), pg.dir().display())
        })
        .await?;
        let pg = self.pg.insert(pg);
        step(
            "databases",
            async {
                for db in DATABASES {
                    pg.ensure_database(db).await?;
                }
                Ok(())
            },
            |_| DATABASES.join(", "),
        )
        .await?;

        let mut record = StackFile { postgres_port: Some(pg.port()), services: Vec::new() };
        let bin_dir = match &args.bin_dir {
            Some(dir) => dir.clone(),
            None => std::env::current_exe()?.parent().context("tally has no parent dir")?.to_path_buf(),
        };
        let ctx = Ctx { pg, http_port: args.http_port };
        for def in SERVICES {
            let spec = service_spec(def, &ctx, &bin_dir, state)?;
            let svc = step(def.name, async { Ok(Service::spawn_spec(spec).await?) }, |s: &Service| {
                format!("pid {}, log {}", s.pid(), s.log_path().display())
            })
            .await?;
            let stamp = ProcessStamp::of(svc.pid()).context("service vanished right after starting")?;
            record.services.push(ServiceEntry {
                name: def.name.to_owned(),
                pid: stamp.pid,
                start_time: stamp.start_time,
                ready_url: (def.ready_url)(&ctx),
                log: svc.log_path().to_path_buf(),
            });
            state.write_stack(&record)?;
            self.services.push(svc);
        }

        let base = format!("http://127.0.0.1:{}", args.http_port);
        print_endpoints(&base, &ctx.pg.url("tally_write"));
        if !args.no_seed {
            // Demo data is a convenience: a failure is reported but does not stop the stack.
            if let Err(e) = step("demo data", seed::run(&base, state), Clone::clone).await {
                note(format!("demo data not seeded: {e:#}"));
            }
        }
        println!("\nStack is up. Press Ctrl-C to stop (or run `tally down` elsewhere).");
        Ok(())
    }

    /// Blocks until a stop signal arrives or a service exits on its own.
    async fn wait(&mut self, stop: &mut StopSignals) -> Result<()> {
        let exits = futures::future::select_all(self.services.iter_mut().map(|s| Box::pin(s.wait_exit())));
        let (status, idx) = tokio::select! {
            s = stop.recv() => { note(format!("{s}: stopping")); return Ok(()) }
            (status, idx, _) = exits => (status, idx),
        };
        let svc = &self.services[idx];
        bail!(
            "{} exited unexpectedly ({}); last log lines:\n{}",
            svc.name(),
            status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string()),
            svc.log_tail(40)
        )
    }

    /// Stops services in reverse start order, then Postgres.
    async fn shutdown(&mut self, state: &StateDir) {
        while let Some(mut svc) = self.services.pop() {
            match svc.terminate().await {
                Ok(status) => note(format!("stopped {} ({status})", svc.name())),
                Err(e) => note(format!("stopping {}: {e}", svc.name())),
            }
        }
        if let Some(pg) = self.pg.take() {
            match tokio::task::spawn_blocking(move || pg.stop()).await {
                Ok(Ok(())) => note("stopped postgres"),
                Ok(Err(e)) => note(format!("stopping postgres: {e}")),
                Err(e) => note(format!("stopping postgres: {e}")),
            }
        }
        let _ = std::fs::remove_file(state.stack_file());
    }
}

fn service_spec(def: &ServiceDef, ctx: &Ctx, bin_dir: &std::path::Path, state: &StateDir) -> Result<ServiceSpec> {
    let program = bin_dir.join(def.binary);
    anyhow::ensure!(
        program.is_file(),
        "{} not found: run `cargo build --release --bins` (or pass --bin-dir)",
        program.display()
    );
    let readiness = match (def.ready_url)(ctx) {
        Some(url) => Readiness::Http(url),
        None => Readiness::Started,
    };
    let mut spec = ServiceSpec::new(def.name, program, readiness);
    spec.args = def.args.iter().map(Into::into).collect();
    spec.envs = (def.env)(ctx).into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    if std::env::var_os("RUST_LOG").is_none() {
        spec.envs.push(("RUST_LOG".into(), "info".into()));
    }
    spec.log_path = Some(state.logs().join(format!("{}.log", def.name)));
    Ok(spec)
}

fn print_endpoints(base: &str, db_url: &str) {
    println!(
        "\nTally is running:\n\
         \x20 REST + gRPC   {base}\n\
         \x20 OpenAPI       {base}/openapi.json\n\
         \x20 Metrics       {base}/metrics\n\
         \x20 gRPC list     grpcurl -plaintext {host} list\n\
         \x20 Write DB      {db_url}\n\
         \nTry:\n\
         \x20 curl -sS -X POST {base}/v1/profiles -H 'content-type: application/json' \\\n\
         \x20   -d '{{\"handle\":\"ada\",\"display_name\":\"Ada Lovelace\",\"email\":\"ada@example.com\"}}'\n",
        host = base.trim_start_matches("http://"),
    );
}

/// Ctrl-C, SIGTERM (what `tally down` sends) and SIGHUP (terminal closed).
struct StopSignals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn new() -> Result<Self> {
        Ok(Self {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "interrupted",
            _ = self.term.recv() => "terminated",
            _ = self.hup.recv() => "hang-up",
        }
    }
}
