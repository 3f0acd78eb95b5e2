//! `tally up`: install what is missing, start the stack, seed it, supervise it in the
//! foreground, stop it cleanly.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use tally_devstack::ProcessStamp;
use tokio::signal::unix::{SignalKind, signal};

use super::endpoints::DemoSite;
use super::launch::{Stack, StackConfig, StackPorts};
use super::seed;
use super::state::StateDir;
use crate::ui::{note, step};

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    #[command(flatten)]
    state: crate::StateArgs,
    /// The gateway's REST port (nginx, loopback only).
    #[arg(long, default_value_t = StackPorts::LOCAL.http)]
    http_port: u16,
    /// The gateway's gRPC (h2c) port.
    #[arg(long, default_value_t = StackPorts::LOCAL.grpc)]
    grpc_port: u16,
    /// The write Postgres port; the read cluster and its replica take the next two.
    #[arg(long, default_value_t = StackPorts::LOCAL.pg_write)]
    pg_port: u16,
    /// Directory holding the service binaries [default: the directory of `tally` itself].
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Do not create demo profiles, sites and traffic.
    #[arg(long)]
    no_seed: bool,
    /// Free ports for every part instead of the fixed ones (tests of `tally up` itself).
    #[arg(long, hide = true)]
    free_ports: bool,
}

/// Runs the stack in the foreground until Ctrl-C / SIGTERM or until a process dies.
pub async fn up(args: UpArgs) -> Result<()> {
    let state = StateDir::resolve(args.state.state_dir.clone())?;
    if let Some(owner) = state.live_supervisor() {
        bail!("a stack is already running (pid {}); stop it with `tally down`", owner.pid);
    }
    let ports = if args.free_ports {
        StackPorts::EPHEMERAL
    } else {
        StackPorts {
            http: args.http_port,
            grpc: args.grpc_port,
            pg_write: args.pg_port,
            pg_read: args.pg_port + 1,
            pg_replica: args.pg_port + 2,
            ..StackPorts::LOCAL
        }
    };
    // Otherwise an unrelated server on one of them could answer our readiness probes.
    for port in ports.fixed() {
        std::net::TcpListener::bind(("127.0.0.1", port))
            .with_context(|| format!("port {port} is in use: stop whatever holds it (or see `tally up --help`)"))?;
    }
    let bin_dir = match &args.bin_dir {
        Some(dir) => dir.clone(),
        None => std::env::current_exe()?.parent().context("tally has no parent dir")?.to_path_buf(),
    };
    std::fs::create_dir_all(state.root()).with_context(|| format!("create {}", state.root().display()))?;
    ProcessStamp::current().write(&state.supervisor_pid())?;
    // Installed first, so a `tally down` during startup still gets an orderly stop.
    let mut stop = StopSignals::new()?;

    let cfg = StackConfig { state: state.clone(), ports, bin_dir, durable: true };
    let mut stack = Stack::default();
    let outcome = tokio::select! {
        r = bring_up(&mut stack, &cfg, !args.no_seed) => r,
        s = stop.recv() => { note(format!("{s}: stopping")); Ok(false) }
    };
    let outcome = match outcome {
        Ok(true) => tokio::select! {
            s = stop.recv() => { note(format!("{s}: stopping")); Ok(()) }
            died = stack.wait_for_exit() => Err(anyhow::anyhow!(died)),
        },
        Ok(false) => Ok(()),
        Err(e) => Err(e),
    };
    stack.shutdown().await;
    let _ = std::fs::remove_file(state.supervisor_pid());
    outcome
}

/// Prerequisites, the stack, demo data, then the summary. True once everything is up.
async fn bring_up(stack: &mut Stack, cfg: &StackConfig, seed_data: bool) -> Result<bool> {
    install_missing().await?;
    stack.start(cfg).await?;
    let endpoints = stack.endpoints().context("the stack reported no endpoints")?.clone();
    let mut demo_site = None;
    if seed_data {
        // Demo data is a convenience: a failure is reported but does not stop the stack.
        match step("demo profiles and sites", seed::profiles_and_sites(&endpoints.http, &cfg.state), |s| {
            s.summary.clone()
        })
        .await
        {
            Ok(seeded) => {
                let mut position = seeded.position;
                if let Some((domain, id)) = seeded.sites.first().cloned() {
                    let key = step(
                        "demo read key",
                        seed::read_key(&endpoints.http, &endpoints.ingest_admin_token, &id, &cfg.state),
                        seed::DemoKey::summary,
                    )
                    .await;
                    let key = match key {
                        Ok(key) => {
                            position = position.max(key.position);
                            Some(key.token)
                        }
                        Err(e) => {
                            note(format!("no read key for the demo site: {e:#}"));
                            None
                        }
                    };
                    demo_site = Some(DemoSite { domain, id, read_key: key });
                }
                match step(
                    "demo traffic",
                    seed::traffic(&endpoints.http, &endpoints.ingest_admin_token, &seeded.sites),
                    seed::Traffic::summary,
                )
                .await
                {
                    Ok(_) => {}
                    Err(e) => note(format!("demo traffic not seeded: {e:#}")),
                }
                if let Err(e) = step(
                    "demo data readable through the gateway",
                    seed::await_readable(&endpoints.http, position),
                    Clone::clone,
                )
                .await
                {
                    note(format!("{e:#}"));
                }
            }
            Err(e) => note(format!("demo data not seeded: {e:#}")),
        }
    }
    let tally = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_else(|_| "tally".to_owned());
    println!("{}", endpoints.describe(&tally, &seed::fresh_handle(), demo_site.as_ref()));
    println!("Stack is up. Press Ctrl-C to stop (or run `tally down` elsewhere).");
    Ok(true)
}

/// Runs `scripts/bootstrap.sh` when nginx, the Postgres server or the broker is missing.
async fn install_missing() -> Result<()> {
    let pg = Path::new("/usr/lib/postgresql")
        .read_dir()
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.path().join("bin/pg_ctl").is_file());
    let nginx = std::env::var_os(tally_devstack::NGINX_ENV).is_some() || Path::new("/usr/sbin/nginx").is_file();
    let venv = tally_devstack::workspace_root().join("target/tools-venv/bin/python3").is_file()
        || std::env::var_os("TALLY_TANSU").is_some();
    if pg && nginx && venv {
        return Ok(());
    }
    let script = tally_devstack::workspace_root().join("scripts/bootstrap.sh");
    step(
        "installing prerequisites (scripts/bootstrap.sh)",
        async {
            let status = tokio::process::Command::new("bash")
                .arg(&script)
                .current_dir(tally_devstack::workspace_root())
                .status()
                .await
                .with_context(|| format!("run {}", script.display()))?;
            anyhow::ensure!(status.success(), "{} failed ({status})", script.display());
            Ok(())
        },
        |_| "done".to_owned(),
    )
    .await
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
