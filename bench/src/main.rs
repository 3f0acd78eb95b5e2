//! `tally-bench`: measures Tally's write path against a same-run PostgreSQL baseline.
//!
//! `tally-bench commands` starts one durable, throw-away Postgres cluster, runs `pgbench`
//! (one-row INSERT per transaction into an event-shaped table) and then the real release
//! `command-service` under a Rust load generator, at each concurrency, and prints both side
//! by side. Absolute numbers depend on the machine; the ratio to the baseline measured in the
//! same run, on the same cluster and the same disk, is the figure to compare across machines.
//!
//! Module map: `cli` (arguments), `run` (orchestration), `cluster` (the Postgres under test),
//! `pgbench` (baseline workload), `service` (the command-service process and its metrics),
//! `load` (the Tally workload and its clients), `latency`, `cpu`, `wal` (measurements),
//! `report` (table, JSON, goals), `progress` (indicatif).
#![forbid(unsafe_code)]

mod cli;
mod cluster;
mod cpu;
mod latency;
mod load;
mod pgbench;
mod progress;
mod report;
mod run;
mod service;
mod statements;
mod wal;
mod window;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    // Enough worker threads that the load generator is never starved by its own runtime; on
    // 2 cores the OS still shares the CPUs with Postgres and the service, which the report
    // makes visible (see `cpu`).
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        cli::Command::Commands(args) => runtime.block_on(run::commands(args)),
    }
}
