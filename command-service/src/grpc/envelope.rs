//! Stored events in their wire form, `tally.v1.EventEnvelope`.
//!
//! The event store stays proto-free, so the conversion lives on the proto
//! side of the edge. The Kafka relay publishes the same envelope; once the
//! `streaming/` crate exists it should own this conversion and both callers
//! use it from there.

use tally_event_store::{EventMetadata, RecordedEvent};
use tally_proto::{convert::to_timestamp, v1};

/// The envelope of a stored event. Takes the event by value so the payload
/// moves instead of being copied.
pub fn to_envelope(event: RecordedEvent) -> v1::EventEnvelope {
    v1::EventEnvelope {
        event_id: event.event_id.hyphenated().to_string(),
        stream_id: event.stream_id,
        category: event.category,
        stream_version: event.stream_version,
        global_position: event.global_position,
        event_type: event.event_type,
        schema_version: event.schema_version,
        payload: event.payload,
        metadata: Some(to_metadata(event.metadata)),
        recorded_at: Some(to_timestamp(event.recorded_at)),
    }
}

fn to_metadata(m: EventMetadata) -> v1::EventMetadata {
    v1::EventMetadata {
        correlation_id: m.correlation_id,
        causation_id: m.causation_id,
        command_id: m.command_id,
        traceparent: m.traceparent,
        tracestate: m.tracestate,
        actor: m.actor,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use uuid::Uuid;

    use super::*;

    #[test]
    fn every_field_is_carried_over() {
        let id = Uuid::now_v7();
        let recorded_at = Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 5).unwrap();
        let envelope = to_envelope(RecordedEvent {
            global_position: 42,
            event_id: id,
            stream_id: "profile-abc".into(),
            category: "profile".into(),
            stream_version: 3,
            event_type: "tally.v1.ProfileUpdated".into(),
            schema_version: 1,
            payload: vec![1, 2, 3],
            metadata: EventMetadata {
                correlation_id: "corr".into(),
                causation_id: "cause".into(),
                command_id: "cmd".into(),
                traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
                tracestate: "k=v".into(),
                actor: "profile-x".into(),
            },
            recorded_at,
        });
        assert_eq!(envelope.event_id, id.to_string());
        assert_eq!((envelope.stream_id.as_str(), envelope.category.as_str()), ("profile-abc", "profile"));
        assert_eq!((envelope.stream_version, envelope.global_position, envelope.schema_version), (3, 42, 1));
        assert_eq!(envelope.event_type, "tally.v1.ProfileUpdated");
        assert_eq!(envelope.payload, [1, 2, 3]);
        let m = envelope.metadata.unwrap();
        assert_eq!(
            [m.correlation_id, m.causation_id, m.command_id, m.tracestate, m.actor],
            ["corr", "cause", "cmd", "k=v", "profile-x"]
        );
        assert!(m.traceparent.starts_with("00-0af7"));
        assert_eq!(envelope.recorded_at.unwrap().seconds, recorded_at.timestamp());
    }
}
