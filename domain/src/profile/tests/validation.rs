//! How raw profile input becomes commands: every violation, named by field.

use std::collections::BTreeMap;

use crate::error::{FieldViolation, ValidationError};

use super::{id, input};
use crate::profile::*;
use crate::values::DisplayName;

fn violations(err: ValidationError) -> Vec<(String, String)> {
    err.violations.into_iter().map(|v| (v.field, v.description)).collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(f, d)| (f.to_string(), d.to_string())).collect()
}

fn mask(paths: &[&str]) -> Vec<String> {
    paths.iter().map(|p| p.to_string()).collect()
}

#[test]
fn valid_input_is_normalised() {
    let c = CreateProfile::new(id(), ProfileInput { avatar_url: String::new(), ..input() }).unwrap();
    assert_eq!(c.handle.as_str(), "ada");
    assert_eq!(c.avatar_url, None);
    assert_eq!(c.attributes.get("team"), Some("engines"));
}

#[test]
fn missing_required_fields_are_all_reported() {
    let err = CreateProfile::new(id(), ProfileInput::default()).unwrap_err();
    assert_eq!(
        violations(err),
        pairs(&[("handle", "is required"), ("display_name", "is required"), ("email", "is required"),])
    );
}

#[test]
fn every_bad_field_is_reported_at_once() {
    let bad = ProfileInput {
        handle: "9x".into(),
        display_name: "é".repeat(101),
        email: "ada-at-example.com".into(),
        bio: "bell\u{7}".into(),
        avatar_url: "ftp://example.com/a.png".into(),
        attributes: BTreeMap::from([("Bad Key".into(), "v".into())]),
    };
    let err = CreateProfile::new(id(), bad).unwrap_err();
    assert_eq!(
        violations(err.clone()),
        pairs(&[
            ("handle", "must be 3 to 30 characters"),
            ("display_name", "must be 1 to 100 characters"),
            ("email", "must contain exactly one '@'"),
            ("bio", "must not contain control characters other than newlines"),
            ("avatar_url", "must use the http or https scheme"),
            ("attributes[\"Bad Key\"]", "key may only contain letters, digits, '_', '.' and '-'"),
        ])
    );
    assert!(
        err.to_string()
            .starts_with("invalid argument: handle: must be 3 to 30 characters; display_name: must be 1 to 100")
    );
}

#[test]
fn unicode_lengths_count_characters() {
    let ok = ProfileInput { display_name: "漢".repeat(100), bio: "ö".repeat(500), ..input() };
    assert!(CreateProfile::new(id(), ok).is_ok());
    let too_long = ProfileInput { bio: "ö".repeat(501), ..input() };
    let err = CreateProfile::new(id(), too_long).unwrap_err();
    assert_eq!(err, ValidationError::single("bio", "must be at most 500 characters"));
}

#[test]
fn update_needs_a_mask() {
    let err = UpdateProfile::new(id(), input(), &[]).unwrap_err();
    assert_eq!(err, ValidationError::single("update_mask", "must name at least one field"));
}

#[test]
fn update_reports_unknown_paths_and_bad_fields_together() {
    let bad = ProfileInput { email: "nope".into(), ..input() };
    let err = UpdateProfile::new(id(), bad, &mask(&["email", "id", "nickname"])).unwrap_err();
    let fields: Vec<_> = err.violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(fields, ["update_mask", "update_mask", "email"]);
    assert!(err.violations[0].description.contains("\"id\""));
    assert!(err.violations[1].description.contains("\"nickname\""));
    assert!(
        err.violations[1]
            .description
            .ends_with("updatable fields are handle, display_name, email, bio, avatar_url, attributes")
    );
}

#[test]
fn update_validates_only_masked_fields() {
    let mostly_bad = ProfileInput {
        handle: "!".into(),
        email: "nope".into(),
        display_name: "Grace".into(),
        ..ProfileInput::default()
    };
    let c = UpdateProfile::new(id(), mostly_bad, &mask(&["displayName"])).unwrap();
    assert_eq!(
        c.changes,
        ProfileChanges { display_name: Some(DisplayName::parse("Grace").unwrap()), ..ProfileChanges::default() }
    );
}

#[test]
fn update_cannot_blank_required_fields() {
    let err = UpdateProfile::new(id(), ProfileInput::default(), &mask(&["handle", "email"])).unwrap_err();
    assert_eq!(
        err.violations,
        [FieldViolation::new("handle", "is required"), FieldViolation::new("email", "is required")]
    );
}

#[test]
fn star_mask_selects_every_field() {
    let c = UpdateProfile::new(id(), ProfileInput { avatar_url: String::new(), ..input() }, &mask(&["*"])).unwrap();
    let ch = c.changes;
    assert!(ch.handle.is_some() && ch.display_name.is_some() && ch.email.is_some());
    assert!(ch.bio.is_some() && ch.attributes.is_some());
    assert_eq!(ch.avatar_url, Some(None));
}

#[test]
fn star_mask_reports_every_bad_field() {
    let err = UpdateProfile::new(id(), ProfileInput::default(), &mask(&["*"])).unwrap_err();
    assert_eq!(err.fields(), ["handle", "display_name", "email"]);
}
