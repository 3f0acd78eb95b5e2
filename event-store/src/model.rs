//! The values that go into and come out of the store.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Why and on whose behalf an event was recorded; stored as JSON next to the
/// payload and carried into every envelope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMetadata {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub correlation_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub causation_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub command_id: String,
    /// W3C trace context of the request that caused the event.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub traceparent: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tracestate: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub actor: String,
}

/// An event to append; the store assigns version, position and time.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_id: Uuid,
    /// Full protobuf message name of the payload, e.g. `tally.v1.ProfileCreated`.
    pub event_type: String,
    pub schema_version: u32,
    pub payload: Vec<u8>,
    pub metadata: EventMetadata,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    pub global_position: u64,
    pub event_id: Uuid,
    pub stream_id: String,
    pub category: String,
    pub stream_version: u64,
    pub event_type: String,
    pub schema_version: u32,
    pub payload: Vec<u8>,
    pub metadata: EventMetadata,
    pub recorded_at: DateTime<Utc>,
}

/// What the writer believes the stream's version is (optimistic concurrency).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// No check (used only where the domain has no invariant per stream).
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must be exactly at this version (0 = does not exist).
    Exact(u64),
}

impl ExpectedVersion {
    pub(crate) fn admits(self, current: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => current == 0,
            ExpectedVersion::Exact(v) => v == current,
        }
    }
}

/// Whether a unique key is taken or given back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimAction {
    Acquire,
    Release,
}

/// A set-validation rule: `key` within `scope` belongs to at most one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniqueClaim {
    pub scope: String,
    pub key: String,
    pub action: ClaimAction,
}

/// One command's worth of events for one stream, decided together.
#[derive(Debug, Clone)]
pub struct AppendRequest {
    pub stream_id: String,
    pub category: String,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
    pub claims: Vec<UniqueClaim>,
    /// Client idempotency key: a repeat returns the first result.
    pub command_id: Option<String>,
    /// A digest of the command, so a reused id with another body is refused.
    pub fingerprint: Vec<u8>,
}

/// The outcome of a command: where its last event landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendResult {
    /// The stream the command wrote to. For a replayed command this is the
    /// first attempt's stream, which matters when the id was server-generated.
    pub stream_id: String,
    pub stream_version: u64,
    /// Position of the last event appended (use as `min_position`).
    pub global_position: u64,
    pub events_appended: u32,
    /// True when this is the stored result of an earlier identical command.
    pub replayed: bool,
    /// When the appending transaction ran (the events' `recorded_at`).
    pub recorded_at: DateTime<Utc>,
}
