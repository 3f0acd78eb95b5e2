//! A readable `data` object for the payloads of known event types, so REST
//! consumers need no protobuf decoder. Field names are the proto field
//! names; `optional` fields appear only when set, as in the payload.
//! Unknown types, other schema versions and undecodable payloads get no
//! `data` — `payload_base64` is always there.

use prost::Message;
use serde_json::{Map, Value, json};
use tally_proto::{
    convert::{SCHEMA_VERSION, event_types},
    v1,
};

/// The payload as JSON, when its type and schema version are known here.
pub fn data(event_type: &str, schema_version: u32, payload: &[u8]) -> Option<Value> {
    if schema_version != SCHEMA_VERSION {
        return None;
    }
    let decoded = match event_type {
        event_types::PROFILE_CREATED => v1::ProfileCreated::decode(payload).map(|p| {
            json!({
                "profile_id": p.profile_id, "handle": p.handle, "display_name": p.display_name,
                "email": p.email, "bio": p.bio, "avatar_url": p.avatar_url, "attributes": p.attributes,
            })
        }),
        event_types::PROFILE_UPDATED => v1::ProfileUpdated::decode(payload).map(|p| {
            let mut o = object(&[("profile_id", p.profile_id.into())]);
            optional(&mut o, "handle", p.handle);
            optional(&mut o, "display_name", p.display_name);
            optional(&mut o, "email", p.email);
            optional(&mut o, "bio", p.bio);
            optional(&mut o, "avatar_url", p.avatar_url);
            if let Some(a) = p.attributes {
                o.insert("attributes".into(), json!(a.entries));
            }
            Value::Object(o)
        }),
        event_types::PROFILE_DELETED => {
            v1::ProfileDeleted::decode(payload).map(|p| json!({"profile_id": p.profile_id}))
        }
        event_types::SITE_REGISTERED => v1::SiteRegistered::decode(payload).map(|p| {
            json!({
                "site_id": p.site_id, "domain": p.domain, "time_zone": p.time_zone,
                "owner_profile_id": p.owner_profile_id, "name": p.name,
            })
        }),
        event_types::SITE_UPDATED => v1::SiteUpdated::decode(payload).map(|p| {
            let mut o = object(&[("site_id", p.site_id.into())]);
            optional(&mut o, "domain", p.domain);
            optional(&mut o, "time_zone", p.time_zone);
            optional(&mut o, "name", p.name);
            Value::Object(o)
        }),
        event_types::SITE_DELETED => v1::SiteDeleted::decode(payload).map(|p| json!({"site_id": p.site_id})),
        // The key hash stays out: it is only ever compared, never shown.
        event_types::SITE_READ_KEY_ISSUED => v1::SiteReadKeyIssued::decode(payload)
            .map(|p| json!({"site_id": p.site_id, "key_id": p.key_id, "label": p.label})),
        event_types::SITE_READ_KEY_REVOKED => {
            v1::SiteReadKeyRevoked::decode(payload).map(|p| json!({"site_id": p.site_id, "key_id": p.key_id}))
        }
        event_types::ANALYTICS_EVENT_RECORDED => v1::AnalyticsEventRecorded::decode(payload).map(analytics),
        _ => return None,
    };
    decoded.ok()
}

fn analytics(p: v1::AnalyticsEventRecorded) -> Value {
    let timestamp = p
        .timestamp
        .as_ref()
        .and_then(|t| tally_proto::convert::from_timestamp(t).ok())
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
    json!({
        "site_id": p.site_id, "visitor_id": p.visitor_id, "name": p.name, "timestamp": timestamp,
        "local_date": p.local_date, "utc_offset_seconds": p.utc_offset_seconds, "client_event_id": p.client_event_id,
        "pathname": p.pathname, "hostname": p.hostname, "referrer": p.referrer, "referrer_source": p.referrer_source,
        "utm_source": p.utm_source, "utm_medium": p.utm_medium, "utm_campaign": p.utm_campaign,
        "utm_content": p.utm_content, "utm_term": p.utm_term, "device": p.device, "browser": p.browser,
        "browser_version": p.browser_version, "os": p.os, "os_version": p.os_version,
        "screen_width": p.screen_width, "country_code": p.country_code, "props": p.props,
        "revenue": p.revenue.map(|r| json!({"currency": r.currency, "amount": r.amount})),
    })
}

fn object(fields: &[(&str, Value)]) -> Map<String, Value> {
    fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

fn optional(o: &mut Map<String, Value>, key: &str, value: Option<String>) {
    if let Some(value) = value {
        o.insert(key.to_owned(), Value::String(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_types_decode_and_optional_fields_appear_only_when_set() {
        let updated = v1::ProfileUpdated { profile_id: "p1".into(), bio: Some(String::new()), ..Default::default() };
        let value = data(event_types::PROFILE_UPDATED, 1, &updated.encode_to_vec()).unwrap();
        assert_eq!(value, json!({"profile_id": "p1", "bio": ""}));

        let created = v1::ProfileCreated { profile_id: "p2".into(), handle: "ada".into(), ..Default::default() };
        let value = data(event_types::PROFILE_CREATED, 1, &created.encode_to_vec()).unwrap();
        assert_eq!(value["handle"], "ada");
        assert_eq!(value["attributes"], json!({}));
    }

    #[test]
    fn unknown_types_versions_and_garbage_have_no_data() {
        let payload = v1::ProfileDeleted { profile_id: "p".into() }.encode_to_vec();
        assert!(data(event_types::PROFILE_DELETED, 1, &payload).is_some());
        assert!(data("tally.v1.Unheard", 1, &payload).is_none());
        assert!(data(event_types::PROFILE_DELETED, 2, &payload).is_none());
        assert!(data(event_types::PROFILE_DELETED, 1, &[0xff, 0xff, 0xff]).is_none());
    }
}
