//! Events in JSON: `tally.v1.EventEnvelope` field for field, with the
//! payload as base64 and, for known types, decoded as `data`.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tally_event_store::RecordedEvent;
use tally_proto::v1;
use utoipa::ToSchema;

use super::event_data;
use tally_streaming::into_envelope;

/// A stored event (`tally.v1.EventEnvelope`).
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub event_id: String,
    /// `<category>-<id>`, e.g. `profile-0190…`.
    pub stream_id: String,
    pub category: String,
    /// Position in the stream, from 1, without gaps.
    pub stream_version: u64,
    /// Position in the gap-free global order, from 1; resume after it.
    pub global_position: u64,
    /// Full protobuf name of the payload, e.g. `tally.v1.ProfileCreated`.
    pub event_type: String,
    pub schema_version: u32,
    /// The protobuf-encoded payload, standard base64.
    pub payload_base64: String,
    /// The payload's fields (proto field names), for known event types only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
    pub metadata: MetadataView,
    /// Commit time (UTC).
    pub recorded_at: Option<DateTime<Utc>>,
}

/// Causality and tracing (`tally.v1.EventMetadata`).
#[derive(Debug, Serialize, ToSchema)]
pub struct MetadataView {
    pub correlation_id: String,
    pub causation_id: String,
    pub command_id: String,
    pub traceparent: String,
    pub tracestate: String,
    pub actor: String,
}

impl From<v1::EventEnvelope> for EventView {
    fn from(e: v1::EventEnvelope) -> Self {
        let m = e.metadata.unwrap_or_default();
        EventView {
            data: event_data::data(&e.event_type, e.schema_version, &e.payload),
            payload_base64: base64::engine::general_purpose::STANDARD.encode(&e.payload),
            recorded_at: e.recorded_at.as_ref().and_then(|t| tally_proto::convert::from_timestamp(t).ok()),
            event_id: e.event_id,
            stream_id: e.stream_id,
            category: e.category,
            stream_version: e.stream_version,
            global_position: e.global_position,
            event_type: e.event_type,
            schema_version: e.schema_version,
            metadata: MetadataView {
                correlation_id: m.correlation_id,
                causation_id: m.causation_id,
                command_id: m.command_id,
                traceparent: m.traceparent,
                tracestate: m.tracestate,
                actor: m.actor,
            },
        }
    }
}

impl From<RecordedEvent> for EventView {
    fn from(e: RecordedEvent) -> Self {
        EventView::from(into_envelope(e))
    }
}

/// A page of the global order (`ReadAllResponse`).
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<EventView>,
    /// Pass as `after` for the next page. With filters it can be past the
    /// last returned event: the events in between did not match.
    pub next_after: u64,
    /// The head of the global order when the page was read; the reader is
    /// caught up when `next_after` reaches it.
    pub head_position: u64,
}

/// A page of one stream (`ReadStreamResponse`).
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamEventPage {
    pub events: Vec<EventView>,
    /// The page reaches the current end of the stream.
    pub end_of_stream: bool,
    /// Pass as `from_version` for the next page.
    pub next_version: u64,
}

/// The line / SSE event that ends the catch-up phase of a live stream.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaughtUpView {
    /// Every matching event up to this position has been sent.
    pub head_position: u64,
}
