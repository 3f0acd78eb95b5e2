//! A consumed record, parsed back into what the relay published.

use prost::Message as _;
use rdkafka::Message;
use tally_proto::v1;

use crate::envelope::is_watermark;
use crate::error::{DecodeError, DecodeFailure};
use crate::headers::RecordHeaders;

/// A Tally record as a consumer sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    pub envelope: v1::EventEnvelope,
    /// The event's global position (for a watermark: the position it vouches for).
    pub position: u64,
    pub offset: i64,
    pub partition: i32,
    pub topic: String,
    /// The trace context to continue: the record's header, else the one stored with the
    /// event.
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
}

impl Incoming {
    /// Parses a consumed record; garbage (no value, not an envelope, inconsistent headers)
    /// is an error naming the record, for a dead-letter entry.
    pub fn parse(message: &impl Message) -> Result<Incoming, DecodeError> {
        let fail = |failure: DecodeFailure| DecodeError {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
            failure,
        };
        let headers = match message.headers() {
            Some(h) => RecordHeaders::parse(h).map_err(|e| fail(e.into()))?,
            None => RecordHeaders::default(),
        };
        let value = message.payload().ok_or_else(|| fail(DecodeFailure::NoValue))?;
        let envelope = decode_envelope(value).map_err(fail)?;
        if let Some(header) = headers.global_position
            && header != envelope.global_position
        {
            return Err(fail(DecodeFailure::PositionMismatch { header, envelope: envelope.global_position }));
        }
        let stored = envelope.metadata.as_ref();
        let traceparent =
            headers.traceparent.or_else(|| stored.map(|m| m.traceparent.clone()).filter(|t| !t.is_empty()));
        let tracestate = headers.tracestate.or_else(|| stored.map(|m| m.tracestate.clone()).filter(|t| !t.is_empty()));
        Ok(Incoming {
            position: envelope.global_position,
            envelope,
            offset: message.offset(),
            partition: message.partition(),
            topic: message.topic().to_owned(),
            traceparent,
            tracestate,
        })
    }

    pub fn is_watermark(&self) -> bool {
        is_watermark(&self.envelope)
    }
}

/// An envelope that at least says what it is and where it belongs. Protobuf decodes
/// almost any short byte string (even an empty one) into *some* message, so the required
/// fields are what tells garbage apart.
fn decode_envelope(value: &[u8]) -> Result<v1::EventEnvelope, DecodeFailure> {
    let envelope = v1::EventEnvelope::decode(value)?;
    if envelope.event_type.is_empty() {
        return Err(DecodeFailure::Field { field: "event_type", reason: "is empty" });
    }
    if envelope.global_position == 0 {
        return Err(DecodeFailure::Field { field: "global_position", reason: "is 0 (positions start at 1)" });
    }
    if !is_watermark(&envelope) && envelope.event_id.is_empty() {
        return Err(DecodeFailure::Field { field: "event_id", reason: "is empty" });
    }
    Ok(envelope)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use rdkafka::Timestamp;
    use rdkafka::message::{Header, OwnedHeaders, OwnedMessage};
    use tally_event_store::{EventMetadata, RecordedEvent};
    use uuid::Uuid;

    use super::*;
    use crate::{encode, envelope, watermark};

    fn record(value: Option<Vec<u8>>, headers: Option<OwnedHeaders>) -> OwnedMessage {
        OwnedMessage::new(value, None, "tally.profile.v1".into(), Timestamp::NotAvailable, 2, 17, headers)
    }

    fn stored(traceparent: &str) -> RecordedEvent {
        RecordedEvent {
            global_position: 5,
            event_id: Uuid::now_v7(),
            stream_id: "profile-a".into(),
            category: "profile".into(),
            stream_version: 1,
            event_type: "tally.v1.ProfileCreated".into(),
            schema_version: 1,
            payload: vec![1],
            metadata: EventMetadata { traceparent: traceparent.into(), ..Default::default() },
            recorded_at: Utc::now(),
        }
    }

    #[test]
    fn a_published_event_parses_back() {
        let event = stored("00-stored-01");
        let headers = RecordHeaders::for_event(&event).with_trace("00-produce-01", "").to_kafka();
        let incoming = Incoming::parse(&record(Some(encode(&envelope(&event))), Some(headers))).unwrap();
        assert_eq!(incoming.envelope, envelope(&event));
        assert_eq!((incoming.position, incoming.partition, incoming.offset), (5, 2, 17));
        assert_eq!(incoming.topic, "tally.profile.v1");
        assert_eq!(incoming.traceparent.as_deref(), Some("00-produce-01"), "the header wins");
        assert!(!incoming.is_watermark());

        let without_headers = Incoming::parse(&record(Some(encode(&envelope(&event))), None)).unwrap();
        assert_eq!(without_headers.traceparent.as_deref(), Some("00-stored-01"), "falls back to the envelope");
    }

    #[test]
    fn a_watermark_parses_back() {
        let headers = RecordHeaders::for_watermark(9).to_kafka();
        let incoming = Incoming::parse(&record(Some(encode(&watermark(9))), Some(headers))).unwrap();
        assert!(incoming.is_watermark());
        assert_eq!((incoming.position, incoming.traceparent), (9, None));
    }

    #[test]
    fn garbage_is_a_clear_error_naming_the_record() {
        let err = Incoming::parse(&record(None, None)).unwrap_err().to_string();
        assert_eq!(err, "record tally.profile.v1/2@17: has no value (expected a tally.v1.EventEnvelope)");

        let err = Incoming::parse(&record(Some(vec![0xff, 0xff, 0xff]), None)).unwrap_err().to_string();
        assert!(err.contains("value is not a tally.v1.EventEnvelope"), "{err}");

        let err = Incoming::parse(&record(Some(Vec::new()), None)).unwrap_err().to_string();
        assert!(err.ends_with("envelope field event_type is empty"), "{err}");

        let event = stored("");
        let lying = RecordHeaders { global_position: Some(6), ..RecordHeaders::for_event(&event) }.to_kafka();
        let err = Incoming::parse(&record(Some(encode(&envelope(&event))), Some(lying))).unwrap_err().to_string();
        assert!(err.contains("tally-global-position=6 disagrees with the envelope's global_position=5"), "{err}");

        let bad_header = OwnedHeaders::new().insert(Header { key: "tally-global-position", value: Some("five") });
        let err = Incoming::parse(&record(Some(encode(&envelope(&event))), Some(bad_header))).unwrap_err();
        assert!(err.to_string().contains("header tally-global-position: \"five\" is not a decimal position"), "{err}");
    }
}
