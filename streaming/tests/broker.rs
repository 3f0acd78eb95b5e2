//! The wire format against a real Kafka-protocol broker (Tansu): topics are created, an
//! idempotent lz4 producer's records come back byte-exact with their headers, in order.

use std::time::{Duration, Instant};

use chrono::Utc;
use tally_devstack::{Broker, BrokerOptions};
use tally_event_store::{EventMetadata, RecordedEvent};
use tally_streaming::{
    Incoming, PROFILE_TOPIC, TOPICS,
    admin::{ensure_topics, partition_count},
    config::{ConsumerOptions, ProducerOptions, consumer_config, producer_config},
    encode, envelope,
    headers::RecordHeaders,
    key_for,
    rdkafka::{
        Offset, TopicPartitionList,
        consumer::{BaseConsumer, Consumer},
        producer::{FutureProducer, FutureRecord, Producer},
        util::Timeout,
    },
};
use uuid::Uuid;

fn event(position: u64, stream: &str) -> RecordedEvent {
    RecordedEvent {
        global_position: position,
        event_id: Uuid::now_v7(),
        stream_id: stream.into(),
        category: "profile".into(),
        stream_version: position,
        event_type: "tally.v1.ProfileUpdated".into(),
        schema_version: 1,
        payload: vec![position as u8; 64],
        metadata: EventMetadata {
            traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
            ..Default::default()
        },
        recorded_at: Utc::now(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_round_trip_through_tansu() {
    let broker = Broker::start(BrokerOptions::default()).await.unwrap();
    let brokers = broker.bootstrap();
    let topics: Vec<(&str, i32)> = TOPICS.iter().map(|t| (*t, 3)).collect();
    ensure_topics(&brokers, &topics, Duration::from_secs(10)).await.unwrap();
    ensure_topics(&brokers, &topics, Duration::from_secs(10)).await.expect("creating existing topics is a no-op");

    let producer: FutureProducer = producer_config(&brokers, &ProducerOptions::default()).create().unwrap();
    let client = producer.clone();
    let partitions =
        tokio::task::spawn_blocking(move || partition_count(client.client(), PROFILE_TOPIC, Duration::from_secs(10)))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(partitions, 3);

    let stream = format!("profile-{}", Uuid::now_v7());
    let sent: Vec<RecordedEvent> = (1..=20).map(|p| event(p, &stream)).collect();
    let mut deliveries = Vec::new();
    for e in &sent {
        let key = key_for(e);
        let value = encode(&envelope(e));
        let record =
            FutureRecord::to(PROFILE_TOPIC).key(&key).payload(&value).headers(RecordHeaders::for_event(e).to_kafka());
        deliveries.push(producer.send_result(record).map_err(|(e, _)| e).unwrap());
    }
    let mut partition = None;
    for d in deliveries {
        let delivered = d.await.unwrap().map_err(|(e, _)| e).unwrap();
        assert!(partition.is_none_or(|p| p == delivered.partition), "one key, one partition");
        partition = Some(delivered.partition);
    }
    producer.flush(Timeout::After(Duration::from_secs(5))).unwrap();

    let consumer: BaseConsumer =
        consumer_config(&brokers, &ConsumerOptions::new(format!("test-{}", Uuid::now_v7()))).create().unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(PROFILE_TOPIC, partition.unwrap(), Offset::Beginning).unwrap();
    consumer.assign(&assignment).unwrap();
    let consumer = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut got = Vec::new();
        while got.len() < 20 && Instant::now() < deadline {
            if let Some(message) = consumer.poll(Duration::from_millis(200)) {
                got.push(Incoming::parse(&message.unwrap()).unwrap());
            }
        }
        got
    });
    let got = consumer.await.unwrap();
    assert_eq!(got.len(), 20, "all records came back within 30 s");
    for (incoming, e) in got.iter().zip(&sent) {
        assert_eq!(incoming.envelope, envelope(e), "in order and byte-exact");
        assert_eq!(incoming.position, e.global_position);
        assert_eq!(incoming.traceparent.as_deref(), Some(e.metadata.traceparent.as_str()));
    }
}
