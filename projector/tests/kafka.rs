//! Kafka mode end to end: the real relay publishes the event store to a real
//! Kafka-protocol broker (Tansu); the projector consumes it.

mod support;

use std::time::{Duration, Instant};

use support::{Harness, Running};
use tally_devstack::{Broker, BrokerOptions};
use tally_event_store::tail::Listener;
use tally_projector::settings::Assignment;
use tally_relay::{Relay, RelayConfig};
use tally_streaming::{
    PROFILE_TOPIC,
    config::{ProducerOptions, producer_config},
    rdkafka::producer::{FutureProducer, FutureRecord},
};
use tokio_util::sync::CancellationToken;

const PARTITIONS: u32 = 3;

async fn start_relay(h: &Harness, broker: &Broker, stop: &CancellationToken) {
    let pg: tokio_postgres::Config = h.write_url.parse().unwrap();
    let listener = Listener::spawn(pg.clone(), stop.clone());
    let mut config = RelayConfig::new(broker.bootstrap(), PARTITIONS as i32);
    config.backoff_min = Duration::from_millis(50);
    Relay::new(h.store.clone(), pg, listener, config).expect("valid relay config").spawn(stop.clone());
}

async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_projector_consumes_the_relayed_topics_with_offsets_in_the_read_db() {
    let mut h = Harness::new().await;
    let broker = Broker::start(BrokerOptions::default()).await.expect("tansu starts");
    for topic in tally_streaming::TOPICS {
        broker.create_topic(topic, PARTITIONS).await.unwrap();
    }
    let stop = CancellationToken::new();
    start_relay(&h, &broker, &stop).await;
    let settings = h.kafka_settings(&broker.bootstrap(), Assignment::Manual);
    let projector = Running::start(settings.clone()).await;

    h.populate(60, 1).await;
    // Watermarks reach every partition, so min(position) catches up to the head.
    h.wait_projected(h.head).await;

    // Garbage on the topic is dead-lettered with its bytes; the projector goes on.
    let producer: FutureProducer = producer_config(&broker.bootstrap(), &ProducerOptions::default()).create().unwrap();
    producer
        .send(
            FutureRecord::<str, [u8]>::to(PROFILE_TOPIC).partition(1).payload(b"\x00garbage".as_slice()),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    wait_for("the dead letter", async || h.query_one::<i64>("SELECT count(*) FROM dead_letters").await == 1).await;
    let client = h.read.get().await.unwrap();
    let letter = client.query_one("SELECT topic, partition, reason, raw FROM dead_letters", &[]).await.unwrap();
    assert_eq!((letter.get::<_, String>(0), letter.get::<_, i32>(1)), (PROFILE_TOPIC.to_owned(), 1));
    assert!(letter.get::<_, String>(2).contains("tally.v1.EventEnvelope"), "{}", letter.get::<_, String>(2));
    assert_eq!(letter.get::<_, Vec<u8>>(3), b"\x00garbage");

    let after = h.create_profile("after_garbage").await;
    h.wait_projected(h.head).await;
    assert!(h.profile(after).await.is_some());
    projector.stop().await;

    // Written while the projector is down; it resumes at its stored offsets
    // (a row removed behind its back stays removed: nothing is re-read).
    client.execute("DELETE FROM profile_view_v1 WHERE id = $1", &[&after]).await.unwrap();
    // Positions also de-duplicate re-read events; forget them so only the
    // offsets decide where consumption resumes.
    client.execute("UPDATE projector_offsets SET position = 0", &[]).await.unwrap();
    h.populate(30, 2).await;
    let projector = Running::start(settings).await;
    h.wait_projected(h.head).await;
    projector.stop().await;
    stop.cancel();
    assert!(h.profile(after).await.is_none(), "events before the stored offsets were consumed again");

    let rows = client
        .query(
            "SELECT partition, next_offset, position FROM projector_offsets WHERE topic = $1 ORDER BY 1",
            &[&PROFILE_TOPIC],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), PARTITIONS as usize, "one offsets row per partition");
    for r in &rows {
        assert!(r.get::<_, i64>(1) > 0 && r.get::<_, i64>(2) >= h.head as i64, "partition {} lags", r.get::<_, i32>(0));
    }
    assert_eq!(h.query_one::<i64>("SELECT count(*) FROM dead_letters").await, 1, "no spurious dead letters");

    // Out-of-order partitions and all, the result equals a rebuild from the store.
    let live_profiles = h.snapshot("profile_view_v1").await;
    let live_sites = h.snapshot("site_view_v1").await;
    let options = tally_projector::rebuild::Options { page: 500, ..Default::default() };
    tally_projector::rebuild::profiles(&h.settings(), options, Default::default()).await.unwrap();
    let mut rebuilt = h.snapshot("profile_view_v2").await;
    rebuilt.retain(|row| !row.contains(&after.to_string()));
    assert_eq!(rebuilt, live_profiles, "equal but for the row removed by hand");
    assert_eq!(h.snapshot("site_view_v2").await, live_sites);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_group_member_resumes_each_assigned_partition_at_its_stored_offset() {
    let mut h = Harness::new().await;
    let broker = Broker::start(BrokerOptions::default()).await.expect("tansu starts");
    for topic in tally_streaming::TOPICS {
        broker.create_topic(topic, PARTITIONS).await.unwrap();
    }
    let stop = CancellationToken::new();
    start_relay(&h, &broker, &stop).await;
    let mut settings = h.kafka_settings(&broker.bootstrap(), Assignment::Group);
    settings.kafka.group_id = format!("projector-{}", uuid::Uuid::new_v4().simple());
    let consumer = settings.kafka.group_id.clone();
    let projector = Running::start(settings.clone()).await;

    let early = h.create_profile("early_bird").await;
    h.populate(20, 1).await;
    wait_projected_for(&h, &consumer, h.head, Duration::from_secs(90)).await;
    projector.stop().await;

    // A row removed behind the projector's back stays removed only if the
    // restarted member does not re-read what its offsets say it applied.
    let client = h.read.get().await.unwrap();
    client.execute("DELETE FROM profile_view_v1 WHERE id = $1", &[&early]).await.unwrap();
    // Positions also de-duplicate re-read events; forget them so only the
    // offsets decide where consumption resumes.
    client.execute("UPDATE projector_offsets SET position = 0", &[]).await.unwrap();
    let late = h.create_profile("late_bird").await;
    let projector = Running::start(settings).await;
    wait_projected_for(&h, &consumer, h.head, Duration::from_secs(90)).await;
    projector.stop().await;
    stop.cancel();
    assert!(h.profile(late).await.is_some(), "new events are applied");
    assert!(h.profile(early).await.is_none(), "events before the stored offsets were not consumed again");
}

async fn wait_projected_for(h: &Harness, consumer: &str, position: u64, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let client = h.read.get().await.unwrap();
        let at = tally_projector::offsets::projected_position(&**client, consumer).await.unwrap();
        if at.is_some_and(|p| p as u64 >= position) {
            return;
        }
        assert!(Instant::now() < deadline, "group member did not reach {position} (at {at:?})");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
