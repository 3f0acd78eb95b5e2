//! Tally's Kafka wire format, shared by the producer (the relay) and every consumer (the
//! projector, other services).
//!
//! - [`topics`]: one topic per category group and [`topic_for`] a category;
//! - [`keys`]: partition keys that keep each aggregate's (or visitor's) events in order;
//! - [`headers`]: event id, type, global position and W3C trace context on every record;
//! - [`envelope`]: stored events as `tally.v1.EventEnvelope`, and watermarks;
//! - [`incoming`]: a consumed record parsed back, with a clear error for garbage;
//! - [`config`]: rdkafka client settings for an idempotent producer and a manual-commit
//!   consumer;
//! - [`admin`]: creating topics and counting their partitions.
//!
//! The format is specified in `docs/read-side.md`.
#![forbid(unsafe_code)]

pub mod admin;
pub mod config;
pub mod envelope;
mod error;
pub mod headers;
pub mod incoming;
pub mod keys;
pub mod topics;

pub use envelope::{WATERMARK_TYPE, encode, envelope, into_envelope, is_watermark, watermark};
pub use error::{AdminError, DecodeError};
pub use incoming::Incoming;
pub use keys::key_for;
pub use topics::{ANALYTICS_TOPIC, PROFILE_TOPIC, TOPICS, topic_for};

/// The client library, re-exported so every crate speaks to Kafka through the same version.
pub use rdkafka;
