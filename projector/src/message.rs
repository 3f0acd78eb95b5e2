//! What the projector consumes, whatever the source: an event envelope (or
//! bytes that failed to become one) plus where it came from.

use prost::Message as _;
use tally_event_store::RecordedEvent;
use tally_proto::v1;
use tally_streaming::into_envelope;

/// The topic name single-node mode records its offset under.
pub const ALL_TOPIC: &str = "$all";

/// Where a message was read: a Kafka partition and offset, or the event
/// store's global order (topic [`ALL_TOPIC`], partition 0, offset = position).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// The message body.
// Nearly every message is an envelope; boxing it would cost an allocation
// per message to save space only on the rare garbage.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Body {
    Envelope(v1::EventEnvelope),
    /// Bytes that are not an `EventEnvelope`; they go to dead letters as is.
    Undecodable {
        raw: Vec<u8>,
        reason: String,
    },
}

/// One consumed message.
#[derive(Debug, Clone)]
pub struct Message {
    pub source: Source,
    /// Transport headers (Kafka), kept for dead letters and tracing.
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Message {
    /// A message from the event store's global order.
    pub fn from_recorded(event: RecordedEvent) -> Self {
        let offset = event.global_position as i64;
        Message {
            source: Source { topic: ALL_TOPIC.to_owned(), partition: 0, offset },
            headers: Vec::new(),
            body: Body::Envelope(into_envelope(event)),
        }
    }

    /// A message from a Kafka record's value.
    pub fn from_bytes(source: Source, headers: Vec<(String, String)>, value: &[u8]) -> Self {
        let body = match v1::EventEnvelope::decode(value) {
            Ok(envelope) => Body::Envelope(envelope),
            Err(e) => Body::Undecodable { raw: value.to_vec(), reason: format!("not a tally.v1.EventEnvelope: {e}") },
        };
        Message { source, headers, body }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The event's global position, from the envelope or (for undecodable
    /// bytes) the `tally-global-position` header.
    pub fn position(&self) -> Option<u64> {
        match &self.body {
            Body::Envelope(e) => Some(e.global_position),
            Body::Undecodable { .. } => self.header("tally-global-position").and_then(|v| v.parse().ok()),
        }
    }

    pub fn event_type(&self) -> Option<&str> {
        match &self.body {
            Body::Envelope(e) => Some(&e.event_type),
            Body::Undecodable { .. } => self.header("tally-event-type"),
        }
    }

    /// The bytes to keep in a dead letter: what arrived, or the envelope
    /// re-encoded when the source handed us a decoded event.
    pub fn raw(&self) -> Vec<u8> {
        match &self.body {
            Body::Envelope(e) => e.encode_to_vec(),
            Body::Undecodable { raw, .. } => raw.clone(),
        }
    }

    /// The W3C trace context the event was written under: the Kafka header
    /// when present, else the envelope's metadata.
    pub fn trace_context(&self) -> tally_platform::propagation::TraceContext {
        let from_meta = match &self.body {
            Body::Envelope(e) => e.metadata.as_ref(),
            Body::Undecodable { .. } => None,
        };
        let traceparent = self
            .header("traceparent")
            .map(str::to_owned)
            .or_else(|| from_meta.map(|m| m.traceparent.clone()))
            .unwrap_or_default();
        let tracestate = self
            .header("tracestate")
            .map(str::to_owned)
            .or_else(|| from_meta.map(|m| m.tracestate.clone()))
            .unwrap_or_default();
        tally_platform::propagation::TraceContext { traceparent, tracestate }
    }
}
