//! Issuing and revoking a site's read keys.

use super::*;

fn key(n: u8) -> ReadKeyId {
    ReadKeyId::parse(&format!("{n:016x}")).unwrap()
}

fn issue(n: u8) -> IssueReadKey {
    IssueReadKey::new(id(), key(n), [n; 32], "  grafana  ").unwrap()
}

fn issued(n: u8) -> SiteEvent {
    SiteEvent::ReadKeyIssued(SiteReadKeyIssued {
        site_id: id(),
        key_id: key(n),
        key_hash: [n; 32],
        label: ReadKeyLabel::parse("grafana").unwrap(),
    })
}

fn revoke(n: u8) -> RevokeReadKey {
    RevokeReadKey::new(id(), key(n).as_str()).unwrap()
}

fn revoked(n: u8) -> SiteEvent {
    SiteEvent::ReadKeyRevoked(SiteReadKeyRevoked { site_id: id(), key_id: key(n) })
}

#[test]
fn a_live_site_issues_a_key_with_a_trimmed_label_and_no_claims() {
    given::<Site>([registered()])
        .when(issue(1))
        .then_expect(vec![issued(1)])
        .then_expect_claims(vec![])
        .then_expect_state(|s| assert!(s.data().unwrap().read_keys.active.contains(&key(1))));
}

#[test]
fn keys_of_unknown_or_deleted_sites_are_refused() {
    let missing = DomainError::NotFound { kind: "site", id: id().to_string() };
    given_no_previous_events::<Site>().when(issue(1)).then_expect_error_eq(missing.clone());
    given_no_previous_events::<Site>().when(revoke(1)).then_expect_error_eq(missing);
    let gone = DomainError::Gone { kind: "site", id: id().to_string() };
    given::<Site>([registered(), issued(1), deleted()]).when(issue(2)).then_expect_error_eq(gone.clone());
    given::<Site>([registered(), issued(1), deleted()]).when(revoke(1)).then_expect_error_eq(gone);
}

#[test]
fn a_key_id_is_never_issued_twice_even_after_revocation() {
    let taken = DomainError::AlreadyExists { kind: "read key", id: key(1).as_str().to_owned() };
    given::<Site>([registered(), issued(1)]).when(issue(1)).then_expect_error_eq(taken.clone());
    given::<Site>([registered(), issued(1), revoked(1)]).when(issue(1)).then_expect_error_eq(taken);
}

#[test]
fn revoking_moves_the_key_to_revoked_and_twice_records_nothing() {
    given::<Site>([registered(), issued(1), issued(2)])
        .when(revoke(1))
        .then_expect(vec![revoked(1)])
        .then_expect_state(|s| {
            let keys = &s.data().unwrap().read_keys;
            assert_eq!(keys.active.iter().collect::<Vec<_>>(), [&key(2)]);
            assert_eq!(keys.revoked.iter().collect::<Vec<_>>(), [&key(1)]);
        });
    given::<Site>([registered(), issued(1), revoked(1)]).when(revoke(1)).then_expect_no_events();
}

#[test]
fn revoking_a_key_never_issued_is_not_found() {
    let missing = DomainError::NotFound { kind: "read key", id: key(9).as_str().to_owned() };
    given::<Site>([registered(), issued(1)]).when(revoke(9)).then_expect_error_eq(missing);
}

#[test]
fn a_site_holds_at_most_a_hundred_active_keys() {
    let history: Vec<SiteEvent> = std::iter::once(registered()).chain((0..100).map(issued)).collect();
    given::<Site>(history.clone())
        .when(issue(100))
        .then_expect_error(|e| matches!(e, DomainError::Invalid(v) if v.to_string().contains("100 active read keys")));
    // Revoking one makes room.
    let with_room: Vec<SiteEvent> = history.into_iter().chain([revoked(0)]).collect();
    given::<Site>(with_room).when(issue(100)).then_expect(vec![issued(100)]);
}

#[test]
fn labels_and_key_ids_are_validated_naming_the_field() {
    let long = "x".repeat(MAX_LABEL_CHARS + 1);
    let err = IssueReadKey::new(id(), key(1), [0; 32], &long).unwrap_err();
    assert_eq!(err.violations[0].field, "label", "{err}");
    assert!(IssueReadKey::new(id(), key(1), [0; 32], "tab\there").is_err());
    assert_eq!(IssueReadKey::new(id(), key(1), [0; 32], "").unwrap().label.as_str(), "");
    for bad in ["", "0123456789ABCDEF", "0123456789abcde", "0123456789abcdefa", "0123456789abcdeg"] {
        let err = RevokeReadKey::new(id(), bad).unwrap_err();
        assert_eq!(err.violations[0].field, "key_id", "{bad:?}: {err}");
    }
}

#[test]
fn key_events_store_no_secret_and_round_trip() {
    let json = serde_json::to_value(issued(3)).unwrap();
    assert_eq!(json["type"], "SiteReadKeyIssued");
    assert_eq!(serde_json::from_value::<SiteEvent>(json).unwrap(), issued(3));
    assert_eq!([issued(1), revoked(1)].map(|e| e.event_type()), ["SiteReadKeyIssued", "SiteReadKeyRevoked"]);
}

#[test]
fn a_token_is_hex_id_dot_base64url_secret_and_only_its_digest_leaves() {
    let token = ReadKeyToken::from_random([0xab; 8], [0; 32]);
    assert_eq!(token.key_id().as_str(), "abababababababab");
    assert_eq!(token.secret(), "A".repeat(READ_KEY_SECRET_CHARS));
    assert_eq!(token.to_string(), format!("abababababababab.{}", "A".repeat(43)));
    // SHA-256 of the secret's text, pinned: the query side computes the same from the header.
    assert_eq!(hex::encode(token.digest()), "0f007385b6f9d4b7eeb2748605afe1a984a0a3bfa3f014d09e2a784ce9e5cd1a");
    assert!(!format!("{token:?}").contains(token.secret()), "Debug never shows the secret");
    assert_eq!(ReadKeyToken::parse(&token.to_string()), Ok(token));
}

#[test]
fn only_well_formed_tokens_parse() {
    let secret = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde";
    assert!(ReadKeyToken::parse(&format!("0123456789abcdef.{secret}")).is_ok());
    for bad in [
        String::new(),
        format!("0123456789abcdef{secret}"),
        format!("0123456789ABCDEF.{secret}"),
        format!("0123456789abcde.{secret}"),
        format!("0123456789abcdef.{secret}="),
        format!("0123456789abcdef.{}", &secret[1..]),
        format!("0123456789abcdef.{}+", &secret[1..]),
        format!("0123456789abcdef.{secret} "),
    ] {
        assert!(ReadKeyToken::parse(&bad).is_err(), "{bad:?}");
    }
}
