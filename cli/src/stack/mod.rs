//! The local dev stack: `tally up`, `down`, `status`, `reset`, and the [`Stack`] launcher
//! they (and the end-to-end tests) share.

mod endpoints;
mod health;
mod kafka_replay;
mod launch;
mod ops;
pub mod seed;
mod services;
mod state;
mod up;

pub use endpoints::Endpoints;
pub use launch::{Stack, StackConfig, StackPorts, TOPIC_PARTITIONS};
pub use ops::{down, reset, status};
pub use services::{READ_DB, WRITE_DB};
pub use state::StateDir;
pub use up::{UpArgs, up};
