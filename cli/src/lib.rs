//! The library behind the `tally` command: the local stack launcher (`tally up` and the
//! end-to-end tests start the very same [`stack::Stack`]), its state directory, demo data,
//! a few gRPC calls for trying the API without extra tools, and the analytics backfill
//! (`tally import`).
#![forbid(unsafe_code)]

pub mod grpc;
pub mod import;
pub mod stack;
pub mod ui;

use std::path::PathBuf;

/// The state directory option shared by `up`, `down`, `status` and `reset`.
#[derive(Debug, clap::Args)]
pub struct StateArgs {
    /// Where the stack keeps its databases, logs and pids [default: <workspace>/.tally].
    #[arg(long, env = "TALLY_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}
