use prost::Message as _;
use tally_proto::convert::{event_types as t, to_timestamp};

use super::*;

fn envelope(ty: &str, stream: &str, payload: Vec<u8>) -> v1::EventEnvelope {
    v1::EventEnvelope {
        event_id: Uuid::new_v4().to_string(),
        stream_id: stream.into(),
        category: stream.split('-').next().unwrap().into(),
        stream_version: 1,
        global_position: 10,
        event_type: ty.into(),
        schema_version: 1,
        payload,
        metadata: None,
        recorded_at: Some(to_timestamp(Utc::now())),
    }
}

#[test]
fn a_profile_created_payload_becomes_a_change() {
    let id = Uuid::new_v4();
    let payload = v1::ProfileCreated {
        profile_id: id.to_string(),
        handle: "ada".into(),
        display_name: "Ada".into(),
        email: "ada@example.com".into(),
        attributes: [("team".to_owned(), "core".to_owned())].into(),
        ..Default::default()
    };
    let e = envelope(t::PROFILE_CREATED, &format!("profile-{id}"), payload.encode_to_vec());
    let Decoded::Event(event) = decode(&e).unwrap() else { panic!("not an event") };
    assert_eq!((event.position, event.version), (10, 1));
    let Change::ProfileCreated(f) = event.change else { panic!("wrong change") };
    assert_eq!((f.id, f.handle.as_str()), (id, "ada"));
    assert_eq!(f.attributes.get("team").map(String::as_str), Some("core"));
}

#[test]
fn garbage_bytes_with_a_real_type_are_reported_not_guessed() {
    let id = Uuid::new_v4();
    let e = envelope(t::PROFILE_CREATED, &format!("profile-{id}"), b"\xff\xff\xffnot protobuf".to_vec());
    let err = decode(&e).unwrap_err();
    assert!(matches!(err, DecodeError::Malformed(..)), "{err}");

    // Protobuf is lenient: empty bytes decode, but the id check catches it.
    let e = envelope(t::PROFILE_CREATED, &format!("profile-{id}"), Vec::new());
    let err = decode(&e).unwrap_err().to_string();
    assert!(err.contains("profile_id"), "{err}");
}

#[test]
fn a_payload_for_another_stream_is_refused() {
    let payload = v1::SiteDeleted { site_id: Uuid::new_v4().to_string() };
    let e = envelope(t::SITE_DELETED, &format!("site-{}", Uuid::new_v4()), payload.encode_to_vec());
    let err = decode(&e).unwrap_err().to_string();
    assert!(err.contains("does not belong to stream"), "{err}");
}

#[test]
fn unknown_types_in_our_categories_fail_and_other_categories_are_ignored() {
    let id = Uuid::new_v4();
    let e = envelope("tally.v1.ProfileFrobnicated", &format!("profile-{id}"), vec![]);
    assert!(matches!(decode(&e), Err(DecodeError::UnknownType(..))));
    let e = envelope(t::ANALYTICS_EVENT_RECORDED, &format!("analytics-{id}"), vec![1, 2]);
    assert_eq!(decode(&e), Ok(Decoded::Ignored));
    let mut w = envelope(WATERMARK, "x-y", vec![]);
    w.category = String::new();
    assert_eq!(decode(&w), Ok(Decoded::Ignored));
}

#[test]
fn a_newer_schema_version_is_refused() {
    let id = Uuid::new_v4();
    let mut e = envelope(
        t::PROFILE_DELETED,
        &format!("profile-{id}"),
        v1::ProfileDeleted { profile_id: id.to_string() }.encode_to_vec(),
    );
    e.schema_version = 2;
    assert!(matches!(decode(&e), Err(DecodeError::SchemaVersion(_, 2))));
}

#[test]
fn read_key_events_carry_the_key() {
    let id = Uuid::new_v4();
    let payload = v1::SiteReadKeyIssued {
        site_id: id.to_string(),
        key_id: "0123456789abcdef".into(),
        key_hash: vec![1; 32],
        label: "grafana".into(),
    };
    let e = envelope(t::SITE_READ_KEY_ISSUED, &format!("site-{id}"), payload.encode_to_vec());
    let Decoded::Event(event) = decode(&e).unwrap() else { panic!("not an event") };
    assert_eq!(
        event.change,
        Change::ReadKeyIssued(ReadKeyFields {
            site_id: id,
            key_id: "0123456789abcdef".into(),
            key_hash: vec![1; 32],
            label: "grafana".into()
        })
    );

    let payload = v1::SiteReadKeyRevoked { site_id: id.to_string(), key_id: "0123456789abcdef".into() };
    let e = envelope(t::SITE_READ_KEY_REVOKED, &format!("site-{id}"), payload.encode_to_vec());
    let Decoded::Event(event) = decode(&e).unwrap() else { panic!("not an event") };
    assert_eq!(event.change, Change::ReadKeyRevoked { site_id: id, key_id: "0123456789abcdef".into() });
}

#[test]
fn a_read_key_without_an_id_or_a_sha256_hash_is_refused() {
    let id = Uuid::new_v4();
    let issued = |key_id: &str, hash: usize| {
        let payload = v1::SiteReadKeyIssued {
            site_id: id.to_string(),
            key_id: key_id.into(),
            key_hash: vec![1; hash],
            label: String::new(),
        };
        envelope(t::SITE_READ_KEY_ISSUED, &format!("site-{id}"), payload.encode_to_vec())
    };
    let err = decode(&issued("k", 31)).unwrap_err().to_string();
    assert!(err.contains("key_hash") && err.contains("32 bytes"), "{err}");
    let err = decode(&issued("", 32)).unwrap_err().to_string();
    assert!(err.contains("key_id") && err.contains("missing"), "{err}");
    let revoked = v1::SiteReadKeyRevoked { site_id: id.to_string(), key_id: String::new() };
    let e = envelope(t::SITE_READ_KEY_REVOKED, &format!("site-{id}"), revoked.encode_to_vec());
    assert!(decode(&e).unwrap_err().to_string().contains("key_id"));
}
