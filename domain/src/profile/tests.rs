//! Behaviour of the profile aggregate: decisions, claims, replay and the
//! stored event format. Input validation lives in `tests/validation.rs`.

mod validation;

use std::collections::BTreeMap;

use crate::aggregate::ClaimAction::{self, Acquire, Release};
use crate::aggregate::{Aggregate, DomainEvent, UniqueClaim, replay, stream_id};
use crate::error::DomainError;
use crate::ids::ProfileId;
use crate::testing::{given, given_no_previous_events};
use crate::values::{Attributes, Bio, DisplayName, Email, Handle, HttpUrl};

use super::*;

fn id() -> ProfileId {
    "0190c0de-0000-7000-8000-000000000001".parse().unwrap()
}

fn input() -> ProfileInput {
    ProfileInput {
        handle: "Ada".into(),
        display_name: "Ada Lovelace".into(),
        email: "ada@example.com".into(),
        bio: "Analyst".into(),
        avatar_url: "https://img.example.com/ada.png".into(),
        attributes: BTreeMap::from([("team".into(), "engines".into())]),
    }
}

fn create() -> CreateProfile {
    CreateProfile::new(id(), input()).unwrap()
}

fn created() -> ProfileEvent {
    ProfileEvent::Created(ProfileCreated {
        profile_id: id(),
        handle: Handle::parse("ada").unwrap(),
        display_name: DisplayName::parse("Ada Lovelace").unwrap(),
        email: Email::parse("ada@example.com").unwrap(),
        bio: Bio::parse("Analyst").unwrap(),
        avatar_url: Some(HttpUrl::parse("https://img.example.com/ada.png").unwrap()),
        attributes: Attributes::parse(BTreeMap::from([("team".into(), "engines".into())])).unwrap(),
    })
}

fn deleted() -> ProfileEvent {
    ProfileEvent::Deleted(ProfileDeleted { profile_id: id() })
}

fn nothing_updated() -> ProfileUpdated {
    ProfileUpdated {
        profile_id: id(),
        handle: None,
        display_name: None,
        email: None,
        bio: None,
        avatar_url: None,
        attributes: None,
    }
}

fn update(input: ProfileInput, mask: &[&str]) -> UpdateProfile {
    let mask: Vec<String> = mask.iter().map(|p| p.to_string()).collect();
    UpdateProfile::new(id(), input, &mask).unwrap()
}

fn handle_claim(action: ClaimAction, handle: &str) -> UniqueClaim {
    UniqueClaim { scope: HANDLE_CLAIM_SCOPE, key: handle.to_owned(), action }
}

#[test]
fn create_on_empty_stream_records_the_profile() {
    given_no_previous_events::<Profile>()
        .when(create())
        .then_expect(vec![created()])
        .then_expect_claims(vec![handle_claim(Acquire, "ada")])
        .then_expect_state(|p| assert_eq!(p.data().unwrap().handle.as_str(), "ada"));
}

#[test]
fn create_twice_or_after_delete_already_exists() {
    let exists = DomainError::AlreadyExists { kind: "profile", id: id().to_string() };
    given::<Profile>([created()]).when(create()).then_expect_error_eq(exists.clone());
    given::<Profile>([created(), deleted()]).when(create()).then_expect_error_eq(exists);
}

#[test]
fn update_or_delete_of_unknown_profile_is_not_found() {
    let missing = DomainError::NotFound { kind: "profile", id: id().to_string() };
    given_no_previous_events::<Profile>().when(update(input(), &["bio"])).then_expect_error_eq(missing.clone());
    given_no_previous_events::<Profile>().when(DeleteProfile { profile_id: id() }).then_expect_error_eq(missing);
}

#[test]
fn update_or_delete_of_deleted_profile_is_gone() {
    let history = [created(), deleted()];
    given::<Profile>(history.clone())
        .when(update(input(), &["bio"]))
        .then_expect_error(|e| e.to_string() == format!("profile {} was deleted", id()));
    given::<Profile>(history)
        .when(DeleteProfile { profile_id: id() })
        .then_expect_error(|e| matches!(e, DomainError::Gone { kind: "profile", .. }));
}

#[test]
fn update_records_only_fields_that_changed() {
    let changed = ProfileInput {
        display_name: "Countess Lovelace".into(),
        email: "ada@example.com".into(), // same as before
        bio: "Analyst".into(),           // same as before
        ..input()
    };
    given::<Profile>([created()])
        .when(update(changed, &["display_name", "email", "bio"]))
        .then_expect(vec![ProfileEvent::Updated(ProfileUpdated {
            display_name: Some(DisplayName::parse("Countess Lovelace").unwrap()),
            ..nothing_updated()
        })])
        .then_expect_claims(vec![])
        .then_expect_state(|p| {
            let data = p.data().unwrap();
            assert_eq!(data.display_name.as_str(), "Countess Lovelace");
            assert_eq!(data.bio.as_str(), "Analyst");
        });
}

#[test]
fn update_with_identical_values_records_nothing() {
    given::<Profile>([created()]).when(update(input(), &["*"])).then_expect_no_events();
    // Handles compare after normalisation, so a case change is no change.
    let shouting = ProfileInput { handle: " ADA ".into(), ..input() };
    given::<Profile>([created()]).when(update(shouting, &["handle"])).then_expect_no_events();
}

#[test]
fn unmasked_fields_are_left_alone() {
    let everything_new = ProfileInput {
        handle: "babbage".into(),
        display_name: "Charles".into(),
        email: "c@example.org".into(),
        bio: "Engines".into(),
        avatar_url: String::new(),
        attributes: BTreeMap::new(),
    };
    given::<Profile>([created()]).when(update(everything_new, &["email"])).then_expect(vec![ProfileEvent::Updated(
        ProfileUpdated { email: Some(Email::parse("c@example.org").unwrap()), ..nothing_updated() },
    )]);
}

#[test]
fn empty_avatar_and_bio_clear_them() {
    let cleared = ProfileInput { avatar_url: String::new(), bio: String::new(), ..input() };
    given::<Profile>([created()])
        .when(update(cleared, &["avatar_url", "bio"]))
        .then_expect(vec![ProfileEvent::Updated(ProfileUpdated {
            avatar_url: Some(None),
            bio: Some(Bio::default()),
            ..nothing_updated()
        })])
        .then_expect_state(|p| {
            let data = p.data().unwrap();
            assert_eq!(data.avatar_url, None);
            assert!(data.bio.is_empty());
        });
}

#[test]
fn attributes_are_replaced_wholesale() {
    let replaced = ProfileInput { attributes: BTreeMap::from([("role".into(), "analyst".into())]), ..input() };
    given::<Profile>([created()]).when(update(replaced, &["attributes"])).then_expect_state(|p| {
        let attributes = &p.data().unwrap().attributes;
        assert_eq!(attributes.get("team"), None);
        assert_eq!(attributes.get("role"), Some("analyst"));
    });
}

#[test]
fn handle_change_releases_old_and_acquires_new() {
    let renamed = ProfileInput { handle: "Countess".into(), ..input() };
    given::<Profile>([created()])
        .when(update(renamed, &["handle"]))
        .then_expect(vec![ProfileEvent::Updated(ProfileUpdated {
            handle: Some(Handle::parse("countess").unwrap()),
            ..nothing_updated()
        })])
        .then_expect_claims(vec![handle_claim(Release, "ada"), handle_claim(Acquire, "countess")]);
}

#[test]
fn delete_records_deletion_and_releases_handle() {
    given::<Profile>([created()])
        .when(DeleteProfile { profile_id: id() })
        .then_expect(vec![deleted()])
        .then_expect_claims(vec![handle_claim(Release, "ada")])
        .then_expect_state(|p| assert_eq!(p, &Profile::Deleted { id: id() }));
}

#[test]
fn replay_folds_the_whole_history() {
    let renamed = ProfileEvent::Updated(ProfileUpdated {
        handle: Some(Handle::parse("countess").unwrap()),
        avatar_url: Some(None),
        ..nothing_updated()
    });
    let state: Profile = replay([created(), renamed.clone()].iter());
    let data = state.data().unwrap();
    assert_eq!((data.handle.as_str(), &data.avatar_url), ("countess", &None));
    assert_eq!(data.display_name.as_str(), "Ada Lovelace");

    let state: Profile = replay(&[created(), renamed, deleted()]);
    assert!(state.is_deleted() && state.data().is_none());
    assert_eq!(state.id(), Some(id()));
    assert_eq!(replay::<Profile>(&[]), Profile::Absent);
}

#[test]
fn claims_of_a_multi_event_history_follow_the_state() {
    let rename = |to: &str| {
        ProfileEvent::Updated(ProfileUpdated { handle: Some(Handle::parse(to).unwrap()), ..nothing_updated() })
    };
    let history = [created(), rename("bea"), rename("cyd"), deleted()];
    let claims = crate::aggregate::claims_for(&Profile::default(), &history);
    let expected: Vec<_> =
        [(Acquire, "ada"), (Release, "ada"), (Acquire, "bea"), (Release, "bea"), (Acquire, "cyd"), (Release, "cyd")]
            .into_iter()
            .map(|(action, handle)| handle_claim(action, handle))
            .collect();
    assert_eq!(claims, expected);
}

#[test]
fn events_name_their_type_and_stream() {
    let updated = ProfileEvent::Updated(nothing_updated());
    let types: Vec<_> = [created(), updated, deleted()].iter().map(|e| e.event_type()).collect();
    assert_eq!(types, ["ProfileCreated", "ProfileUpdated", "ProfileDeleted"]);
    assert_eq!(created().schema_version(), 1);
    assert_eq!(created().profile_id(), id());
    assert_eq!(stream_id::<Profile>(id()), format!("profile-{}", id()));
    assert_eq!(Profile::CATEGORY, "profile");
}

#[test]
fn stored_format_round_trips_and_keeps_cleared_apart_from_unchanged() {
    let cleared = ProfileEvent::Updated(ProfileUpdated { avatar_url: Some(None), ..nothing_updated() });
    let json = serde_json::to_value(&cleared).unwrap();
    assert_eq!(json, serde_json::json!({"type": "ProfileUpdated", "profile_id": id().to_string(), "avatar_url": null}));
    assert_eq!(serde_json::from_value::<ProfileEvent>(json).unwrap(), cleared);

    let untouched = ProfileEvent::Updated(nothing_updated());
    let json = serde_json::to_string(&untouched).unwrap();
    assert!(!json.contains("avatar_url"));
    assert_eq!(serde_json::from_str::<ProfileEvent>(&json).unwrap(), untouched);

    let json = serde_json::to_string(&created()).unwrap();
    assert_eq!(serde_json::from_str::<ProfileEvent>(&json).unwrap(), created());
}

#[test]
fn stored_events_are_validated_on_read() {
    let json = serde_json::json!({"type": "ProfileUpdated", "profile_id": id().to_string(), "handle": "x"});
    assert!(serde_json::from_value::<ProfileEvent>(json).is_err());
}
