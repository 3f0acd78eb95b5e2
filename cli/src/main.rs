//! `tally`: runs Tally's local dev stack (`up`, `down`, `status`, `reset`) and small
//! developer chores, and `import` (analytics backfill). Later subcommands plug in here.
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use tally_cli::{StateArgs, grpc, import, stack};

#[derive(Debug, Parser)]
#[command(name = "tally", version, about = "Tally developer and operator tool")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the complete local stack (Postgres clusters, broker, services, nginx) in the
    /// foreground, seed demo data, and stop everything on Ctrl-C.
    Up(stack::UpArgs),
    /// Stop a stack started by `tally up` (from any terminal).
    Down(StateArgs),
    /// Show what is running.
    Status(StateArgs),
    /// `down`, then delete all local state (database, logs).
    Reset(StateArgs),
    /// Backfill raw event logs (NDJSON) through a command-service, resumable and idempotent.
    Import(import::ImportArgs),
    /// Stop and remove ephemeral test clusters whose owning process is gone.
    ReapStale,
    /// Call the gRPC API (through the gateway of `tally up` by default).
    #[command(subcommand)]
    Grpc(grpc::GrpcCommand),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Printed by hand: a returned error would come with a backtrace whenever
    // RUST_BACKTRACE is set, which buries the one line a user needs.
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Up(args) => stack::up(args).await,
        Command::Down(args) => stack::down(&stack::StateDir::resolve(args.state_dir)?).await,
        Command::Status(args) => stack::status(&stack::StateDir::resolve(args.state_dir)?).await,
        Command::Reset(args) => stack::reset(&stack::StateDir::resolve(args.state_dir)?).await,
        Command::Grpc(cmd) => grpc::run(cmd).await,
        Command::Import(args) => import::run(args).await,
        Command::ReapStale => {
            let report = tally_devstack::reap_stale()?;
            if report.removed_dirs > 0 {
                println!(
                    "reaped {} stale test cluster(s) ({} still running)",
                    report.removed_dirs, report.stopped_servers
                );
            }
            Ok(())
        }
    }
}
