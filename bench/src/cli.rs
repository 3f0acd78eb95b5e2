//! Command-line interface.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "tally-bench", version, about = "Benchmarks Tally against a same-run pgbench baseline")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Single-event profile commands (UpdateProfile, ~10% CreateProfile) vs. pgbench one-row
    /// INSERTs, on one durable throw-away Postgres, at each concurrency.
    Commands(CommandsArgs),
    /// GetProfile over gRPC against the real query-service on a seeded read DB vs. a
    /// `pgbench -S`-style primary-key SELECT on the same table, at each concurrency.
    Reads(crate::reads::ReadsArgs),
    /// `projector rebuild profiles` over N events appended to the event store, with a reader
    /// querying the query-service throughout.
    Rebuild(crate::rebuild::RebuildArgs),
    /// Projection lag: commands at a fixed rate through command-service → relay → Tansu →
    /// projector, each followed by a GetProfile carrying its position.
    Lag(crate::lag::LagArgs),
    /// Resident memory (VmRSS, VmHWM) of command-service, projector and query-service, idle
    /// after start-up and at peak under commands + reads + analytics ingest.
    Footprint(crate::footprint::FootprintArgs),
    /// Append p99 and GetProfile p99 as the event store grows (seeded by COPY, projected by
    /// `projector rebuild`) through sizes such as 1M, 10M, 50M events.
    Growth(crate::growth::GrowthArgs),
    /// GetProfile p50/p99 at a fixed open-loop rate, idle and next to commands at 80% of their
    /// maximum, vs. a single-database design (reads and writes on one table) in the same run.
    Isolation(crate::isolation::IsolationArgs),
    /// Analytics ingest end to end: batches of events from many clients through
    /// command-service → relay → Tansu → projector until `aggregate` counts them, next to a
    /// raw `COPY` of the same rows.
    Ingest(crate::ingest::IngestArgs),
    /// `aggregate` + `breakdown(page)` over 30 days of a big site (10 M pageviews by default)
    /// through the query-service vs. the naive GROUP BY in Postgres and DuckDB on raw rows.
    AnalyticsReads(crate::analytics_reads::AnalyticsReadsArgs),
    /// Every workload in turn (each in its own process), then one summary of every goal;
    /// the reports go to `--out-dir`.
    All(crate::all::AllArgs),
}

/// Options every read-side workload shares.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// Also write the full results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,

    /// Quick self-check for `make test`: seconds, tiny sizes; exits non-zero on any error or
    /// zero throughput. Overrides the sizes and durations.
    #[arg(long)]
    pub smoke: bool,

    /// Cargo profile whose binaries (command-service, projector, query-service) are
    /// benchmarked; `debug` exists for the smoke tests, whose numbers mean nothing.
    #[arg(long, env = "TALLY_BENCH_PROFILE", default_value = "release")]
    pub profile: String,
}

/// How the load generator talks to the command-service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// gRPC over one HTTP/2 connection per simulated client.
    Grpc,
    /// REST/JSON over one keep-alive HTTP/1.1 connection per simulated client.
    Rest,
}

impl Transport {
    /// The name on the command line, in reports and in the JSON (`grpc`, `rest`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::Rest => "rest",
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct CommandsArgs {
    /// Measured seconds per concurrency level and side (after the warm-up).
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,

    /// Concurrency levels (simulated clients / pgbench clients), comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    pub concurrency: Vec<u32>,

    /// Also write the full results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,

    /// Quick self-check for `make test`: 1-second runs at concurrency 1 and 4; exits non-zero
    /// on any error or zero throughput. Overrides duration, concurrency, warm-up and seeding.
    #[arg(long)]
    pub smoke: bool,

    #[arg(long, value_enum, default_value_t = Transport::Grpc)]
    pub transport: Transport,

    /// Unmeasured run-in before each measurement (connections, caches, JIT-free steady state).
    #[arg(long, default_value_t = 1000)]
    pub warmup_ms: u64,

    /// Cargo profile whose `command-service` is benchmarked. Release is what production runs;
    /// `debug` exists for the smoke test, whose numbers mean nothing.
    #[arg(long, env = "TALLY_BENCH_PROFILE", default_value = "release")]
    pub profile: String,

    /// Explicit path of the `command-service` binary (overrides `--profile`).
    #[arg(long, env = "TALLY_BENCH_COMMAND_SERVICE")]
    pub command_service: Option<PathBuf>,

    /// The pgbench program.
    #[arg(long, env = "TALLY_BENCH_PGBENCH", default_value = "/usr/lib/postgresql/15/bin/pgbench")]
    pub pgbench: PathBuf,

    /// Profiles each simulated client owns and updates in turn; each client has its own, so
    /// concurrency never manufactures version conflicts.
    #[arg(long, default_value_t = 2)]
    pub profiles_per_client: u32,

    /// Profiles created before the first measurement and never touched again, so the event
    /// store is not nearly empty while measured.
    #[arg(long, default_value_t = 5000)]
    pub seed_profiles: u32,

    /// Skip the peer baseline (the same Profile aggregate on cqrs-es + postgres-es, in
    /// process, on the same Postgres), which otherwise runs after Tally at every level.
    #[arg(long)]
    pub no_peer: bool,

    /// Load `pg_stat_statements` and print, after each Tally measurement, the statements the
    /// server spent its time on (for profiling a missed goal; adds a little server overhead).
    #[arg(long)]
    pub pg_stat_statements: bool,

    /// Every Nth command of a client is a CreateProfile (10 = ~10% creates); 0 = updates only.
    #[arg(long, default_value_t = 10)]
    pub create_every: u64,

    /// Hard cap on commands per client per run, so a loop is bounded even if time is not.
    #[arg(long, default_value_t = 2_000_000)]
    pub max_ops_per_client: u64,

    /// A command slower than this counts as an error (and the loop moves on).
    #[arg(long, default_value_t = 10_000)]
    pub request_timeout_ms: u64,

    /// `TALLY_DATABASE__POOL_SIZE` for the service (its default when absent).
    #[arg(long)]
    pub service_pool_size: Option<u32>,
}

/// The effective plan after `--smoke` overrides.
#[derive(Debug, Clone)]
pub struct Plan {
    pub args: CommandsArgs,
    pub duration: Duration,
    pub warmup: Duration,
    pub concurrency: Vec<u32>,
    pub seed_profiles: u32,
}

impl CommandsArgs {
    pub fn plan(&self) -> anyhow::Result<Plan> {
        let (duration, warmup, concurrency, seed_profiles) = if self.smoke {
            // Short enough for every `make test`, long enough to cross several group commits.
            (Duration::from_secs(1), Duration::from_millis(300), vec![1, 4], 50)
        } else {
            (
                Duration::from_secs(self.duration_secs),
                Duration::from_millis(self.warmup_ms),
                self.concurrency.clone(),
                self.seed_profiles,
            )
        };
        anyhow::ensure!(!duration.is_zero(), "--duration-secs must be at least 1");
        anyhow::ensure!(
            !concurrency.is_empty() && concurrency.iter().all(|&c| (1..=1000).contains(&c)),
            "--concurrency must list levels between 1 and 1000"
        );
        anyhow::ensure!(self.profiles_per_client >= 1, "--profiles-per-client must be at least 1");
        anyhow::ensure!(self.max_ops_per_client >= 1, "--max-ops-per-client must be at least 1");
        Ok(Plan { args: self.clone(), duration, warmup, concurrency, seed_profiles })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transport_has_one_name_in_text_and_json() {
        for t in [Transport::Grpc, Transport::Rest] {
            assert_eq!(serde_json::to_value(t).unwrap(), t.name());
            assert_eq!(Transport::from_str(t.name(), false).unwrap(), t);
        }
    }
}
