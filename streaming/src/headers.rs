//! Record headers: what a consumer (or an operator with a console consumer) can learn
//! about a record without decoding its value, and the W3C trace context that links the
//! consumer's work to the request that caused the event.

use rdkafka::message::{Header, Headers, OwnedHeaders};
use tally_event_store::RecordedEvent;

use crate::envelope::WATERMARK_TYPE;

pub const EVENT_ID: &str = "tally-event-id";
pub const EVENT_TYPE: &str = "tally-event-type";
/// Decimal.
pub const GLOBAL_POSITION: &str = "tally-global-position";
pub const TRACEPARENT: &str = "traceparent";
pub const TRACESTATE: &str = "tracestate";

/// The headers Tally puts on a record; absent ones are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordHeaders {
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub global_position: Option<u64>,
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
}

/// A header that is present but unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("header {name}: {reason}")]
pub struct HeaderError {
    pub name: &'static str,
    pub reason: String,
}

impl RecordHeaders {
    /// The headers of a stored event, carrying the trace context stored with it.
    pub fn for_event(event: &RecordedEvent) -> Self {
        Self {
            event_id: Some(event.event_id.hyphenated().to_string()),
            event_type: Some(event.event_type.clone()),
            global_position: Some(event.global_position),
            traceparent: non_empty(&event.metadata.traceparent),
            tracestate: non_empty(&event.metadata.tracestate),
        }
    }

    /// The headers of a watermark at `position`.
    pub fn for_watermark(position: u64) -> Self {
        Self { event_type: Some(WATERMARK_TYPE.to_owned()), global_position: Some(position), ..Self::default() }
    }

    /// Replaces the trace context (the relay sends its produce span's context, a child of
    /// the stored one, when tracing is exported). An empty `traceparent` keeps the old one.
    pub fn with_trace(mut self, traceparent: &str, tracestate: &str) -> Self {
        if !traceparent.is_empty() {
            self.traceparent = Some(traceparent.to_owned());
            self.tracestate = non_empty(tracestate);
        }
        self
    }

    /// The rdkafka form, in a fixed order.
    pub fn to_kafka(&self) -> OwnedHeaders {
        let position = self.global_position.map(|p| p.to_string());
        let pairs = [
            (EVENT_ID, self.event_id.as_deref()),
            (EVENT_TYPE, self.event_type.as_deref()),
            (GLOBAL_POSITION, position.as_deref()),
            (TRACEPARENT, self.traceparent.as_deref()),
            (TRACESTATE, self.tracestate.as_deref()),
        ];
        pairs.into_iter().fold(OwnedHeaders::new_with_capacity(5), |headers, (key, value)| match value {
            Some(value) => headers.insert(Header { key, value: Some(value) }),
            None => headers,
        })
    }

    /// Reads Tally's headers from a consumed record; other headers are ignored and the
    /// first occurrence of a repeated one wins.
    pub fn parse(headers: &impl Headers) -> Result<Self, HeaderError> {
        let mut parsed = Self::default();
        for header in headers.iter() {
            let slot = match header.key {
                EVENT_ID => &mut parsed.event_id,
                EVENT_TYPE => &mut parsed.event_type,
                GLOBAL_POSITION => {
                    if parsed.global_position.is_none() {
                        parsed.global_position = Some(parse_position(text(GLOBAL_POSITION, header.value)?)?);
                    }
                    continue;
                }
                TRACEPARENT => &mut parsed.traceparent,
                TRACESTATE => &mut parsed.tracestate,
                _ => continue,
            };
            if slot.is_none() {
                let name = known_name(header.key);
                *slot = Some(text(name, header.value)?.to_owned());
            }
        }
        Ok(parsed)
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// The `'static` constant for a header name we matched on.
fn known_name(key: &str) -> &'static str {
    [EVENT_ID, EVENT_TYPE, GLOBAL_POSITION, TRACEPARENT, TRACESTATE].into_iter().find(|n| *n == key).unwrap_or("?")
}

fn text<'a>(name: &'static str, value: Option<&'a [u8]>) -> Result<&'a str, HeaderError> {
    let bytes = value.ok_or_else(|| HeaderError { name, reason: "has no value".to_owned() })?;
    std::str::from_utf8(bytes).map_err(|_| HeaderError { name, reason: "is not UTF-8".to_owned() })
}

fn parse_position(value: &str) -> Result<u64, HeaderError> {
    value
        .parse()
        .map_err(|_| HeaderError { name: GLOBAL_POSITION, reason: format!("{value:?} is not a decimal position") })
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use tally_event_store::EventMetadata;
    use uuid::Uuid;

    use super::*;

    fn event(traceparent: &str) -> RecordedEvent {
        RecordedEvent {
            global_position: 7,
            event_id: Uuid::now_v7(),
            stream_id: "profile-a".into(),
            category: "profile".into(),
            stream_version: 1,
            event_type: "tally.v1.ProfileCreated".into(),
            schema_version: 1,
            payload: vec![],
            metadata: EventMetadata { traceparent: traceparent.into(), ..Default::default() },
            recorded_at: Utc::now(),
        }
    }

    #[test]
    fn event_headers_round_trip_through_kafka_headers() {
        let tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let e = event(tp);
        let headers = RecordHeaders::for_event(&e);
        assert_eq!(headers.global_position, Some(7));
        assert_eq!(headers.traceparent.as_deref(), Some(tp));
        assert_eq!(headers.tracestate, None, "empty stored tracestate is not sent");
        assert_eq!(RecordHeaders::parse(&headers.to_kafka()).unwrap(), headers);
        assert_eq!(headers.to_kafka().count(), 4);
    }

    #[test]
    fn a_produce_span_context_replaces_the_stored_one_unless_empty() {
        let stored = RecordHeaders::for_event(&event("00-aa-bb-01"));
        assert_eq!(stored.clone().with_trace("", "x").traceparent.as_deref(), Some("00-aa-bb-01"));
        let replaced = stored.with_trace("00-cc-dd-01", "k=v");
        assert_eq!(
            (replaced.traceparent.as_deref(), replaced.tracestate.as_deref()),
            (Some("00-cc-dd-01"), Some("k=v"))
        );
    }

    #[test]
    fn watermark_headers_have_type_and_position_only() {
        let w = RecordHeaders::for_watermark(99);
        assert_eq!(w.event_type.as_deref(), Some(WATERMARK_TYPE));
        assert_eq!((w.global_position, w.event_id.as_ref(), w.traceparent.as_ref()), (Some(99), None, None));
    }

    #[test]
    fn bad_headers_are_named() {
        let bad_position = OwnedHeaders::new().insert(Header { key: GLOBAL_POSITION, value: Some("12x") });
        let err = RecordHeaders::parse(&bad_position).unwrap_err();
        assert_eq!(err.name, GLOBAL_POSITION);
        assert!(err.to_string().contains("\"12x\" is not a decimal position"), "{err}");

        let not_utf8 = OwnedHeaders::new().insert(Header { key: EVENT_TYPE, value: Some(&[0xffu8, 0xfe][..]) });
        assert_eq!(RecordHeaders::parse(&not_utf8).unwrap_err().name, EVENT_TYPE);

        let null = OwnedHeaders::new().insert::<str>(Header { key: TRACEPARENT, value: None });
        assert_eq!(RecordHeaders::parse(&null).unwrap_err().to_string(), "header traceparent: has no value");

        let foreign = OwnedHeaders::new().insert(Header { key: "x-other", value: Some(&[0xffu8][..]) });
        assert_eq!(RecordHeaders::parse(&foreign).unwrap(), RecordHeaders::default(), "foreign headers are ignored");
    }
}
