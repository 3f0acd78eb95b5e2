//! `query-service`: serve profile and site reads from the read DB.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tally_platform::telemetry::Traces;
use tally_query_service::{App, Settings};
use tokio_util::sync::CancellationToken;

// REST reads spend ~16 % of the service's CPU in glibc malloc (buffers allocated on one
// worker thread and freed on another); see docs/benchmarks.md, "reads".
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(version, about = "Tally's read side: profiles and sites from the read database")]
struct Cli {
    /// Settings file (TOML); `TALLY_*` environment variables override it.
    #[arg(long, env = "TALLY_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve gRPC and REST reads on one port (the default).
    Serve,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref()).context("loading settings")?;
    let _telemetry = tally_platform::telemetry::init("query-service", &settings.telemetry, Traces::ExportedOnly)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let shutdown = CancellationToken::new();
            tally_platform::shutdown::cancel_on_signal(shutdown.clone());
            let app = App::build(settings).await.context("starting query-service")?;
            app.run_until_stopped(shutdown).await?;
        }
    }
    Ok(())
}
