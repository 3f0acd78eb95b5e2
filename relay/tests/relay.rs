//! The relay against real Postgres and a real Kafka-protocol broker (Tansu).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{PARTITIONS, Stack, assert_ordered_per_key, by_partition, complete, consume, copies, streams};
use tally_streaming::TOPICS;

const PAGE: i64 = 25;

fn topics() -> Vec<(&'static str, u32)> {
    TOPICS.iter().map(|t| (*t, PARTITIONS)).collect()
}

fn all_partitions() -> usize {
    TOPICS.len() * PARTITIONS as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_every_event_in_order_per_key_with_headers_and_watermarks() {
    let stack = Stack::start().await;
    let streams = streams();
    // Some events exist before the relay starts, more arrive while it runs (woken by NOTIFY).
    let mut expected = stack.append_many(&streams, 120, 8).await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let relay = stack.relay(stack.relay_config(PAGE)).spawn(shutdown.clone());
    expected.extend(stack.append_many(&streams, 80, 8).await);
    let head = stack.head().await;
    assert_eq!(head, 200);
    stack.await_checkpoint(head, Duration::from_secs(60)).await;

    let records = consume(&stack.broker.bootstrap(), &topics(), Duration::from_secs(60), move |r| {
        complete(r, head, all_partitions())
    })
    .await;
    assert!(complete(&records, head, all_partitions()), "every event and a watermark at {head} on every partition");

    // Exactly once without failures: the producer is idempotent.
    let copies = copies(&records);
    assert_eq!(copies.len() as u64, head);
    assert!(copies.values().all(|c| *c == 1), "no duplicates without a failure");

    let by_position: BTreeMap<u64, &common::Expected> = expected.iter().map(|e| (e.position, e)).collect();
    for r in records.iter().filter(|r| !r.incoming.is_watermark()) {
        let e = by_position[&r.incoming.position];
        let env = &r.incoming.envelope;
        assert_eq!(r.incoming.topic, e.topic, "position {}", e.position);
        assert_eq!(r.key.as_deref(), Some(e.key.as_str()), "position {}: key", e.position);
        assert_eq!(env.event_id, e.event_id);
        assert!(env.payload.len() > 1 && env.metadata.is_some() && env.recorded_at.is_some());
        assert_eq!(r.incoming.traceparent.as_deref(), Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
    }
    assert_ordered_per_key(&records);
    // Within a partition the relay publishes in global order.
    for ((topic, partition), events) in by_partition(&records) {
        let positions: Vec<u64> = events.iter().map(|r| r.incoming.position).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{topic}/{partition} out of global order: {positions:?}");
    }
    // A watermark follows the events it vouches for.
    for r in records.iter().filter(|r| r.incoming.is_watermark()) {
        let later = records.iter().any(|e| {
            !e.incoming.is_watermark()
                && (e.incoming.topic.as_str(), e.incoming.partition)
                    == (r.incoming.topic.as_str(), r.incoming.partition)
                && e.incoming.position <= r.incoming.position
                && e.incoming.offset > r.incoming.offset
        });
        assert!(!later, "an event at or below watermark {} came after it", r.incoming.position);
    }

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), relay).await.expect("relay stops").unwrap();
    assert_eq!(stack.leader_pid().await, None, "leadership released on shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_relay_takes_over_when_the_leaders_session_dies() {
    let stack = Stack::start().await;
    let streams = streams();
    let (stop_a, stop_b) = (tokio_util::sync::CancellationToken::new(), tokio_util::sync::CancellationToken::new());
    let relay_a = stack.relay(stack.relay_config(PAGE)).spawn(stop_a.clone());
    let first = stack.await_leader(None, Duration::from_secs(30)).await;
    let relay_b = stack.relay(stack.relay_config(PAGE)).spawn(stop_b.clone());

    stack.append_many(&streams, 150, 8).await;
    stack.await_checkpoint(50, Duration::from_secs(60)).await;
    // Freeze the checkpoint row while the leader's session is killed, so we know exactly
    // where the next leader resumes: nothing at or below it may be published twice.
    let killed_at = {
        let mut client = stack.client().await;
        let tx = client.transaction().await.unwrap();
        let at: i64 = tx
            .query_one("SELECT published_position FROM relay_checkpoint WHERE name = 'kafka' FOR UPDATE", &[])
            .await
            .unwrap()
            .get(0);
        let killed: bool = tx.query_one("SELECT pg_terminate_backend($1)", &[&first]).await.unwrap().get(0);
        assert!(killed);
        tx.commit().await.unwrap();
        at as u64
    };
    let second = stack.await_leader(Some(first), Duration::from_secs(30)).await;
    assert_ne!(first, second);

    stack.append_many(&streams, 150, 8).await;
    // Once more while the new leader is idle: nothing in flight covers for the next
    // leader, which must start exactly after the checkpoint.
    let caught_up = stack.head().await;
    stack.await_checkpoint(caught_up, Duration::from_secs(60)).await;
    stack.client().await.execute("SELECT pg_terminate_backend($1)", &[&second]).await.unwrap();
    stack.await_leader(Some(second), Duration::from_secs(30)).await;
    stack.append_many(&streams, 30, 8).await;

    let head = stack.head().await;
    stack.await_checkpoint(head, Duration::from_secs(60)).await;
    let records = consume(&stack.broker.bootstrap(), &topics(), Duration::from_secs(60), move |r| {
        complete(r, head, all_partitions())
    })
    .await;
    assert!(complete(&records, head, all_partitions()), "no event missing after the failovers");
    assert_ordered_per_key(&records);
    for (position, n) in copies(&records) {
        let around_failover = position > killed_at && position <= killed_at + PAGE as u64;
        assert!(n == 1 || around_failover, "position {position} published {n} times (checkpoint was {killed_at})");
    }

    stop_a.cancel();
    stop_b.cancel();
    for relay in [relay_a, relay_b] {
        tokio::time::timeout(Duration::from_secs(10), relay).await.expect("relay stops").unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_relay_resumes_from_its_checkpoint() {
    let stack = Stack::start().await;
    let streams = streams();
    stack.append_many(&streams, 300, 8).await;
    let head = stack.head().await;

    let mut config = stack.relay_config(10);
    // Small pages published slowly enough to crash mid-stream.
    config.producer.linger = Duration::from_millis(20);
    let crashed = stack.relay(config.clone()).spawn(tokio_util::sync::CancellationToken::new());
    stack.await_checkpoint(60, Duration::from_secs(60)).await;
    crashed.abort();
    assert!(crashed.await.unwrap_err().is_cancelled());
    // A checkpoint update already sent when the task died may still land; let it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let crashed_at = stack.checkpoint().await.unwrap();
    assert!(crashed_at < head, "the crash must happen mid-stream (checkpoint {crashed_at}, head {head})");

    let shutdown = tokio_util::sync::CancellationToken::new();
    let restarted = stack.relay(config.clone()).spawn(shutdown.clone());
    stack.await_checkpoint(head, Duration::from_secs(60)).await;
    // A clean stop, events written while no relay runs, a start: picked up exactly after
    // the checkpoint.
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), restarted).await.expect("relay stops").unwrap();
    stack.append_many(&streams, 20, 4).await;
    let head = stack.head().await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let restarted = stack.relay(config).spawn(shutdown.clone());
    stack.await_checkpoint(head, Duration::from_secs(60)).await;
    let records = consume(&stack.broker.bootstrap(), &topics(), Duration::from_secs(60), move |r| {
        complete(r, head, all_partitions())
    })
    .await;
    assert!(complete(&records, head, all_partitions()), "every event published at least once");
    assert_ordered_per_key(&records);
    for (position, n) in copies(&records) {
        assert!(n == 1 || position > crashed_at, "position {position} (≤ checkpoint {crashed_at}) published {n} times");
    }
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), restarted).await.expect("relay stops").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_relay_vouches_for_every_partition_even_those_without_events() {
    let stack = Stack::start().await;
    // One profile stream: a single partition of one topic gets events, the other five
    // partitions only watermarks.
    let one = vec![streams().remove(0)];
    stack.append_many(&one, 5, 1).await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let relay = stack.relay(stack.relay_config(PAGE)).spawn(shutdown.clone());
    stack.await_checkpoint(5, Duration::from_secs(60)).await;
    let records =
        consume(&stack.broker.bootstrap(), &topics(), Duration::from_secs(60), |r| complete(r, 5, all_partitions()))
            .await;
    assert!(complete(&records, 5, all_partitions()));
    let event_partitions = by_partition(&records);
    assert_eq!(event_partitions.len(), 1, "one key, one partition");
    for r in records.iter().filter(|r| r.incoming.is_watermark()) {
        assert_eq!(r.key, None, "watermarks are unkeyed");
        assert!(r.incoming.envelope.stream_id.is_empty() && r.incoming.envelope.payload.is_empty());
    }

    // Idle means one watermark per partition, not a stream of them.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again = consume(&stack.broker.bootstrap(), &topics(), Duration::from_secs(3), |_| false).await;
    let watermarks = again.iter().filter(|r| r.incoming.is_watermark()).count();
    assert_eq!(watermarks, all_partitions(), "exactly one watermark per partition once idle");

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), relay).await.expect("relay stops").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_do_not_wait_for_a_dead_broker_and_the_relay_resumes_when_it_is_back() {
    let mut stack = Stack::start().await;
    let streams = streams();
    let mut config = stack.relay_config(PAGE);
    config.producer.message_timeout = Duration::from_secs(2);
    config.admin_timeout = Duration::from_secs(2);
    config.backoff_max = Duration::from_millis(500);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let relay = stack.relay(config).spawn(shutdown.clone());
    stack.append_many(&streams, 40, 8).await;
    stack.await_checkpoint(40, Duration::from_secs(60)).await;

    let port = stack.broker.addr().port();
    stack.broker.service().kill_hard().await.unwrap();
    let started = std::time::Instant::now();
    stack.append_many(&streams, 40, 8).await;
    assert!(started.elapsed() < Duration::from_secs(5), "appends waited for Kafka: {:?}", started.elapsed());
    // Let the relay fail a delivery (2 s message timeout) and back off at least once.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(stack.checkpoint().await, Some(40), "nothing is checkpointed while the broker is down");

    // An empty broker where the old one was: everything after the checkpoint must arrive.
    stack.broker =
        tally_devstack::Broker::start(tally_devstack::BrokerOptions { port: Some(port), ..Default::default() })
            .await
            .unwrap();
    // The relay creates the topics on the new broker itself.
    stack.await_checkpoint(80, Duration::from_secs(60)).await;
    let records = consume(&stack.broker.bootstrap(), &topics(), Duration::from_secs(60), |r| {
        let positions = copies(r);
        (41..=80).all(|p| positions.contains_key(&p))
    })
    .await;
    let positions = copies(&records);
    let missing: Vec<u64> = (41..=80).filter(|p| !positions.contains_key(p)).collect();
    assert!(missing.is_empty(), "not re-published after the outage: {missing:?}");
    assert_ordered_per_key(&records);

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), relay).await.expect("relay stops").unwrap();
}
