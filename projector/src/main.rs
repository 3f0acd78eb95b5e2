//! `projector`: consumes events and builds the read DB's tables.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(version, about = "Tally's projector: consumes events and builds the read database")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Consume events and keep the read tables up to date.
    Run,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Run => anyhow::bail!(tally_projector::NOT_YET),
    }
}
