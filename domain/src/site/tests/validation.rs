//! How raw site input becomes commands: every violation, named by field.

use crate::error::ValidationError;
use crate::site::*;

use super::{id, input, owner};

fn mask(paths: &[&str]) -> Vec<String> {
    paths.iter().map(|p| p.to_string()).collect()
}

#[test]
fn valid_input_is_normalised() {
    let c = RegisterSite::new(id(), input()).unwrap();
    assert_eq!(c.domain.as_str(), "blog.example.com");
    assert_eq!(c.time_zone.name(), "Europe/Berlin");
    assert_eq!(c.owner_profile_id, owner());
}

#[test]
fn empty_name_defaults_to_the_domain() {
    let c = RegisterSite::new(id(), SiteInput { name: " ".into(), ..input() }).unwrap();
    assert_eq!(c.name.as_str(), "blog.example.com");
}

#[test]
fn missing_required_fields_are_all_reported() {
    let err = RegisterSite::new(id(), SiteInput::default()).unwrap_err();
    assert_eq!(err.fields(), ["domain", "time_zone", "owner_profile_id"]);
    assert!(err.violations.iter().all(|v| v.description == "is required"));
}

#[test]
fn every_bad_field_is_reported_at_once() {
    let bad = SiteInput {
        domain: "https://example.com/blog".into(),
        time_zone: "Mars/Olympus".into(),
        owner_profile_id: "ada".into(),
        name: "x".repeat(101),
    };
    let err = RegisterSite::new(id(), bad).unwrap_err();
    let got: Vec<_> = err.violations.iter().map(|v| (v.field.as_str(), v.description.as_str())).collect();
    assert_eq!(
        got,
        [
            ("domain", "must be a bare domain like example.com, without scheme or path"),
            ("time_zone", "must be an IANA time zone name like Europe/Berlin"),
            ("owner_profile_id", "must be a profile id (UUID)"),
            ("name", "must be 1 to 100 characters"),
        ]
    );
}

#[test]
fn owner_cannot_be_changed() {
    let err = UpdateSite::new(id(), input(), &mask(&["owner_profile_id", "name"])).unwrap_err();
    assert_eq!(err, ValidationError::single("update_mask", "owner_profile_id cannot be changed"));
}

#[test]
fn update_needs_a_known_mask() {
    let err = UpdateSite::new(id(), input(), &[]).unwrap_err();
    assert_eq!(err, ValidationError::single("update_mask", "must name at least one field"));
    let err = UpdateSite::new(id(), input(), &mask(&["colour"])).unwrap_err();
    assert_eq!(err.violations[0].description, "unknown field \"colour\"; updatable fields are domain, time_zone, name");
}

#[test]
fn update_validates_only_masked_fields() {
    let bad_elsewhere = SiteInput { domain: "not a domain".into(), ..input() };
    let c = UpdateSite::new(id(), bad_elsewhere, &mask(&["timeZone"])).unwrap();
    assert_eq!(c.changes.time_zone.map(|tz| tz.name()), Some("Europe/Berlin"));
    assert!(c.changes.domain.is_none() && c.changes.name.is_none());
}

#[test]
fn masked_empty_name_is_refused() {
    let err = UpdateSite::new(id(), SiteInput { name: String::new(), ..input() }, &mask(&["name"])).unwrap_err();
    assert_eq!(err, ValidationError::single("name", "is required"));
}
