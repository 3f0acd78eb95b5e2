//! rdkafka client settings, in one place so the relay, the projector and tests agree.

use std::time::Duration;

use rdkafka::ClientConfig;

/// Tuning of the relay's producer.
#[derive(Debug, Clone)]
pub struct ProducerOptions {
    pub client_id: String,
    /// How long librdkafka waits to fill a batch. A few milliseconds cost little latency
    /// and make batches (and thus throughput) much larger under load.
    pub linger: Duration,
    /// Upper bound for messages per batch sent to one partition.
    pub batch_messages: u32,
    /// Upper bound for a batch's size in bytes.
    pub batch_bytes: u32,
    /// How long a message may wait for an acknowledgement (retries included) before its
    /// delivery fails; the relay then resumes from its checkpoint.
    pub message_timeout: Duration,
}

impl Default for ProducerOptions {
    fn default() -> Self {
        Self {
            client_id: "tally-relay".to_owned(),
            linger: Duration::from_millis(5),
            batch_messages: 10_000,
            batch_bytes: 1_000_000,
            message_timeout: Duration::from_secs(30),
        }
    }
}

/// An idempotent producer: the broker drops the duplicates a retry would otherwise create,
/// and messages to one partition keep their order across retries.
pub fn producer_config(brokers: &str, opts: &ProducerOptions) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("client.id", &opts.client_id)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        // The most idempotence allows while still guaranteeing order.
        .set("max.in.flight.requests.per.connection", "5")
        .set("linger.ms", millis(opts.linger))
        .set("batch.num.messages", opts.batch_messages.to_string())
        .set("batch.size", opts.batch_bytes.to_string())
        // Built into librdkafka (no system library), cheap on CPU, good on protobuf.
        .set("compression.type", "lz4")
        .set("message.timeout.ms", millis(opts.message_timeout))
        .set("socket.keepalive.enable", "true");
    config
}

/// Tuning of a consumer.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    pub group_id: String,
    pub client_id: String,
    /// How long the group waits for a silent member before giving its partitions to
    /// others. Short in tests, where consumers are killed without leaving.
    pub session_timeout: Duration,
    /// Upper bound on how long the broker holds a fetch waiting for data: the latency
    /// floor of an idle consumer. Kafka answers a held fetch as soon as data arrives; with
    /// Tansu the projection lag grows with this wait as if each fetch were held for all
    /// of it (`tally-bench lag --smoke`: lag p50 ~100 ms at 100 ms, ~60 at 25, ~50 at 10). An
    /// idle consumer pays for the short wait with ~100 small fetches a second.
    pub fetch_wait: Duration,
    /// Upper bound on the records fetched ahead of the application, in KiB. librdkafka's
    /// default (64 MiB, plus up to a 50 MiB fetch) let a projector with a backlog hold
    /// hundreds of MiB of records it had not asked for yet (docs/benchmarks.md, "footprint").
    /// 2 MiB rather than 4 since `queue_backoff` keeps every partition fetched: 4 MiB then
    /// raised the projector's resident memory at rest by 5 MiB for no more throughput.
    pub prefetch_kbytes: u32,
    /// Upper bound on one partition's share of a fetch, in KiB. librdkafka hands the
    /// application a fetch's records partition by partition, so its default (1 MiB, ~3,000
    /// analytics records) arrives as one long run of a single partition: enough to fill the
    /// projector's backlog while the lanes that could apply the other partitions sit idle
    /// (docs/benchmarks.md, "ingest").
    pub partition_fetch_kbytes: u32,
    /// How long librdkafka leaves a partition unfetched once the prefetched records reach
    /// `prefetch_kbytes`. Its default (1 s) suits a large prefetch; with ours, the queue
    /// fills whenever the application is busy, and each partition then sat out a second,
    /// each from a different moment: for long stretches only one partition was fetched, so
    /// the projector's backlog held that one partition's records and only one of its lanes
    /// could work (docs/benchmarks.md, "ingest").
    pub queue_backoff: Duration,
}

impl ConsumerOptions {
    pub fn new(group_id: impl Into<String>) -> Self {
        Self {
            group_id: group_id.into(),
            client_id: "tally".to_owned(),
            session_timeout: Duration::from_secs(45),
            fetch_wait: Duration::from_millis(10),
            prefetch_kbytes: 2 * 1024,
            partition_fetch_kbytes: 128,
            queue_backoff: Duration::from_millis(10),
        }
    }
}

/// A consumer whose offsets are stored by the application (in its database, with its
/// effects), never auto-committed to Kafka.
pub fn consumer_config(brokers: &str, opts: &ConsumerOptions) -> ClientConfig {
    let heartbeat = (opts.session_timeout / 3).max(Duration::from_millis(100));
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("client.id", &opts.client_id)
        .set("group.id", &opts.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", millis(opts.session_timeout))
        .set("heartbeat.interval.ms", millis(heartbeat))
        .set("fetch.wait.max.ms", millis(opts.fetch_wait))
        .set("queued.max.messages.kbytes", opts.prefetch_kbytes.to_string())
        // A fetch may overshoot the queue's bound by up to its own size.
        .set("fetch.max.bytes", (opts.prefetch_kbytes.clamp(2048, 16 * 1024) * 512).to_string())
        .set("max.partition.fetch.bytes", (opts.partition_fetch_kbytes.max(1) * 1024).to_string())
        .set("fetch.queue.backoff.ms", millis(opts.queue_backoff))
        .set("enable.partition.eof", "false")
        .set("socket.keepalive.enable", "true");
    config
}

/// An admin client (creating topics, reading metadata).
pub fn admin_config(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers).set("client.id", "tally-admin");
    config
}

fn millis(d: Duration) -> String {
    d.as_millis().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_producer_is_idempotent_and_waits_for_all_replicas() {
        let c = producer_config("127.0.0.1:9092", &ProducerOptions::default());
        assert_eq!(c.get("bootstrap.servers"), Some("127.0.0.1:9092"));
        assert_eq!(c.get("enable.idempotence"), Some("true"));
        assert_eq!(c.get("acks"), Some("all"));
        assert_eq!(c.get("linger.ms"), Some("5"));
        assert_eq!(c.get("message.timeout.ms"), Some("30000"));
    }

    #[test]
    fn the_consumer_never_commits_or_stores_offsets_by_itself() {
        let opts = ConsumerOptions { session_timeout: Duration::from_secs(6), ..ConsumerOptions::new("g1") };
        let c = consumer_config("b:1", &opts);
        assert_eq!(c.get("group.id"), Some("g1"));
        assert_eq!(c.get("enable.auto.commit"), Some("false"));
        assert_eq!(c.get("enable.auto.offset.store"), Some("false"));
        assert_eq!(c.get("session.timeout.ms"), Some("6000"));
        assert_eq!(c.get("heartbeat.interval.ms"), Some("2000"));
    }

    #[test]
    fn the_consumer_fetches_only_a_few_mib_ahead() {
        let c = consumer_config("b:1", &ConsumerOptions::new("g1"));
        assert_eq!(c.get("queued.max.messages.kbytes"), Some("2048"));
        assert_eq!(c.get("fetch.max.bytes"), Some("1048576"), "at most half the queue per fetch");
        let big = ConsumerOptions { prefetch_kbytes: 1 << 20, ..ConsumerOptions::new("g1") };
        assert_eq!(consumer_config("b:1", &big).get("fetch.max.bytes"), Some("8388608"), "capped at 8 MiB");
    }

    #[test]
    fn a_full_prefetch_queue_pauses_fetching_briefly() {
        let c = consumer_config("b:1", &ConsumerOptions::new("g1"));
        assert_eq!(c.get("fetch.queue.backoff.ms"), Some("10"), "librdkafka's default is a whole second");
    }

    #[test]
    fn one_partition_takes_a_small_share_of_a_fetch() {
        let c = consumer_config("b:1", &ConsumerOptions::new("g1"));
        assert_eq!(c.get("max.partition.fetch.bytes"), Some("131072"));
    }
}
