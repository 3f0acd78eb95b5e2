use chrono::{TimeZone, Utc};

use super::*;
use crate::decode::{Change, Event};

fn at(position: i64, version: i64, change: Change) -> Event {
    Event { position, version, recorded_at: Utc.timestamp_opt(1_700_000_000 + position, 0).unwrap(), change }
}

fn created(id: Uuid, handle: &str) -> Change {
    Change::ProfileCreated(ProfileFields {
        id,
        handle: handle.into(),
        display_name: "Ada".into(),
        email: "ada@example.com".into(),
        bio: String::new(),
        avatar_url: String::new(),
        attributes: [("k".to_owned(), "v".to_owned())].into(),
    })
}

fn registered(id: Uuid, owner: Uuid, domain: &str) -> Change {
    Change::SiteRegistered(SiteFields {
        id,
        domain: domain.into(),
        name: domain.into(),
        time_zone: "UTC".into(),
        owner_profile_id: owner,
    })
}

fn issued(site: Uuid, key_id: &str) -> Change {
    Change::ReadKeyIssued(ReadKeyFields {
        site_id: site,
        key_id: key_id.into(),
        key_hash: vec![7; 32],
        label: "dashboard".into(),
    })
}

fn revoked(site: Uuid, key_id: &str) -> Change {
    Change::ReadKeyRevoked { site_id: site, key_id: key_id.into() }
}

fn live_profile(fold: &Fold, id: Uuid) -> &ProfileRow {
    match &fold.profiles[&id] {
        Slot::Live(r) => r,
        Slot::Gone(_) => panic!("profile {id} is gone"),
    }
}

#[test]
fn create_then_update_changes_only_the_given_fields_and_moves_the_bookkeeping() {
    let id = Uuid::new_v4();
    let mut fold = Fold::default();
    assert_eq!(fold.apply(&at(1, 1, created(id, "ada"))), Verdict::Applied);
    let patch = ProfilePatch { id, display_name: Some("Ada L.".into()), ..ProfilePatch::default() };
    assert_eq!(fold.apply(&at(5, 2, Change::ProfileUpdated(patch))), Verdict::Applied);

    let row = live_profile(&fold, id);
    assert_eq!((row.handle.as_str(), row.display_name.as_str()), ("ada", "Ada L."));
    assert_eq!((row.version, row.last_position), (2, 5));
    assert!(row.update_time > row.create_time);
    assert!(fold.dirty_profiles.contains(&id));
}

#[test]
fn an_event_at_or_below_the_rows_position_is_a_duplicate() {
    let id = Uuid::new_v4();
    let mut fold = Fold::default();
    fold.apply(&at(3, 1, created(id, "ada")));
    let patch = ProfilePatch { id, bio: Some("x".into()), ..ProfilePatch::default() };
    assert_eq!(fold.apply(&at(3, 1, Change::ProfileUpdated(patch.clone()))), Verdict::Duplicate);
    assert_eq!(fold.apply(&at(2, 1, created(id, "ada"))), Verdict::Duplicate);
    assert_eq!(live_profile(&fold, id).bio, "");
}

#[test]
fn a_deleted_profile_is_never_resurrected_by_a_late_or_repeated_event() {
    let id = Uuid::new_v4();
    let mut fold = Fold::default();
    fold.apply(&at(1, 1, created(id, "ada")));
    assert_eq!(fold.apply(&at(4, 2, Change::ProfileDeleted { id })), Verdict::Applied);
    assert_eq!(fold.profiles[&id], Slot::Gone(4));
    assert_eq!(fold.apply(&at(1, 1, created(id, "ada"))), Verdict::Duplicate);
    let later = ProfilePatch { id, bio: Some("x".into()), ..ProfilePatch::default() };
    assert!(
        matches!(fold.apply(&at(9, 3, Change::ProfileUpdated(later))), Verdict::Rejected(r) if r.contains("deleted"))
    );
}

#[test]
fn an_update_of_an_unknown_profile_is_rejected_with_a_reason() {
    let id = Uuid::new_v4();
    let mut fold = Fold::default();
    let patch = ProfilePatch { id, bio: Some("x".into()), ..ProfilePatch::default() };
    match fold.apply(&at(7, 2, Change::ProfileUpdated(patch))) {
        Verdict::Rejected(reason) => {
            assert!(reason.contains(&id.to_string()) && reason.contains("not in the read model"))
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(fold.dirty_profiles.is_empty());
}

#[test]
fn site_events_refresh_their_owner_and_deletes_leave_tombstones() {
    let (owner, site) = (Uuid::new_v4(), Uuid::new_v4());
    let mut fold = Fold::default();
    assert_eq!(fold.apply(&at(2, 1, registered(site, owner, "a.example"))), Verdict::Applied);
    assert!(fold.refresh_owners.contains(&owner));
    fold.refresh_owners.clear();

    let patch = SitePatch { id: site, name: Some("A".into()), ..SitePatch::default() };
    assert_eq!(fold.apply(&at(3, 2, Change::SiteUpdated(patch))), Verdict::Applied);
    assert!(fold.refresh_owners.contains(&owner));
    assert_eq!(fold.apply(&at(4, 3, issued(site, "k1"))), Verdict::Applied);
    match &fold.sites[&site] {
        Slot::Live(s) => assert_eq!((s.name.as_str(), s.version, s.last_position), ("A", 3, 4)),
        Slot::Gone(_) => panic!("site is gone"),
    }
    fold.refresh_owners.clear();
    assert_eq!(fold.apply(&at(6, 4, Change::SiteDeleted { id: site })), Verdict::Applied);
    assert_eq!(fold.sites[&site], Slot::Gone(6));
    assert!(fold.refresh_owners.contains(&owner));
    assert_eq!(fold.apply(&at(2, 1, registered(site, owner, "a.example"))), Verdict::Duplicate);
}

#[test]
fn deleting_a_site_never_seen_still_guards_against_its_late_registration() {
    let (owner, site) = (Uuid::new_v4(), Uuid::new_v4());
    let mut fold = Fold::default();
    assert_eq!(fold.apply(&at(9, 2, Change::SiteDeleted { id: site })), Verdict::Applied);
    assert_eq!(fold.apply(&at(8, 1, registered(site, owner, "late.example"))), Verdict::Duplicate);
}

#[test]
fn read_keys_are_issued_and_revoked_once_and_move_their_sites_version() {
    let (owner, site) = (Uuid::new_v4(), Uuid::new_v4());
    let mut fold = Fold::default();
    fold.apply(&at(2, 1, registered(site, owner, "a.example")));
    assert_eq!(fold.apply(&at(3, 2, issued(site, "k1"))), Verdict::Applied);
    assert_eq!(fold.apply(&at(4, 3, issued(site, "k2"))), Verdict::Applied);
    assert_eq!(fold.apply(&at(5, 4, revoked(site, "k1"))), Verdict::Applied);
    let key = |fold: &Fold, k: &str| fold.keys[&(site, k.to_owned())].clone();
    assert_eq!((key(&fold, "k1").revoked, key(&fold, "k1").last_position), (true, 5));
    assert_eq!(
        (key(&fold, "k2").revoked, key(&fold, "k2").label.as_str(), key(&fold, "k2").key_hash.len()),
        (false, "dashboard", 32)
    );
    assert_eq!(fold.dirty_keys.len(), 2);
    match &fold.sites[&site] {
        Slot::Live(s) => assert_eq!((s.version, s.last_position), (4, 5)),
        Slot::Gone(_) => panic!("site is gone"),
    }

    // A re-delivered issue is a duplicate (the site's position covers it) and a revoked key
    // stays revoked.
    assert_eq!(fold.apply(&at(3, 2, issued(site, "k1"))), Verdict::Duplicate);
    assert!(key(&fold, "k1").revoked);
    // A second issue of a key id in use is a fact that contradicts the log: a dead letter.
    assert!(matches!(fold.apply(&at(6, 5, issued(site, "k1"))), Verdict::Rejected(r) if r.contains("already issued")));
    assert!(key(&fold, "k1").revoked);
    assert!(
        matches!(fold.apply(&at(7, 5, revoked(site, "nope"))), Verdict::Rejected(r) if r.contains("not in the read model"))
    );
}

#[test]
fn deleting_a_site_drops_its_keys_and_no_later_or_repeated_key_event_brings_them_back() {
    let (owner, site, other) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let mut fold = Fold::default();
    fold.apply(&at(1, 1, registered(site, owner, "a.example")));
    fold.apply(&at(2, 1, registered(other, owner, "b.example")));
    fold.apply(&at(3, 2, issued(site, "k1")));
    fold.apply(&at(4, 2, issued(other, "k1")));
    assert_eq!(fold.apply(&at(5, 3, Change::SiteDeleted { id: site })), Verdict::Applied);
    assert!(!fold.keys.contains_key(&(site, "k1".to_owned())));
    assert!(!fold.dirty_keys.contains(&(site, "k1".to_owned())));
    assert!(fold.keys.contains_key(&(other, "k1".to_owned())), "another site's key of the same id stays");

    assert_eq!(fold.apply(&at(3, 2, issued(site, "k1"))), Verdict::Duplicate);
    assert!(matches!(fold.apply(&at(9, 4, issued(site, "k9"))), Verdict::Rejected(r) if r.contains("deleted")));
    assert!(!fold.keys.contains_key(&(site, "k9".to_owned())));
}

#[test]
fn a_key_event_for_a_site_not_projected_is_rejected() {
    let site = Uuid::new_v4();
    let mut fold = Fold::default();
    assert!(
        matches!(fold.apply(&at(3, 2, issued(site, "k1"))), Verdict::Rejected(r) if r.contains("not in the read model"))
    );
    assert!(fold.keys.is_empty() && fold.dirty_keys.is_empty());
}
