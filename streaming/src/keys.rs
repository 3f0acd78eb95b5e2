//! Partition keys: what must stay in order shares a key.
//!
//! - profile and site events: the aggregate's uuid (its stream id without the category
//!   prefix), so each aggregate's events stay in order;
//! - analytics events: `site_id:visitor_id`, so one visitor's events (a session) stay in
//!   order while a big site spreads over every partition instead of skewing one.

use prost::Message as _;
use tally_event_store::RecordedEvent;
use tally_proto::{convert::event_types::ANALYTICS_EVENT_RECORDED, v1::AnalyticsEventRecorded};

/// The Kafka key of `event`.
pub fn key_for(event: &RecordedEvent) -> String {
    match event.category.as_str() {
        "analytics" => analytics_key(event).unwrap_or_else(|| event.stream_id.clone()),
        category => strip_category(&event.stream_id, category).to_owned(),
    }
}

/// `site_id:visitor_id` from the payload. An event that does not decode still gets
/// published (the consumer dead-letters it); it is keyed by its stream, the site.
fn analytics_key(event: &RecordedEvent) -> Option<String> {
    if event.event_type != ANALYTICS_EVENT_RECORDED {
        return None;
    }
    let recorded = AnalyticsEventRecorded::decode(event.payload.as_slice()).ok()?;
    if recorded.site_id.is_empty() || recorded.visitor_id.is_empty() {
        return None;
    }
    Some(format!("{}:{}", recorded.site_id, recorded.visitor_id))
}

/// `profile-<uuid>` → `<uuid>`; a stream id without the expected prefix is kept whole.
fn strip_category<'a>(stream_id: &'a str, category: &str) -> &'a str {
    stream_id.strip_prefix(category).and_then(|rest| rest.strip_prefix('-')).unwrap_or(stream_id)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use tally_event_store::EventMetadata;
    use uuid::Uuid;

    use super::*;

    fn event(category: &str, stream_id: &str, event_type: &str, payload: Vec<u8>) -> RecordedEvent {
        RecordedEvent {
            global_position: 1,
            event_id: Uuid::now_v7(),
            stream_id: stream_id.into(),
            category: category.into(),
            stream_version: 1,
            event_type: event_type.into(),
            schema_version: 1,
            payload,
            metadata: EventMetadata::default(),
            recorded_at: Utc::now(),
        }
    }

    #[test]
    fn entity_events_are_keyed_by_their_aggregate_id() {
        let id = "0190a3c4-7f1e-7000-8000-000000000001";
        let profile = event("profile", &format!("profile-{id}"), "tally.v1.ProfileCreated", vec![]);
        let site = event("site", &format!("site-{id}"), "tally.v1.SiteCreated", vec![]);
        assert_eq!(key_for(&profile), id);
        assert_eq!(key_for(&site), id);
        let odd = event("profile", "profilexyz", "tally.v1.ProfileCreated", vec![]);
        assert_eq!(key_for(&odd), "profilexyz", "no `<category>-` prefix: the whole stream id");
    }

    #[test]
    fn analytics_events_are_keyed_by_site_and_visitor() {
        let payload = AnalyticsEventRecorded {
            site_id: "site-uuid".into(),
            visitor_id: "ab12".into(),
            name: "pageview".into(),
            ..Default::default()
        }
        .encode_to_vec();
        let e = event("analytics", "analytics-site-uuid", ANALYTICS_EVENT_RECORDED, payload);
        assert_eq!(key_for(&e), "site-uuid:ab12");
    }

    #[test]
    fn undecodable_analytics_events_fall_back_to_the_stream_id() {
        let garbage = event("analytics", "analytics-s1", ANALYTICS_EVENT_RECORDED, vec![0xff, 0xff, 0xff]);
        assert_eq!(key_for(&garbage), "analytics-s1");
        let other_type = event("analytics", "analytics-s1", "tally.v1.SomethingElse", vec![]);
        assert_eq!(key_for(&other_type), "analytics-s1");
        let empty = event("analytics", "analytics-s1", ANALYTICS_EVENT_RECORDED, vec![]);
        assert_eq!(key_for(&empty), "analytics-s1", "an empty payload decodes to empty ids");
    }
}
