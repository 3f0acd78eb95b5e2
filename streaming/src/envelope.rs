//! Stored events as `tally.v1.EventEnvelope` (the value of every record), and watermarks.

use chrono::Utc;
use prost::Message as _;
use tally_event_store::{EventMetadata, RecordedEvent};
use tally_proto::{convert::to_timestamp, v1};

/// The `event_type` of a watermark: "every event with position ≤ `global_position` that
/// belongs to this partition was published before this record". Consumers that only want
/// events skip it.
pub const WATERMARK_TYPE: &str = "tally.v1.Watermark";

/// The envelope of a stored event, copying its payload.
pub fn envelope(event: &RecordedEvent) -> v1::EventEnvelope {
    into_envelope(event.clone())
}

/// The envelope of a stored event; takes it by value so the payload moves.
pub fn into_envelope(event: RecordedEvent) -> v1::EventEnvelope {
    v1::EventEnvelope {
        event_id: event.event_id.hyphenated().to_string(),
        stream_id: event.stream_id,
        category: event.category,
        stream_version: event.stream_version,
        global_position: event.global_position,
        event_type: event.event_type,
        schema_version: event.schema_version,
        payload: event.payload,
        metadata: Some(metadata(event.metadata)),
        recorded_at: Some(to_timestamp(event.recorded_at)),
    }
}

fn metadata(m: EventMetadata) -> v1::EventMetadata {
    v1::EventMetadata {
        correlation_id: m.correlation_id,
        causation_id: m.causation_id,
        command_id: m.command_id,
        traceparent: m.traceparent,
        tracestate: m.tracestate,
        actor: m.actor,
    }
}

/// A watermark at `position`: no payload, no stream; `recorded_at` is when it was made, so
/// a consumer can tell how fresh its view of the relay is.
pub fn watermark(position: u64) -> v1::EventEnvelope {
    v1::EventEnvelope {
        global_position: position,
        event_type: WATERMARK_TYPE.to_owned(),
        schema_version: 1,
        recorded_at: Some(to_timestamp(Utc::now())),
        ..Default::default()
    }
}

pub fn is_watermark(envelope: &v1::EventEnvelope) -> bool {
    envelope.event_type == WATERMARK_TYPE
}

/// The record value: the envelope in protobuf binary encoding.
pub fn encode(envelope: &v1::EventEnvelope) -> Vec<u8> {
    envelope.encode_to_vec()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use uuid::Uuid;

    use super::*;

    #[test]
    fn every_field_is_carried_over_and_survives_encoding() {
        let id = Uuid::now_v7();
        let recorded_at = Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 5).unwrap();
        let event = RecordedEvent {
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
        };
        let env = envelope(&event);
        assert_eq!(env.event_id, id.to_string());
        assert_eq!((env.stream_id.as_str(), env.category.as_str()), ("profile-abc", "profile"));
        assert_eq!((env.stream_version, env.global_position, env.schema_version), (3, 42, 1));
        assert_eq!(env.event_type, "tally.v1.ProfileUpdated");
        assert_eq!(env.payload, [1, 2, 3]);
        let m = env.metadata.clone().unwrap();
        assert_eq!(
            [m.correlation_id, m.causation_id, m.command_id, m.tracestate, m.actor],
            ["corr", "cause", "cmd", "k=v", "profile-x"]
        );
        assert!(m.traceparent.starts_with("00-0af7"));
        assert_eq!(env.recorded_at.unwrap().seconds, recorded_at.timestamp());
        assert_eq!(v1::EventEnvelope::decode(encode(&env).as_slice()).unwrap(), env);
        assert!(!is_watermark(&env));
    }

    #[test]
    fn a_watermark_carries_only_its_position() {
        let w = watermark(17);
        assert!(is_watermark(&w));
        assert_eq!(w.global_position, 17);
        assert!(w.stream_id.is_empty() && w.payload.is_empty() && w.event_id.is_empty());
    }
}
