//! Read keys of the statistics API: projected live exactly once, gone with their site,
//! rebuilt and verified like the other rows.

mod support;

use support::{Harness, Running};
use tally_projector::rebuild::{self, Options};
use uuid::Uuid;

async fn keys(h: &Harness) -> Vec<(Uuid, String, bool, String, i64)> {
    let client = h.read.get().await.unwrap();
    let rows = client
        .query("SELECT site_id, key_id, revoked, label, last_position FROM site_read_keys ORDER BY 1, 2", &[])
        .await
        .unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_projected_once_stay_revoked_and_go_with_their_site() {
    let mut h = Harness::new().await;
    let projector = Running::start(h.settings()).await;
    let owner = h.create_profile("keys_owner").await;
    let (a, b) = (h.register_site(owner, "a.example.com").await, h.register_site(owner, "b.example.com").await);
    let a1 = h.issue_key(a, "00000000000000a1", 1, "grafana").await;
    h.issue_key(a, "00000000000000a2", 2, "").await;
    let b1 = h.issue_key(b, "00000000000000a1", 3, "same id, other site").await;
    let revoked_at = h.revoke_key(a, "00000000000000a1").await;
    h.wait_projected(h.head).await;

    let (a_key, a_key2, b_key) = ("00000000000000a1".to_owned(), "00000000000000a2".to_owned(), "00000000000000a1");
    let mut expected = vec![
        (a, a_key.clone(), true, "grafana".to_owned(), revoked_at as i64),
        (a, a_key2.clone(), false, String::new(), a1 as i64 + 1),
        (b, b_key.to_owned(), false, "same id, other site".to_owned(), b1 as i64),
    ];
    expected.sort();
    assert_eq!(keys(&h).await, expected);
    let hash: Vec<u8> = h.query_one(&format!("SELECT key_hash FROM site_read_keys WHERE site_id = '{b}'")).await;
    assert_eq!(hash, vec![3; 32]);
    let site_version: i64 = h.query_one(&format!("SELECT version FROM sites WHERE id = '{a}'")).await;
    assert_eq!(site_version, 4, "key events move their site's version");
    projector.stop().await;

    // Everything delivered again (the offsets forgotten): nothing changes, nothing is
    // dead-lettered, the revoked key is still revoked.
    h.read
        .get()
        .await
        .unwrap()
        .execute("UPDATE projector_offsets SET next_offset = 0, position = 0", &[])
        .await
        .unwrap();
    let projector = Running::start(h.settings()).await;
    h.wait_projected(h.head).await;
    assert_eq!(keys(&h).await, expected);
    assert_eq!(h.query_one::<i64>("SELECT count(*) FROM dead_letters").await, 0);

    // A deleted site's keys stop working; a key event after the deletion cannot bring one back.
    h.delete_site(a).await;
    h.issue_key(a, "00000000000000a3", 4, "late").await;
    h.wait_projected(h.head).await;
    assert_eq!(keys(&h).await, vec![expected[2].clone()]);
    assert_eq!(h.query_one::<i64>("SELECT count(*) FROM dead_letters").await, 1, "the late issue is a dead letter");
    projector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_in_rounds_rebuilds_the_keys_and_verifies_them() {
    let mut h = Harness::new().await;
    let projector = Running::start(h.settings()).await;
    h.populate(30, 1).await;
    let owner = h.create_profile("keys_owner").await;
    let mut sites = Vec::new();
    for i in 0..12 {
        let site = h.register_site(owner, &format!("k{i}.example.com")).await;
        h.issue_key(site, &format!("{i:016x}"), i as u8, &format!("key {i}")).await;
        h.issue_key(site, &format!("{:016x}", i + 100), 7, "second").await;
        sites.push(site);
    }
    // Spread over the history, so a later page revokes or deletes what an earlier round wrote.
    h.populate(30, 2).await;
    for (i, site) in sites.iter().enumerate() {
        match i % 3 {
            0 => drop(h.revoke_key(*site, &format!("{i:016x}")).await),
            1 => drop(h.delete_site(*site).await),
            _ => {}
        }
    }
    h.wait_projected(h.head).await;
    projector.stop().await;
    let live = h.keys_snapshot("site_read_keys_v1").await;
    assert_eq!(live.len(), 2 * 12 - 2 * 4, "the deleted sites' keys are gone");

    let options = Options { page: 20, memory_budget: 8 * 1024, ..Options::default() };
    let report = rebuild::profiles(&h.settings(), options, Default::default()).await.unwrap();
    assert!(report.rounds > 3, "the budget forced several rounds: {report}");
    assert_eq!(h.keys_snapshot("site_read_keys_v2").await, live);
    assert_eq!(h.keys_snapshot("site_read_keys").await, live, "the view is switched with the others");
    let figure = |name: &str| report.figures.iter().find(|f| f.0 == name).map(|f| f.1);
    assert_eq!(figure("read keys: count(*)"), Some(16));
    assert_eq!(figure("read keys: count(*) FILTER (WHERE revoked)"), Some(4));

    // The verifier notices a key that is revoked in the tables but not in the event store.
    let mut model = rebuild::verify::Model::default();
    let client = h.store.get().await.unwrap();
    let events = tally_event_store::reader::read_all(&client, 0, 10_000, &Default::default()).await.unwrap();
    events.iter().for_each(|e| model.observe(e));
    let read = h.read.get().await.unwrap();
    read.execute("UPDATE site_read_keys_v2 SET revoked = true WHERE NOT revoked AND key_id LIKE '%64'", &[])
        .await
        .unwrap();
    let tables = tally_projector::schema::VersionTables::new(2);
    let measured = rebuild::verify::measure(&**read, &tables).await.unwrap();
    let mismatches = rebuild::verify::compare(&model.figures(), &measured);
    assert_eq!(mismatches.len(), 1, "{mismatches:?}");
    assert!(mismatches[0].starts_with("read keys: count(*) FILTER (WHERE revoked)"), "{mismatches:?}");
}
