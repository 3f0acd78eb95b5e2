//! Round trips and failure modes of the conversions.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone as _, Utc};
use prost::{Message as _, Name};
use prost_types::Timestamp;
use tally_domain::{
    Attributes, Bio, DisplayName, Email, Handle, HttpUrl, ProfileCreated, ProfileData, ProfileDeleted, ProfileEvent,
    ProfileId, ProfileInput, ProfileUpdated, ReadKeyId, ReadKeyLabel, SiteData, SiteDeleted, SiteDomain, SiteEvent,
    SiteId, SiteInput, SiteName, SiteReadKeyIssued, SiteReadKeyRevoked, SiteRegistered, SiteUpdated, TimeZone,
};

use super::*;
use crate::v1;

fn profile_id() -> ProfileId {
    "0190f1d2-7a4b-7c3e-9d2a-1b2c3d4e5f60".parse().unwrap()
}

fn site_id() -> SiteId {
    "0190f1d2-7a4b-7c3e-9d2a-000000000001".parse().unwrap()
}

fn attributes(entries: &[(&str, &str)]) -> Attributes {
    let raw: BTreeMap<String, String> = entries.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    Attributes::parse(raw).unwrap()
}

fn created() -> ProfileCreated {
    ProfileCreated {
        profile_id: profile_id(),
        handle: Handle::parse("ada_l").unwrap(),
        display_name: DisplayName::parse("Ada Lovelace").unwrap(),
        email: Email::parse("ada@example.com").unwrap(),
        bio: Bio::parse("Analyst.\nPoet of science.").unwrap(),
        avatar_url: Some(HttpUrl::parse("https://example.com/ada.png").unwrap()),
        attributes: attributes(&[("team", "engines"), ("tier.level", "1")]),
    }
}

fn empty_update() -> ProfileUpdated {
    ProfileUpdated {
        profile_id: profile_id(),
        handle: None,
        display_name: None,
        email: None,
        bio: None,
        avatar_url: None,
        attributes: None,
    }
}

fn registered() -> SiteRegistered {
    SiteRegistered {
        site_id: site_id(),
        domain: SiteDomain::parse("blog.example.com").unwrap(),
        time_zone: TimeZone::parse("Europe/Berlin").unwrap(),
        owner_profile_id: profile_id(),
        name: SiteName::parse("Ada's blog").unwrap(),
    }
}

fn profile_round_trip(event: ProfileEvent) {
    let (event_type, bytes) = encode_profile_event(&event);
    let decoded = decode_profile_event(event_type, SCHEMA_VERSION, &bytes).unwrap();
    assert_eq!(decoded, event, "{event_type}");
}

fn site_round_trip(event: SiteEvent) {
    let (event_type, bytes) = encode_site_event(&event);
    let decoded = decode_site_event(event_type, SCHEMA_VERSION, &bytes).unwrap();
    assert_eq!(decoded, event, "{event_type}");
}

// ---------------------------------------------------------------------------
// Event round trips
// ---------------------------------------------------------------------------

#[test]
fn profile_created_round_trips() {
    profile_round_trip(ProfileEvent::Created(created()));
    let minimal = ProfileCreated {
        bio: Bio::parse("").unwrap(),
        avatar_url: None,
        attributes: Attributes::default(),
        ..created()
    };
    profile_round_trip(ProfileEvent::Created(minimal));
}

#[test]
fn profile_updated_round_trips_every_field_shape() {
    profile_round_trip(ProfileEvent::Updated(ProfileUpdated {
        handle: Some(Handle::parse("countess").unwrap()),
        display_name: Some(DisplayName::parse("Augusta Ada King").unwrap()),
        email: Some(Email::parse("ada@lovelace.org").unwrap()),
        bio: Some(Bio::parse("New bio").unwrap()),
        avatar_url: Some(Some(HttpUrl::parse("https://cdn.example.com/a.webp").unwrap())),
        attributes: Some(attributes(&[("k", "v")])),
        ..empty_update()
    }));
    // Cleared values: empty bio, removed avatar, all attributes removed.
    profile_round_trip(ProfileEvent::Updated(ProfileUpdated {
        bio: Some(Bio::parse("").unwrap()),
        avatar_url: Some(None),
        attributes: Some(Attributes::default()),
        ..empty_update()
    }));
    // Nothing present.
    profile_round_trip(ProfileEvent::Updated(empty_update()));
}

#[test]
fn profile_updated_keeps_presence_on_the_wire() {
    let cleared = ProfileUpdated { avatar_url: Some(None), attributes: Some(Attributes::default()), ..empty_update() };
    let wire = v1::ProfileUpdated::from(&cleared);
    assert_eq!(wire.avatar_url.as_deref(), Some(""));
    assert_eq!(wire.attributes, Some(v1::AttributesValue::default()));
    assert_eq!(wire.handle, None);
    assert_eq!(wire.bio, None);
}

#[test]
fn profile_deleted_round_trips() {
    profile_round_trip(ProfileEvent::Deleted(ProfileDeleted { profile_id: profile_id() }));
}

#[test]
fn site_events_round_trip() {
    site_round_trip(SiteEvent::Registered(registered()));
    site_round_trip(SiteEvent::Updated(SiteUpdated {
        site_id: site_id(),
        domain: Some(SiteDomain::parse("example.org").unwrap()),
        time_zone: Some(TimeZone::parse("America/New_York").unwrap()),
        name: Some(SiteName::parse("Renamed").unwrap()),
    }));
    site_round_trip(SiteEvent::Updated(SiteUpdated { site_id: site_id(), domain: None, time_zone: None, name: None }));
    site_round_trip(SiteEvent::Deleted(SiteDeleted { site_id: site_id() }));
    let key_id = ReadKeyId::parse("0123456789abcdef").unwrap();
    site_round_trip(SiteEvent::ReadKeyIssued(SiteReadKeyIssued {
        site_id: site_id(),
        key_id: key_id.clone(),
        key_hash: [7; 32],
        label: ReadKeyLabel::parse("grafana").unwrap(),
    }));
    site_round_trip(SiteEvent::ReadKeyRevoked(SiteReadKeyRevoked { site_id: site_id(), key_id }));
}

#[test]
fn a_read_key_event_with_a_short_digest_is_refused_naming_the_field() {
    let payload = v1::SiteReadKeyIssued {
        site_id: site_id().to_string(),
        key_id: "0123456789abcdef".into(),
        key_hash: vec![1; 31],
        label: String::new(),
    };
    let err = decode_site_event(event_types::SITE_READ_KEY_ISSUED, 1, &payload.encode_to_vec()).unwrap_err();
    assert!(err.to_string().contains("key_hash"), "{err}");
}

#[test]
fn event_types_are_the_full_message_names() {
    let cases = [
        (event_types::PROFILE_CREATED, v1::ProfileCreated::full_name()),
        (event_types::PROFILE_UPDATED, v1::ProfileUpdated::full_name()),
        (event_types::PROFILE_DELETED, v1::ProfileDeleted::full_name()),
        (event_types::SITE_REGISTERED, v1::SiteRegistered::full_name()),
        (event_types::SITE_UPDATED, v1::SiteUpdated::full_name()),
        (event_types::SITE_DELETED, v1::SiteDeleted::full_name()),
        (event_types::SITE_READ_KEY_ISSUED, v1::SiteReadKeyIssued::full_name()),
        (event_types::SITE_READ_KEY_REVOKED, v1::SiteReadKeyRevoked::full_name()),
        (event_types::ANALYTICS_EVENT_RECORDED, v1::AnalyticsEventRecorded::full_name()),
    ];
    for (constant, full_name) in cases {
        assert_eq!(constant, full_name);
    }
    let (t, _) = encode_profile_event(&ProfileEvent::Created(created()));
    assert_eq!(t, "tally.v1.ProfileCreated");
    let (t, _) = encode_site_event(&SiteEvent::Registered(registered()));
    assert_eq!(t, "tally.v1.SiteRegistered");
}

// ---------------------------------------------------------------------------
// Decode failures
// ---------------------------------------------------------------------------

#[test]
fn unknown_event_types_are_refused() {
    let (_, bytes) = encode_profile_event(&ProfileEvent::Created(created()));
    for event_type in ["tally.v1.ProfileRenamed", "ProfileCreated", "", event_types::SITE_DELETED] {
        let err = decode_profile_event(event_type, SCHEMA_VERSION, &bytes).unwrap_err();
        assert!(matches!(&err, DecodeError::UnknownType(t) if t == event_type), "{err}");
    }
    let err = decode_site_event(event_types::PROFILE_CREATED, 1, &bytes).unwrap_err();
    assert!(matches!(err, DecodeError::UnknownType(_)), "{err}");
    assert_eq!(
        decode_site_event("tally.v1.Nope", 1, &[]).unwrap_err().to_string(),
        "unknown event type \"tally.v1.Nope\""
    );
}

#[test]
fn other_schema_versions_are_refused() {
    let (event_type, bytes) = encode_profile_event(&ProfileEvent::Created(created()));
    for version in [0, 2] {
        let err = decode_profile_event(event_type, version, &bytes).unwrap_err();
        assert!(
            matches!(&err, DecodeError::UnsupportedSchemaVersion(t, v) if t == event_type && *v == version),
            "{err}"
        );
    }
    let err = decode_site_event(event_types::SITE_DELETED, 7, &[]).unwrap_err();
    assert!(matches!(err, DecodeError::UnsupportedSchemaVersion(_, 7)), "{err}");
}

#[test]
fn garbage_bytes_are_malformed() {
    // A truncated varint, and a field with an invalid wire type.
    for garbage in [&[0x08, 0xff][..], &[0x0f, 0x01], &[0x0a, 0x10, b'x']] {
        let err = decode_profile_event(event_types::PROFILE_CREATED, 1, garbage).unwrap_err();
        assert!(matches!(err, DecodeError::Malformed(_)), "{garbage:?}: {err}");
        let err = decode_site_event(event_types::SITE_REGISTERED, 1, garbage).unwrap_err();
        assert!(matches!(err, DecodeError::Malformed(_)), "{garbage:?}: {err}");
    }
}

#[test]
fn stored_values_are_revalidated() {
    let mut bad_handle = v1::ProfileCreated::from(&created());
    bad_handle.handle = "a b".to_owned();
    let err = decode_profile_event(event_types::PROFILE_CREATED, 1, &bad_handle.encode_to_vec()).unwrap_err();
    assert!(matches!(&err, DecodeError::Invalid(field, _) if field == "handle"), "{err}");

    let bad_id = v1::ProfileDeleted { profile_id: "not-a-uuid".to_owned() };
    let err = decode_profile_event(event_types::PROFILE_DELETED, 1, &bad_id.encode_to_vec()).unwrap_err();
    assert!(matches!(&err, DecodeError::Invalid(field, _) if field == "profile_id"), "{err}");
    // An empty payload decodes to defaults, which are not a valid event.
    let err = decode_profile_event(event_types::PROFILE_DELETED, 1, &[]).unwrap_err();
    assert!(matches!(&err, DecodeError::Invalid(field, _) if field == "profile_id"), "{err}");

    let mut bad_attributes = v1::ProfileCreated::from(&created());
    bad_attributes.attributes.insert("Bad Key".to_owned(), "x".to_owned());
    let err = decode_profile_event(event_types::PROFILE_CREATED, 1, &bad_attributes.encode_to_vec()).unwrap_err();
    assert!(matches!(&err, DecodeError::Invalid(field, _) if field == "attributes[\"Bad Key\"]"), "{err}");

    // The email cannot be cleared, so a present empty one is invalid.
    let cleared_email =
        v1::ProfileUpdated { profile_id: profile_id().to_string(), email: Some(String::new()), ..Default::default() };
    let err = decode_profile_event(event_types::PROFILE_UPDATED, 1, &cleared_email.encode_to_vec()).unwrap_err();
    assert!(matches!(&err, DecodeError::Invalid(field, _) if field == "email"), "{err}");

    let mut bad_zone = v1::SiteRegistered::from(&registered());
    bad_zone.time_zone = "Mars/Olympus".to_owned();
    let err = decode_site_event(event_types::SITE_REGISTERED, 1, &bad_zone.encode_to_vec()).unwrap_err();
    assert!(matches!(&err, DecodeError::Invalid(field, _) if field == "time_zone"), "{err}");
    assert!(err.to_string().starts_with("invalid stored value in time_zone: "), "{err}");

    let bad_domain = v1::SiteUpdated {
        site_id: site_id().to_string(),
        domain: Some("https://example.com/".to_owned()),
        ..Default::default()
    };
    let err = decode_site_event(event_types::SITE_UPDATED, 1, &bad_domain.encode_to_vec()).unwrap_err();
    assert!(matches!(&err, DecodeError::Invalid(field, _) if field == "domain"), "{err}");
}

#[test]
fn decoding_normalises_through_the_value_types() {
    let mut wire = v1::ProfileCreated::from(&created());
    wire.handle = "  Ada_L ".to_owned();
    wire.email = "ada@EXAMPLE.com".to_owned();
    let decoded = decode_profile_event(event_types::PROFILE_CREATED, 1, &wire.encode_to_vec()).unwrap();
    assert_eq!(decoded, ProfileEvent::Created(created()));
}

// ---------------------------------------------------------------------------
// Resources and inputs
// ---------------------------------------------------------------------------

fn at(secs: i64, nanos: u32) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, nanos).unwrap()
}

#[test]
fn profile_data_becomes_the_resource() {
    let c = created();
    let data = ProfileData {
        id: c.profile_id,
        handle: c.handle,
        display_name: c.display_name,
        email: c.email,
        bio: c.bio,
        avatar_url: c.avatar_url,
        attributes: c.attributes,
    };
    let meta =
        ResourceMeta { version: 3, create_time: Some(at(1_700_000_000, 5)), update_time: Some(at(1_700_000_100, 0)) };
    let profile = profile_to_proto(&data, &meta);
    assert_eq!(profile.id, "0190f1d2-7a4b-7c3e-9d2a-1b2c3d4e5f60");
    assert_eq!(profile.handle, "ada_l");
    assert_eq!(profile.display_name, "Ada Lovelace");
    assert_eq!(profile.email, "ada@example.com");
    assert_eq!(profile.bio, "Analyst.\nPoet of science.");
    assert_eq!(profile.avatar_url, "https://example.com/ada.png");
    assert_eq!(profile.attributes.len(), 2);
    assert_eq!(profile.attributes["team"], "engines");
    assert_eq!(profile.version, 3);
    assert_eq!(profile.create_time, Some(Timestamp { seconds: 1_700_000_000, nanos: 5 }));
    assert_eq!(profile.update_time, Some(Timestamp { seconds: 1_700_000_100, nanos: 0 }));
    assert!(profile.sites.is_empty());

    let no_avatar = ProfileData { avatar_url: None, ..data };
    let profile = profile_to_proto(&no_avatar, &ResourceMeta::default());
    assert_eq!(profile.avatar_url, "");
    assert_eq!(profile.create_time, None);
}

#[test]
fn proto_profile_becomes_input() {
    let profile = v1::Profile {
        id: "ignored".to_owned(),
        handle: "Ada".to_owned(),
        display_name: "Ada".to_owned(),
        email: "ada@example.com".to_owned(),
        bio: "hi".to_owned(),
        avatar_url: "https://x.example".to_owned(),
        attributes: [("b".to_owned(), "2".to_owned()), ("a".to_owned(), "1".to_owned())].into(),
        version: 9,
        create_time: None,
        update_time: None,
        sites: vec![v1::SiteSummary::default()],
    };
    let expected = ProfileInput {
        handle: "Ada".to_owned(),
        display_name: "Ada".to_owned(),
        email: "ada@example.com".to_owned(),
        bio: "hi".to_owned(),
        avatar_url: "https://x.example".to_owned(),
        attributes: [("a".to_owned(), "1".to_owned()), ("b".to_owned(), "2".to_owned())].into(),
    };
    assert_eq!(ProfileInput::from(&profile), expected);
    assert_eq!(ProfileInput::from(profile), expected);
}

#[test]
fn site_data_becomes_the_resource_and_summary() {
    let r = registered();
    let data = SiteData {
        id: r.site_id,
        domain: r.domain,
        time_zone: r.time_zone,
        owner_profile_id: r.owner_profile_id,
        name: r.name,
        read_keys: Default::default(),
    };
    let meta = ResourceMeta { version: 1, create_time: Some(at(10, 0)), update_time: Some(at(10, 0)) };
    let site = site_to_proto(&data, &meta);
    assert_eq!(
        site,
        v1::Site {
            id: "0190f1d2-7a4b-7c3e-9d2a-000000000001".to_owned(),
            domain: "blog.example.com".to_owned(),
            time_zone: "Europe/Berlin".to_owned(),
            owner_profile_id: "0190f1d2-7a4b-7c3e-9d2a-1b2c3d4e5f60".to_owned(),
            name: "Ada's blog".to_owned(),
            version: 1,
            create_time: Some(Timestamp { seconds: 10, nanos: 0 }),
            update_time: Some(Timestamp { seconds: 10, nanos: 0 }),
        }
    );
    assert_eq!(
        site_summary(&data),
        v1::SiteSummary {
            id: site.id.clone(),
            domain: site.domain.clone(),
            name: site.name.clone(),
            time_zone: site.time_zone.clone(),
        }
    );
    let input = SiteInput::from(&site);
    assert_eq!(
        input,
        SiteInput {
            domain: "blog.example.com".to_owned(),
            time_zone: "Europe/Berlin".to_owned(),
            owner_profile_id: "0190f1d2-7a4b-7c3e-9d2a-1b2c3d4e5f60".to_owned(),
            name: "Ada's blog".to_owned(),
        }
    );
    assert_eq!(SiteInput::from(site), input);
}

// ---------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------

#[test]
fn timestamps_round_trip_to_the_nanosecond() {
    for time in [
        at(0, 0),
        at(1_700_000_000, 123_456_789),
        at(-1, 999_999_999),
        Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
        Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
    ] {
        assert_eq!(from_timestamp(&to_timestamp(time)).unwrap(), time);
    }
    assert_eq!(to_timestamp(at(1_700_000_000, 123_456_789)), Timestamp { seconds: 1_700_000_000, nanos: 123_456_789 });
}

#[test]
fn denormalised_timestamps_are_normalised() {
    let ts = Timestamp { seconds: 10, nanos: -1 };
    assert_eq!(from_timestamp(&ts).unwrap(), at(9, 999_999_999));
    let ts = Timestamp { seconds: 10, nanos: 1_500_000_000 };
    assert_eq!(from_timestamp(&ts).unwrap(), at(11, 500_000_000));
}

#[test]
fn out_of_range_timestamps_are_errors() {
    for ts in [Timestamp { seconds: i64::MAX, nanos: 0 }, Timestamp { seconds: i64::MIN, nanos: -1 }] {
        let err = from_timestamp(&ts).unwrap_err();
        assert_eq!(err, InvalidTimestamp { seconds: ts.seconds, nanos: ts.nanos });
    }
}

#[test]
fn leap_seconds_are_clamped() {
    let leap = at(1_483_228_799, 1_500_000_000);
    assert_eq!(to_timestamp(leap), Timestamp { seconds: 1_483_228_799, nanos: 999_999_999 });
}
