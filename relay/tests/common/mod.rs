//! A write DB on a throw-away Postgres, a throw-away Tansu broker, an appender to write
//! events and a consumer that reads every partition from the beginning.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use prost::Message as _;
use tally_devstack::{Broker, BrokerOptions};
use tally_event_store::{
    AppendRequest, Appender, AppenderConfig, EventMetadata, ExpectedVersion, NewEvent, migrate, reader, tail::Listener,
};
use tally_relay::{Relay, RelayConfig, checkpoint, leader::LOCK_CLASS};
use tally_streaming::{
    Incoming,
    config::{ConsumerOptions, consumer_config},
    rdkafka::{
        Message, Offset, TopicPartitionList,
        consumer::{BaseConsumer, Consumer},
    },
};
use tokio_util::sync::CancellationToken;

pub const PARTITIONS: u32 = 3;

pub struct Stack {
    pub db_url: String,
    pub pg: tokio_postgres::Config,
    pub pool: Pool,
    pub broker: Broker,
    pub listener: Listener,
    pub appender: Appender,
    stop: CancellationToken,
}

impl Stack {
    /// Fresh DB (migrated) and broker with both topics at [`PARTITIONS`] partitions.
    pub async fn start() -> Stack {
        init_logs();
        let (_cluster, db_url) = tally_devstack::fresh_database().await.expect("throw-away Postgres");
        let pg: tokio_postgres::Config = db_url.parse().unwrap();
        migrate::run(&pg).await.expect("migrations");
        let pool = Pool::builder(deadpool_postgres::Manager::new(pg.clone(), tokio_postgres::NoTls))
            .max_size(8)
            .build()
            .unwrap();
        let broker = Broker::start(BrokerOptions::default()).await.expect("tansu starts");
        for topic in tally_streaming::TOPICS {
            broker.create_topic(topic, PARTITIONS).await.expect("topic created");
        }
        let stop = CancellationToken::new();
        let listener = Listener::spawn(pg.clone(), stop.clone());
        let (appender, _task) = Appender::spawn(pool.clone(), AppenderConfig { max_batch: 64, queue_capacity: 1024 });
        Stack { db_url, pg, pool, broker, listener, appender, stop }
    }

    pub fn relay_config(&self, page_size: i64) -> RelayConfig {
        let mut config = RelayConfig::new(self.broker.bootstrap(), PARTITIONS as i32);
        config.page_size = page_size;
        config.backoff_min = Duration::from_millis(50);
        config
    }

    pub fn relay(&self, config: RelayConfig) -> Relay {
        Relay::new(self.pool.clone(), self.pg.clone(), self.listener.clone(), config).expect("valid relay config")
    }

    pub async fn client(&self) -> deadpool_postgres::Object {
        self.pool.get().await.unwrap()
    }

    pub async fn head(&self) -> u64 {
        reader::head_position(&*self.client().await).await.unwrap()
    }

    pub async fn checkpoint(&self) -> Option<u64> {
        checkpoint::read(&**self.client().await, "kafka").await.unwrap()
    }

    /// Waits (bounded) until the checkpoint reaches `position`.
    pub async fn await_checkpoint(&self, position: u64, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let now = self.checkpoint().await;
            if now.is_some_and(|c| c >= position) {
                return;
            }
            assert!(Instant::now() < deadline, "checkpoint {now:?} did not reach {position} within {within:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The backend pid holding the relay leadership lock in this test's database, if any
    /// (`pg_locks` shows every database of the shared cluster).
    pub async fn leader_pid(&self) -> Option<i32> {
        self.client()
            .await
            .query_opt(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::int::oid AND granted \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                &[&LOCK_CLASS],
            )
            .await
            .unwrap()
            .map(|r| r.get(0))
    }

    /// Waits (bounded) until some relay leads; returns its backend pid.
    pub async fn await_leader(&self, other_than: Option<i32>, within: Duration) -> i32 {
        let deadline = Instant::now() + within;
        loop {
            if let Some(pid) = self.leader_pid().await
                && Some(pid) != other_than
            {
                return pid;
            }
            assert!(Instant::now() < deadline, "no (new) relay leader within {within:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Appends one event to `stream` and returns the event's expectation.
    pub async fn append(&self, stream: &Stream, n: u64) -> Expected {
        let (event_type, payload) = match stream.category {
            "analytics" => (
                "tally.v1.AnalyticsEventRecorded",
                tally_proto::v1::AnalyticsEventRecorded {
                    site_id: stream.id.clone(),
                    visitor_id: format!("visitor{}", n % 4),
                    name: "pageview".into(),
                    ..Default::default()
                }
                .encode_to_vec(),
            ),
            _ => ("tally.v1.ProfileUpdated", format!("update {n}").into_bytes()),
        };
        let event_id = uuid::Uuid::now_v7();
        let request = AppendRequest {
            stream_id: format!("{}-{}", stream.category, stream.id),
            category: stream.category.into(),
            expected: ExpectedVersion::Any,
            events: vec![NewEvent {
                event_id,
                event_type: event_type.into(),
                schema_version: 1,
                payload,
                metadata: EventMetadata {
                    traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
                    ..Default::default()
                },
            }],
            claims: vec![],
            command_id: None,
            fingerprint: vec![],
        };
        let result = self.appender.append(request).await.expect("append");
        let key = match stream.category {
            "analytics" => format!("{}:visitor{}", stream.id, n % 4),
            _ => stream.id.clone(),
        };
        let topic = tally_streaming::topic_for(stream.category).unwrap();
        Expected { position: result.global_position, event_id: event_id.to_string(), topic, key }
    }

    /// Appends `n` events spread over `streams`, `concurrency` at a time, so the global
    /// order interleaves streams.
    pub async fn append_many(&self, streams: &[Stream], n: u64, concurrency: usize) -> Vec<Expected> {
        let mut out = Vec::new();
        let indices: Vec<u64> = (0..n).collect();
        for chunk in indices.chunks(concurrency) {
            let writes = chunk.iter().map(|i| self.append(&streams[*i as usize % streams.len()], *i));
            out.extend(futures::future::join_all(writes).await);
        }
        out
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Relay logs in the test output (shown for failing tests), at `RUST_LOG` or info.
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
}

/// A stream to write to: a profile, a site or a site's analytics.
#[derive(Debug, Clone)]
pub struct Stream {
    pub category: &'static str,
    pub id: String,
}

pub fn streams() -> Vec<Stream> {
    let ids = || uuid::Uuid::now_v7().to_string();
    let mut streams: Vec<Stream> = (0..6).map(|_| Stream { category: "profile", id: ids() }).collect();
    streams.extend((0..2).map(|_| Stream { category: "site", id: ids() }));
    streams.extend((0..2).map(|_| Stream { category: "analytics", id: ids() }));
    streams
}

/// What the relay should publish for one appended event.
#[derive(Debug, Clone)]
pub struct Expected {
    pub position: u64,
    pub event_id: String,
    pub topic: &'static str,
    pub key: String,
}

/// One consumed record.
#[derive(Debug, Clone)]
pub struct Consumed {
    pub key: Option<String>,
    pub incoming: Incoming,
}

/// Every record of every partition of `topics`, read from the beginning until `done`
/// says so (or `within` passes: the caller's assertions then show what is missing).
pub async fn consume(
    brokers: &str,
    topics: &[(&'static str, u32)],
    within: Duration,
    done: impl Fn(&[Consumed]) -> bool + Send + 'static,
) -> Vec<Consumed> {
    let consumer: BaseConsumer =
        consumer_config(brokers, &ConsumerOptions::new(format!("test-{}", uuid::Uuid::now_v7()))).create().unwrap();
    let mut assignment = TopicPartitionList::new();
    for (topic, partitions) in topics {
        for p in 0..*partitions {
            assignment.add_partition_offset(topic, p as i32, Offset::Beginning).unwrap();
        }
    }
    consumer.assign(&assignment).unwrap();
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + within;
        let mut got = Vec::new();
        while !done(&got) && Instant::now() < deadline {
            if let Some(message) = consumer.poll(Duration::from_millis(100)) {
                let message = message.expect("consumer error");
                let key = message.key().map(|k| String::from_utf8(k.to_vec()).expect("utf-8 key"));
                let incoming = Incoming::parse(&message).expect("every record parses");
                got.push(Consumed { key, incoming });
            }
        }
        got
    })
    .await
    .unwrap()
}

/// Events (not watermarks), grouped by (topic, partition) in log order.
pub fn by_partition(records: &[Consumed]) -> BTreeMap<(String, i32), Vec<&Consumed>> {
    let mut map: BTreeMap<(String, i32), Vec<&Consumed>> = BTreeMap::new();
    for r in records.iter().filter(|r| !r.incoming.is_watermark()) {
        map.entry((r.incoming.topic.clone(), r.incoming.partition)).or_default().push(r);
    }
    map
}

/// True once every position in `1..=head` was seen and every partition has a watermark
/// at `head` or later.
pub fn complete(records: &[Consumed], head: u64, partitions: usize) -> bool {
    let mut seen = vec![false; head as usize + 1];
    let mut watermarked = std::collections::BTreeSet::new();
    for r in records {
        if r.incoming.is_watermark() {
            if r.incoming.position >= head {
                watermarked.insert((r.incoming.topic.clone(), r.incoming.partition));
            }
        } else if let Some(slot) = seen.get_mut(r.incoming.position as usize) {
            *slot = true;
        }
    }
    seen[1..].iter().all(|s| *s) && watermarked.len() == partitions
}

/// Per key, the first occurrences of positions must be increasing: replays after a
/// failover may repeat a tail, but never reorder one key's events.
pub fn assert_ordered_per_key(records: &[Consumed]) {
    let mut last: BTreeMap<&str, u64> = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for r in records.iter().filter(|r| !r.incoming.is_watermark()) {
        let position = r.incoming.position;
        if !seen.insert(position) {
            continue;
        }
        let key = r.key.as_deref().expect("events have keys");
        if let Some(previous) = last.insert(key, position) {
            assert!(previous < position, "key {key}: position {position} first arrived after {previous}");
        }
    }
}

/// How often each position was published.
pub fn copies(records: &[Consumed]) -> BTreeMap<u64, usize> {
    let mut map = BTreeMap::new();
    for r in records.iter().filter(|r| !r.incoming.is_watermark()) {
        *map.entry(r.incoming.position).or_default() += 1;
    }
    map
}
