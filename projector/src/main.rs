//! `projector`: consume events into the read DB, and operate on it
//! (migrations, dead letters, rebuilds).

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tally_platform::telemetry::Traces;
use tally_projector::{App, Settings, dead_letters, retry};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(version, about = "Tally's projector: consumes events and builds the read database")]
struct Cli {
    /// Settings file (TOML); `TALLY_*` environment variables override it.
    #[arg(long, env = "TALLY_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Consume events and keep the read tables up to date (the default).
    Run,
    /// Apply read-DB migrations and exit (for a Kubernetes Job).
    Migrate,
    /// Inspect and retry messages that could not be projected.
    #[command(subcommand)]
    DeadLetters(DeadLetters),
    /// Rebuild a projection from the event store into a new version, verify
    /// it, and switch to it atomically.
    #[command(subcommand)]
    Rebuild(Rebuild),
}

#[derive(Subcommand)]
enum DeadLetters {
    /// List open dead letters (all with --all).
    List {
        #[arg(long)]
        all: bool,
    },
    /// Re-apply one dead letter, or every open one with --all.
    Retry(RetryArgs),
}

#[derive(Args)]
#[group(required = true, multiple = false)]
struct RetryArgs {
    /// The dead letter's id (see `dead-letters list`).
    id: Option<i64>,
    #[arg(long)]
    all: bool,
}

#[derive(Subcommand)]
enum Rebuild {
    /// Rebuild `profile_view` and `site_view`.
    Profiles {
        /// Events read from the event store per page (one transaction each).
        #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        page: u32,
        /// Drop the previous version's tables after the switch.
        #[arg(long)]
        drop_old: bool,
        /// Memory for rows (MiB): a read model that fits is written once, at the end; a
        /// larger one is written and re-read in rounds. Keep it under the pod's memory limit.
        #[arg(long, default_value_t = (tally_projector::rebuild::DEFAULT_MEMORY_BUDGET >> 20) as u32,
              value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
        memory_mb: u32,
        /// No progress bar (logs only).
        #[arg(long)]
        quiet: bool,
    },
    /// Rebuild the analytics rollups, sessions and events with the
    /// configured session timeout (`TALLY_ANALYTICS__SESSION_TIMEOUT_MINUTES`).
    Analytics {
        /// Events read from the event store per page (one transaction each).
        #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        page: u32,
        /// Drop the previous version's tables after the switch.
        #[arg(long)]
        drop_old: bool,
        /// Memory (MiB) for visitor-day states and rollup sums: past it the oldest states
        /// are written out (re-read if needed) and the sums added to the table. Keep it under
        /// the pod's memory limit.
        #[arg(long, default_value_t = (tally_projector::rebuild::DEFAULT_MEMORY_BUDGET >> 20) as u32,
              value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
        memory_mb: u32,
        /// No progress bar (logs only).
        #[arg(long)]
        quiet: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref()).context("loading settings")?;
    let command = cli.command.unwrap_or(Command::Run);
    let service_name = if matches!(command, Command::Run) { "projector" } else { "projector-cli" };
    let _telemetry = tally_platform::telemetry::init(service_name, &settings.telemetry, Traces::ExportedOnly)?;
    match command {
        Command::Run => {
            let shutdown = CancellationToken::new();
            tally_platform::shutdown::cancel_on_signal(shutdown.clone());
            let app = App::build(settings).await.context("starting the projector")?;
            app.run_until_stopped(shutdown).await?;
        }
        Command::Migrate => {
            let config = tally_platform::db::pg_config(&settings.read_database)?;
            let applied = tally_projector::migrate::run(&config).await?;
            println!("read-model migrations applied: {applied}");
        }
        Command::DeadLetters(DeadLetters::List { all }) => {
            let pool = tally_platform::db::pool(&settings.read_database)?;
            let client = pool.get().await?;
            let letters = dead_letters::list(&**client, all).await?;
            print!("{}", tally_projector::dead_letters::render_table(&letters));
        }
        Command::DeadLetters(DeadLetters::Retry(args)) => {
            let pool = tally_platform::db::pool(&settings.read_database)?;
            let which = match args.id {
                Some(id) => retry::Which::One(id),
                None => retry::Which::AllOpen,
            };
            let outcomes = retry::retry_with_rules(&pool, which, settings.analytics.rules()).await?;
            return Ok(report_retries(&outcomes));
        }
        Command::Rebuild(Rebuild::Profiles { page, drop_old, memory_mb, quiet }) => {
            let shutdown = CancellationToken::new();
            tally_platform::shutdown::cancel_on_signal(shutdown.clone());
            let options = tally_projector::rebuild::Options {
                page: page as usize,
                memory_budget: memory_mb as usize * 1024 * 1024,
                drop_old,
                progress: !quiet,
            };
            let report = tally_projector::rebuild::profiles(&settings, options, shutdown).await?;
            println!("{report}");
        }
        Command::Rebuild(Rebuild::Analytics { page, drop_old, memory_mb, quiet }) => {
            let shutdown = CancellationToken::new();
            tally_platform::shutdown::cancel_on_signal(shutdown.clone());
            let options = tally_projector::rebuild::Options {
                page: page as usize,
                memory_budget: memory_mb as usize * 1024 * 1024,
                drop_old,
                progress: !quiet,
            };
            let report = tally_projector::analytics::rebuild::analytics(&settings, options, shutdown).await?;
            println!("{report}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints one line per dead letter; fails the command if any still fails.
fn report_retries(outcomes: &[(i64, retry::RetryOutcome)]) -> ExitCode {
    if outcomes.is_empty() {
        println!("no open dead letters");
        return ExitCode::SUCCESS;
    }
    let mut failed = 0;
    for (id, outcome) in outcomes {
        match outcome {
            retry::RetryOutcome::Resolved => println!("{id}: resolved"),
            retry::RetryOutcome::AlreadyResolved => println!("{id}: already resolved"),
            retry::RetryOutcome::NotFound => {
                failed += 1;
                println!("{id}: no such dead letter");
            }
            retry::RetryOutcome::Failed(reason) => {
                failed += 1;
                println!("{id}: still failing: {reason}");
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} of {} dead letters could not be applied", outcomes.len());
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
