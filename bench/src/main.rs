//! `tally-bench`: measures Tally against same-run baselines and its stated goals.
//!
//! `tally-bench commands` starts one durable, throw-away Postgres cluster, runs `pgbench`
//! (one-row INSERT per transaction into an event-shaped table) and then the real release
//! `command-service` under a Rust load generator, at each concurrency, and prints both side
//! by side. Absolute numbers depend on the machine; the ratio to the baseline measured in the
//! same run, on the same cluster and the same disk, is the figure to compare across machines.
//!
//! `tally-bench reads`, `rebuild` and `lag` measure the read side the same way (see
//! docs/benchmarks.md): `reads` next to a same-run `pgbench` SELECT, `rebuild` and `lag`
//! against their goals.
//!
//! `tally-bench all` runs every workload in turn and ends with one summary of every goal.
//!
//! Module map: `cli` (arguments), `run` (orchestration), `cluster` (the Postgres under test),
//! `pgbench` (baseline workload), `service` (the command-service process and its metrics),
//! `load` (the Tally workload and its clients), `latency`, `cpu`, `wal` (measurements),
//! `report` (table, JSON, goals), `progress` (indicatif); for the read side `binaries` and
//! `processes` (the services), `seed` (events straight into the event store), `getprofile`
//! (the gRPC read load), and one module per workload (`reads`, `rebuild`, `lag`).
#![forbid(unsafe_code)]

mod all;
mod analytics_reads;
mod binaries;
mod cli;
mod cluster;
mod cpu;
mod footprint;
mod getprofile;
mod growth;
mod http1;
mod ingest;
mod isolation;
mod lag;
mod latency;
mod load;
mod peer;
mod pgbench;
mod processes;
mod progress;
mod reads;
mod rebuild;
mod report;
mod run;
mod seed;
mod service;
mod stack;
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
        cli::Command::Reads(args) => runtime.block_on(reads::run(args)),
        cli::Command::Rebuild(args) => runtime.block_on(rebuild::run(args)),
        cli::Command::Lag(args) => runtime.block_on(lag::run(args)),
        cli::Command::Footprint(args) => runtime.block_on(footprint::run(args)),
        cli::Command::Growth(args) => runtime.block_on(growth::run(args)),
        cli::Command::Isolation(args) => runtime.block_on(isolation::run(args)),
        cli::Command::Ingest(args) => runtime.block_on(ingest::run(args)),
        cli::Command::AnalyticsReads(args) => runtime.block_on(analytics_reads::run(args)),
        // Runs the others as child processes; needs no runtime of its own.
        cli::Command::All(args) => all::run(args),
    }
}
