//! `command-service`: serve the write API, or apply migrations and exit.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tally_command_service::{App, Settings};
use tally_platform::telemetry::Traces;
use tokio_util::sync::CancellationToken;

// Requests and batches allocate many small, short-lived buffers on one thread and free them
// on another. glibc malloc spent ~17 % of the command-service's CPU on them (unlinking and
// consolidating chunks); with mimalloc a command costs ~20 % less service CPU
// (docs/benchmarks.md, "commands").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(version, about = "Tally's write side: validates commands and appends events to the event store")]
struct Cli {
    /// Settings file (TOML); `TALLY_*` environment variables override it.
    #[arg(long, env = "TALLY_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve gRPC and REST on one port (the default).
    Serve,
    /// Apply event-store migrations and exit (for a Kubernetes Job).
    Migrate,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref()).context("loading settings")?;
    let _telemetry = tally_platform::telemetry::init("command-service", &settings.telemetry, Traces::Propagated)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let shutdown = CancellationToken::new();
            tally_platform::shutdown::cancel_on_signal(shutdown.clone());
            let app = App::build(settings).await.context("starting command-service")?;
            app.run_until_stopped(shutdown).await?;
        }
        Command::Migrate => {
            let config = tally_platform::db::pg_config(&settings.database)?;
            let applied = tally_event_store::migrate::run(&config).await?;
            tracing::info!(applied, "migrations applied");
        }
    }
    Ok(())
}
