//! Behaviour of the site aggregate: decisions, claims, replay and the
//! stored event format. Input validation lives in `tests/validation.rs`.

mod read_keys;
mod validation;

use crate::aggregate::ClaimAction::{self, Acquire, Release};
use crate::aggregate::{Aggregate, DomainEvent, UniqueClaim, replay, stream_id};
use crate::error::DomainError;
use crate::ids::{ProfileId, SiteId};
use crate::testing::{given, given_no_previous_events};
use crate::values::{SiteDomain, SiteName, TimeZone};

use super::*;

fn id() -> SiteId {
    "0190c0de-0000-7000-8000-0000000000aa".parse().unwrap()
}

fn owner() -> ProfileId {
    "0190c0de-0000-7000-8000-000000000001".parse().unwrap()
}

fn input() -> SiteInput {
    SiteInput {
        domain: "Blog.Example.com".into(),
        time_zone: "Europe/Berlin".into(),
        owner_profile_id: owner().to_string(),
        name: "My Blog".into(),
    }
}

fn register() -> RegisterSite {
    RegisterSite::new(id(), input()).unwrap()
}

fn registered() -> SiteEvent {
    SiteEvent::Registered(SiteRegistered {
        site_id: id(),
        domain: SiteDomain::parse("blog.example.com").unwrap(),
        time_zone: TimeZone::parse("Europe/Berlin").unwrap(),
        owner_profile_id: owner(),
        name: SiteName::parse("My Blog").unwrap(),
    })
}

fn deleted() -> SiteEvent {
    SiteEvent::Deleted(SiteDeleted { site_id: id() })
}

fn nothing_updated() -> SiteUpdated {
    SiteUpdated { site_id: id(), domain: None, time_zone: None, name: None }
}

fn update(input: SiteInput, mask: &[&str]) -> UpdateSite {
    let mask: Vec<String> = mask.iter().map(|p| p.to_string()).collect();
    UpdateSite::new(id(), input, &mask).unwrap()
}

fn domain_claim(action: ClaimAction, domain: &str) -> UniqueClaim {
    UniqueClaim { scope: DOMAIN_CLAIM_SCOPE, key: domain.to_owned(), action }
}

#[test]
fn register_on_empty_stream_records_the_site() {
    given_no_previous_events::<Site>()
        .when(register())
        .then_expect(vec![registered()])
        .then_expect_claims(vec![domain_claim(Acquire, "blog.example.com")])
        .then_expect_state(|s| assert_eq!(s.data().unwrap().owner_profile_id, owner()));
}

#[test]
fn register_twice_or_after_delete_already_exists() {
    let exists = DomainError::AlreadyExists { kind: "site", id: id().to_string() };
    given::<Site>([registered()]).when(register()).then_expect_error_eq(exists.clone());
    given::<Site>([registered(), deleted()]).when(register()).then_expect_error_eq(exists);
}

#[test]
fn update_or_delete_of_unknown_site_is_not_found() {
    let missing = DomainError::NotFound { kind: "site", id: id().to_string() };
    given_no_previous_events::<Site>().when(update(input(), &["name"])).then_expect_error_eq(missing.clone());
    given_no_previous_events::<Site>().when(DeleteSite { site_id: id() }).then_expect_error_eq(missing);
}

#[test]
fn update_or_delete_of_deleted_site_is_gone() {
    let gone = DomainError::Gone { kind: "site", id: id().to_string() };
    given::<Site>([registered(), deleted()]).when(update(input(), &["name"])).then_expect_error_eq(gone.clone());
    given::<Site>([registered(), deleted()]).when(DeleteSite { site_id: id() }).then_expect_error_eq(gone);
}

#[test]
fn update_records_only_fields_that_changed() {
    let changed = SiteInput { time_zone: "America/New_York".into(), ..input() };
    given::<Site>([registered()])
        .when(update(changed, &["*"]))
        .then_expect(vec![SiteEvent::Updated(SiteUpdated {
            time_zone: Some(TimeZone::parse("America/New_York").unwrap()),
            ..nothing_updated()
        })])
        .then_expect_claims(vec![])
        .then_expect_state(|s| assert_eq!(s.data().unwrap().time_zone.name(), "America/New_York"));
}

#[test]
fn update_with_identical_values_records_nothing() {
    given::<Site>([registered()]).when(update(input(), &["*"])).then_expect_no_events();
}

#[test]
fn domain_change_releases_old_and_acquires_new() {
    let moved = SiteInput { domain: "example.org".into(), ..input() };
    given::<Site>([registered()])
        .when(update(moved, &["domain"]))
        .then_expect(vec![SiteEvent::Updated(SiteUpdated {
            domain: Some(SiteDomain::parse("example.org").unwrap()),
            ..nothing_updated()
        })])
        .then_expect_claims(vec![domain_claim(Release, "blog.example.com"), domain_claim(Acquire, "example.org")])
        .then_expect_state(|s| {
            let data = s.data().unwrap();
            // The name was chosen by the user; moving the domain keeps it.
            assert_eq!((data.domain.as_str(), data.name.as_str()), ("example.org", "My Blog"));
        });
}

#[test]
fn delete_records_deletion_and_releases_domain() {
    given::<Site>([registered()])
        .when(DeleteSite { site_id: id() })
        .then_expect(vec![deleted()])
        .then_expect_claims(vec![domain_claim(Release, "blog.example.com")])
        .then_expect_state(|s| assert_eq!(s, &Site::Deleted { id: id() }));
}

#[test]
fn replay_folds_the_whole_history() {
    let renamed =
        SiteEvent::Updated(SiteUpdated { name: Some(SiteName::parse("Notes").unwrap()), ..nothing_updated() });
    let state: Site = replay(&[registered(), renamed.clone()]);
    assert_eq!(state.data().unwrap().name.as_str(), "Notes");
    assert_eq!(state.id(), Some(id()));
    let state: Site = replay(&[registered(), renamed, deleted()]);
    assert!(state.is_deleted() && state.data().is_none());
}

#[test]
fn events_name_their_type_and_stream() {
    let updated = SiteEvent::Updated(nothing_updated());
    let types: Vec<_> = [registered(), updated, deleted()].iter().map(|e| e.event_type()).collect();
    assert_eq!(types, ["SiteRegistered", "SiteUpdated", "SiteDeleted"]);
    assert_eq!(registered().site_id(), id());
    assert_eq!(stream_id::<Site>(id()), format!("site-{}", id()));
    assert_eq!(Site::CATEGORY, "site");
}

#[test]
fn stored_format_round_trips() {
    let json = serde_json::to_value(registered()).unwrap();
    assert_eq!(json["type"], "SiteRegistered");
    assert_eq!(json["time_zone"], "Europe/Berlin");
    assert_eq!(serde_json::from_value::<SiteEvent>(json).unwrap(), registered());
    let updated = SiteEvent::Updated(nothing_updated());
    let json = serde_json::to_string(&updated).unwrap();
    assert_eq!(json, format!(r#"{{"type":"SiteUpdated","site_id":"{}"}}"#, id()));
    assert_eq!(serde_json::from_str::<SiteEvent>(&json).unwrap(), updated);
}
