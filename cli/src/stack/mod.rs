//! The local dev stack: `tally up`, `down`, `status`, `reset`.

mod ops;
mod seed;
mod services;
mod state;
mod up;

pub use ops::{down, reset, status};
pub use state::StateDir;
pub use up::{UpArgs, up};
