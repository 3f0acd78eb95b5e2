//! Tally's projector: builds the read DB's denormalised tables from the event
//! stream — Kafka topics, or the event store itself in single-node mode — and
//! rebuilds them into a new version while the old one keeps serving.
//!
//! - [`migrate`]: the read DB's schema (the query-service's tests apply it too).
//! - [`batch`]: one micro-batch = one read-DB transaction holding the rows,
//!   the dead letters and the offsets it produced.
//! - [`fold`] / [`store`] / [`project`]: the projection's rules in memory,
//!   and the few set-based statements that load and write a batch's rows.
//! - [`single_node`], [`kafka`]: the two sources.
//! - [`rebuild`]: a new version from the event store, verified, then switched.
//! - [`dead_letters`], [`retry`]: poison messages and their operator tools.
#![forbid(unsafe_code)]

pub mod analytics;
pub mod batch;
pub mod dead_letters;
pub mod decode;
mod error;
pub mod fold;
pub mod kafka;
pub mod message;
pub mod migrate;
pub mod offsets;
pub mod project;
pub mod rebuild;
pub mod retry;
pub mod rows;
pub mod schema;
pub mod settings;
pub mod single_node;
pub mod startup;
pub mod store;

pub use error::{ProjectorError, is_transient};
pub use settings::Settings;
pub use startup::App;
