//! Turning an `AnalyticsEventRecorded` envelope into a sessionisation hit.
//! As for profiles, only what placing the event needs is checked: events are
//! facts, and a validation rule tightened later must not make history
//! unprojectable.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use tally_domain::sessions::{Hit, HitKind, SessionAttributes};
use tally_proto::{
    convert::{SCHEMA_VERSION, event_types::ANALYTICS_EVENT_RECORDED, from_timestamp},
    v1,
};
use uuid::Uuid;

use crate::decode::DecodeError;

/// A decoded analytics event.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyticsEvent {
    pub position: i64,
    pub site_id: Uuid,
    pub visitor_id: String,
    pub hit: Hit,
    pub props: BTreeMap<String, String>,
}

impl AnalyticsEvent {
    /// The visitor-day whose state the event moves.
    pub fn key(&self) -> (Uuid, NaiveDate, String) {
        (self.site_id, self.hit.local_date, self.visitor_id.clone())
    }
}

/// Whether an envelope is for this projection.
pub fn is_analytics(e: &v1::EventEnvelope) -> bool {
    e.event_type == ANALYTICS_EVENT_RECORDED
}

fn invalid(field: &'static str, problem: impl Into<String>) -> DecodeError {
    DecodeError::Invalid { event_type: ANALYTICS_EVENT_RECORDED.to_owned(), field, problem: problem.into() }
}

/// Decodes one `tally.v1.AnalyticsEventRecorded` envelope.
pub fn decode(e: &v1::EventEnvelope) -> Result<AnalyticsEvent, DecodeError> {
    use prost::Message as _;
    if e.schema_version != SCHEMA_VERSION {
        return Err(DecodeError::SchemaVersion(e.event_type.clone(), e.schema_version));
    }
    let p = v1::AnalyticsEventRecorded::decode(e.payload.as_slice())
        .map_err(|err| DecodeError::Malformed(e.event_type.clone(), err.to_string()))?;
    let site_id =
        Uuid::parse_str(&p.site_id).map_err(|_| invalid("site_id", format!("must be a UUID, got {:?}", p.site_id)))?;
    if e.stream_id != format!("analytics-{}", site_id.hyphenated()) {
        return Err(invalid("site_id", format!("{site_id} does not belong to stream {:?}", e.stream_id)));
    }
    if p.visitor_id.is_empty() {
        return Err(invalid("visitor_id", "missing"));
    }
    if p.name.is_empty() {
        return Err(invalid("name", "missing"));
    }
    let at = p
        .timestamp
        .as_ref()
        .ok_or_else(|| invalid("timestamp", "missing"))
        .and_then(|ts| from_timestamp(ts).map_err(|err| invalid("timestamp", err.to_string())))?;
    let local_date = NaiveDate::parse_from_str(&p.local_date, "%Y-%m-%d")
        .map_err(|_| invalid("local_date", format!("must be YYYY-MM-DD, got {:?}", p.local_date)))?;
    // Real offsets are within ±18 h (what ISO 8601 and chrono allow).
    if p.utc_offset_seconds.abs() > 18 * 3600 {
        return Err(invalid("utc_offset_seconds", format!("{} is beyond ±18 h", p.utc_offset_seconds)));
    }
    let position = i64::try_from(e.global_position)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| invalid("global_position", format!("{} is out of range", e.global_position)))?;
    let kind = if p.name == "pageview" {
        HitKind::Pageview
    } else {
        // Schema v1 has no non-interactive marker: every custom event engages.
        HitKind::Custom { name: p.name, interactive: true }
    };
    let attributes = SessionAttributes {
        source: p.referrer_source,
        referrer: p.referrer,
        utm_source: p.utm_source,
        utm_medium: p.utm_medium,
        utm_campaign: p.utm_campaign,
        utm_content: p.utm_content,
        utm_term: p.utm_term,
        device: p.device,
        browser: p.browser,
        os: p.os,
        country: p.country_code,
    };
    Ok(AnalyticsEvent {
        position,
        site_id,
        visitor_id: p.visitor_id,
        hit: Hit { at, local_date, utc_offset_seconds: p.utc_offset_seconds, kind, pathname: p.pathname, attributes },
        props: p.props.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(site: Uuid, p: &v1::AnalyticsEventRecorded) -> v1::EventEnvelope {
        use prost::Message as _;
        v1::EventEnvelope {
            global_position: 9,
            stream_id: format!("analytics-{site}"),
            category: "analytics".into(),
            event_type: ANALYTICS_EVENT_RECORDED.into(),
            schema_version: 1,
            payload: p.encode_to_vec(),
            ..Default::default()
        }
    }

    fn payload(site: Uuid) -> v1::AnalyticsEventRecorded {
        v1::AnalyticsEventRecorded {
            site_id: site.to_string(),
            visitor_id: "v1".into(),
            name: "signup".into(),
            timestamp: Some(prost_types::Timestamp { seconds: 1_768_000_000, nanos: 0 }),
            local_date: "2026-01-10".into(),
            utc_offset_seconds: 19_800,
            pathname: "/x".into(),
            referrer_source: "Google".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_recorded_event_becomes_a_hit_of_its_visitor_day() {
        let site = Uuid::now_v7();
        let e = decode(&envelope(site, &payload(site))).unwrap();
        assert_eq!(e.key(), (site, NaiveDate::from_ymd_opt(2026, 1, 10).unwrap(), "v1".to_owned()));
        assert_eq!(e.hit.kind, HitKind::Custom { name: "signup".into(), interactive: true });
        assert_eq!(e.hit.attributes.source, "Google");
        assert_eq!(e.position, 9);
    }

    #[test]
    fn what_cannot_be_placed_is_refused_with_the_field() {
        let site = Uuid::now_v7();
        let field = |p: v1::AnalyticsEventRecorded, stream_site: Uuid| match decode(&envelope(stream_site, &p)) {
            Err(DecodeError::Invalid { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        };
        assert_eq!(field(payload(site), Uuid::now_v7()), "site_id");
        assert_eq!(
            field(v1::AnalyticsEventRecorded { visitor_id: String::new(), ..payload(site) }, site),
            "visitor_id"
        );
        assert_eq!(
            field(v1::AnalyticsEventRecorded { local_date: "10/01/2026".into(), ..payload(site) }, site),
            "local_date"
        );
        assert_eq!(field(v1::AnalyticsEventRecorded { timestamp: None, ..payload(site) }, site), "timestamp");
        assert_eq!(
            field(v1::AnalyticsEventRecorded { utc_offset_seconds: 90_000, ..payload(site) }, site),
            "utc_offset_seconds"
        );
        let mut newer = envelope(site, &payload(site));
        newer.schema_version = 2;
        assert!(matches!(decode(&newer), Err(DecodeError::SchemaVersion(_, 2))));
    }
}
