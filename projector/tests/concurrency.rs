//! Two consumers on different partitions write the same profile rows (a
//! site's events move its owner's `sites` array): whatever the interleaving,
//! the result equals a single-threaded rebuild.

mod support;

use std::sync::Arc;

use support::Harness;
use tally_event_store::reader;
use tally_projector::{
    batch::Applier,
    message::{Message, Source},
};

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
    let events = reader::read_all(&**h.store.get().await.unwrap(), 0, 10_000, &Default::default()).await.unwrap();
    let (mut profiles, mut sites) = (Vec::new(), Vec::new());
    for event in events {
        let topic_partition = if event.category == "profile" { 0 } else { 1 };
        let mut m = Message::from_recorded(event);
        m.source = Source { topic: "t".into(), partition: topic_partition, offset: m.source.offset };
        if topic_partition == 0 { profiles.push(m) } else { sites.push(m) }
    }
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
