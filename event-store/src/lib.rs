//! The event store on the write database.
//!
//! Everything Tally knows is an event appended here; every read model is
//! derived from it. The store offers:
//!
//! - [`Appender`]: batched appends (concurrent commands share one
//!   transaction) with optimistic concurrency per stream, idempotent command
//!   ids and set-validation through unique keys — all decided under one lock,
//!   so many command pods stay consistent.
//! - [`reader`]: streams by id, and the **gap-free** global order: positions
//!   are assigned in commit order, so "position > last" never skips a late
//!   commit nor repeats one.
//! - [`tail`]: following the global order live, woken by `LISTEN/NOTIFY`.
//! - [`AnalyticsAppender`]: group commit for analytics events, idempotent
//!   per client event id; [`salts`]: the daily visitor-hash salts.
//! - [`migrate`]: the schema, owned and applied by the project.
//!
//! The store is domain-agnostic: payloads are opaque bytes (protobuf
//! messages defined in `proto/`).
#![forbid(unsafe_code)]

mod analytics;
mod appender;
mod batch;
mod error;
pub mod migrate;
mod model;
mod plan;
mod presumed;
pub mod reader;
pub mod salts;
pub mod tail;

#[cfg(test)]
mod gap_free_tests;
#[cfg(test)]
mod presumed_tests;

pub use analytics::{AnalyticsAppender, AnalyticsAppenderConfig, AnalyticsBatch, AnalyticsEvent, AnalyticsOutcome};
pub use appender::{Appender, AppenderConfig};
pub use error::{AppendError, StoreError};
pub use model::{
    AppendRequest, AppendResult, ClaimAction, EventMetadata, ExpectedVersion, NewEvent, RecordedEvent, UniqueClaim,
};

/// The channel the store notifies (with the new head position) after each
/// committed batch, so tailers wake up instead of polling.
pub const NOTIFY_CHANNEL: &str = "tally_events";

/// The category (and `events` partition) of analytics events.
pub const ANALYTICS_CATEGORY: &str = "analytics";
