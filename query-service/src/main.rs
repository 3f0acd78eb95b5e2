//! `query-service`: serves reads (profiles, analytics) from the read DB.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(version, about = "Tally's read side: profiles and analytics from the read database")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve gRPC and REST reads on one port.
    Serve,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve => anyhow::bail!(tally_query_service::NOT_YET),
    }
}
