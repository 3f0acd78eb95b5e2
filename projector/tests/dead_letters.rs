//! Poison events: they go to `dead_letters` with a reason and their bytes,
//! the projector keeps going, and an operator can list and retry them.

mod support;

use std::process::Command;

use prost::Message as _;
use support::{Harness, Running};
use tally_projector::retry::{self, RetryOutcome};
use tally_proto::{convert::event_types as t, v1};
use uuid::Uuid;

fn projector_cli(h: &Harness, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_projector"))
        .args(args)
        .envs(h.env())
        .env("RUST_LOG", "warn")
        .output()
        .expect("the projector binary runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_event_is_dead_lettered_and_the_projector_keeps_going() {
    let mut h = Harness::new().await;
    let projector = Running::start(h.settings()).await;
    let before = h.create_profile("before").await;
    let poison_stream = format!("profile-{}", Uuid::now_v7());
    let poison_at = h.append(&poison_stream, t::PROFILE_CREATED, b"\xff\xfe garbage, not protobuf".to_vec()).await;
    let after = h.create_profile("after").await;
    h.wait_projected(h.head).await;

    assert!(h.profile(before).await.is_some() && h.profile(after).await.is_some(), "neighbours are projected");
    let client = h.read.get().await.unwrap();
    let letter = client
        .query_one("SELECT id, reason, raw, event_type, global_position, resolved FROM dead_letters", &[])
        .await
        .unwrap();
    let (id, reason): (i64, String) = (letter.get(0), letter.get(1));
    assert!(reason.contains("tally.v1.ProfileCreated") && reason.contains("not valid protobuf"), "{reason}");
    let raw: Vec<u8> = letter.get(2);
    let envelope = v1::EventEnvelope::decode(raw.as_slice()).expect("raw bytes are the event's envelope");
    assert_eq!(envelope.payload, b"\xff\xfe garbage, not protobuf");
    assert_eq!(envelope.stream_id, poison_stream);
    assert_eq!(letter.get::<_, Option<String>>(3).as_deref(), Some(t::PROFILE_CREATED));
    assert_eq!(letter.get::<_, Option<i64>>(4), Some(poison_at as i64));
    assert!(!letter.get::<_, bool>(5));

    // Retrying without fixing anything fails again, clearly, and stays open.
    let outcomes = retry::retry(&h.read, retry::Which::One(id)).await.unwrap();
    match &outcomes[..] {
        [(got, RetryOutcome::Failed(why))] => {
            assert_eq!(*got, id);
            assert!(why.contains("not valid protobuf"), "{why}");
        }
        other => panic!("expected one failure, got {other:?}"),
    }
    let (resolved, retried): (bool, bool) = {
        let r = client
            .query_one("SELECT resolved, retried_at IS NOT NULL FROM dead_letters WHERE id = $1", &[&id])
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert!(!resolved && retried);

    // The operator's view, through the real binary.
    let list = projector_cli(&h, &["dead-letters", "list"]);
    assert!(list.status.success(), "{}", String::from_utf8_lossy(&list.stderr));
    let table = String::from_utf8(list.stdout).unwrap();
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table.contains(&format!("{id} ")) && table.contains("retried") && table.contains("not valid protobuf"),
        "{table}"
    );
    let retried = projector_cli(&h, &["dead-letters", "retry", &id.to_string()]);
    assert!(!retried.status.success(), "a retry that still fails must fail the command");
    let out = String::from_utf8_lossy(&retried.stdout);
    assert!(out.contains(&format!("{id}: still failing")) && out.contains("not valid protobuf"), "{out}");
    projector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_the_database_refuses_costs_only_its_own_event() {
    let mut h = Harness::new().await;
    // One page holds all of these, so the batch write fails as a whole and
    // falls back to per-event savepoints.
    let good = h.create_profile("good_one").await;
    let bad = Uuid::now_v7();
    let payload = v1::ProfileCreated {
        profile_id: bad.to_string(),
        handle: "nul_byte".into(),
        display_name: "bad\u{0}name".into(),
        ..Default::default()
    };
    h.append(&format!("profile-{bad}"), t::PROFILE_CREATED, payload.encode_to_vec()).await;
    let also_good = h.create_profile("good_two").await;
    let projector = Running::start(h.settings()).await;
    h.wait_projected(h.head).await;

    assert!(h.profile(good).await.is_some() && h.profile(also_good).await.is_some());
    assert!(h.profile(bad).await.is_none());
    let reason: String = h.query_one("SELECT reason FROM dead_letters").await;
    assert!(reason.contains("refused"), "{reason}");
    projector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_that_now_succeeds_resolves_the_dead_letter() {
    let mut h = Harness::new().await;
    let projector = Running::start(h.settings()).await;
    // An update of a profile whose creation never reached the read model
    // (here: it was never written) is refused with a reason…
    let id = Uuid::now_v7();
    h.update_profile(v1::ProfileUpdated { profile_id: id.to_string(), bio: Some("late".into()), ..Default::default() })
        .await;
    h.wait_projected(h.head).await;
    let reason: String = h.query_one("SELECT reason FROM dead_letters").await;
    assert!(reason.contains("not in the read model"), "{reason}");

    // …and once the row exists (an operator repaired it), the retry applies it.
    let client = h.read.get().await.unwrap();
    client
        .execute(
            "INSERT INTO profile_view_v1 (id, handle, display_name, email, bio, avatar_url, attributes, version, \
             create_time, update_time, last_position) VALUES ($1, 'fixed', 'F', 'f@example.com', '', '', '{}', 0, now(), now(), 0)",
            &[&id],
        )
        .await
        .unwrap();
    let outcomes = retry::retry(&h.read, retry::Which::AllOpen).await.unwrap();
    assert!(matches!(&outcomes[..], [(_, RetryOutcome::Resolved)]), "{outcomes:?}");
    assert_eq!(h.profile(id).await.unwrap().get::<_, String>("bio"), "late");
    assert_eq!(h.query_one::<i64>("SELECT count(*) FROM dead_letters WHERE NOT resolved").await, 0);
    let list = projector_cli(&h, &["dead-letters", "list"]);
    assert_eq!(String::from_utf8_lossy(&list.stdout), "no dead letters\n");
    let all = projector_cli(&h, &["dead-letters", "list", "--all"]);
    assert!(String::from_utf8_lossy(&all.stdout).contains("resolved"));
    projector.stop().await;
}
