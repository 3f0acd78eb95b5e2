//! Two consumers (or two lanes of one) on different partitions write the same
//! profile rows (a site's events move its owner's `sites` array): whatever the
//! interleaving, the result equals a single-threaded rebuild, and neither
//! waits for the other's offsets.

mod support;

use std::{sync::Arc, time::Duration};

use support::Harness;
use tally_event_store::reader;
use tally_projector::{
    batch::Applier,
    message::{Message, Source},
};

/// The global order as two partitions of topic `t`: profile events in 0, the rest in 1.
async fn two_partitions(h: &Harness) -> (Vec<Message>, Vec<Message>) {
    let events = reader::read_all(&h.store.get().await.unwrap(), 0, 10_000, &Default::default()).await.unwrap();
    let (mut profiles, mut others) = (Vec::new(), Vec::new());
    for event in events {
        let partition = if event.category == "profile" { 0 } else { 1 };
        let mut m = Message::from_recorded(event);
        m.source = Source { topic: "t".into(), partition, offset: m.source.offset };
        if partition == 0 { profiles.push(m) } else { others.push(m) }
    }
    (profiles, others)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_writes_the_offsets_of_its_own_partitions_only() {
    let mut h = Harness::new().await;
    let owner = h.create_profile("owner").await;
    h.register_site(owner, "lanes.example.com").await;
    h.create_profile("second").await;
    let (profiles, sites) = two_partitions(&h).await;
    let applier = Applier::new(h.read.clone(), "tally-projector");
    applier.apply(&sites).await.unwrap();
    let offsets = || async {
        let client = h.read.get().await.unwrap();
        let sql = "SELECT partition || ':' || next_offset || ':' || position FROM projector_offsets \
                   WHERE consumer = 'tally-projector' AND topic = 't' ORDER BY partition";
        client.query(sql, &[]).await.unwrap().iter().map(|r| r.get(0)).collect::<Vec<String>>()
    };
    let before = offsets().await;

    // Another lane is in the middle of a batch of partition 1: its offsets row is locked.
    let mut other = h.read.get().await.unwrap();
    let lane = other.transaction().await.unwrap();
    lane.execute("SELECT 1 FROM projector_offsets WHERE topic = 't' AND partition = 1 FOR UPDATE", &[]).await.unwrap();
    let applied = tokio::time::timeout(Duration::from_secs(10), applier.apply(&profiles)).await;
    let report = applied.expect("a batch of partition 0 waited for partition 1's offsets row").unwrap();
    assert_eq!(report.applied, 2);
    lane.rollback().await.unwrap();

    let after = offsets().await;
    assert_eq!(before.len(), 1, "only partition 1 was applied: {before:?}");
    assert_eq!(after[1], before[0], "partition 1's progress is untouched");
    let last = profiles.last().unwrap().source.offset;
    assert_eq!(after[0], format!("0:{}:{last}", last + 1), "partition 0 resumes after its last message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_applied_concurrently_converge_to_the_rebuilt_state() {
    let mut h = Harness::new().await;
    let mut owners = Vec::new();
    for i in 0..60 {
        owners.push(h.create_profile(&format!("owner_{i}")).await);
    }
    for (i, owner) in owners.iter().enumerate() {
        for n in 0..3 {
            h.register_site(*owner, &format!("s{n}-{i}.example.com")).await;
        }
    }
    // Split the global order into two "partitions" as the relay would:
    // profiles in one, sites in the other, each in its own order.
    let (profiles, sites) = two_partitions(&h).await;
    // Sites first in time: most are projected before their owner exists.
    let applier = Arc::new(Applier::new(h.read.clone(), "tally-projector"));
    let run = |messages: Vec<Message>, chunk: usize| {
        let applier = applier.clone();
        tokio::spawn(async move {
            for batch in messages.chunks(chunk) {
                applier.apply(batch).await.unwrap();
            }
        })
    };
    let (a, b) = (run(sites, 7), run(profiles, 5));
    a.await.unwrap();
    b.await.unwrap();

    let live_profiles = h.snapshot("profile_view_v1").await;
    let live_sites = h.snapshot("site_view_v1").await;
    let options = tally_projector::rebuild::Options { page: 1000, ..Default::default() };
    tally_projector::rebuild::profiles(&h.settings(), options, Default::default()).await.unwrap();
    assert_eq!(h.snapshot("site_view_v2").await, live_sites);
    assert_eq!(h.snapshot("profile_view_v2").await, live_profiles, "every owner's sites array is complete");
    let embedded: i64 = h.query_one("SELECT sum(jsonb_array_length(sites))::int8 FROM profile_view_v1").await;
    assert_eq!(embedded, 180);
}
