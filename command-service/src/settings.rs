//! The command-service's settings: `[server]`, `[database]` (the write DB),
//! `[telemetry]`, `[appender]`, `[cache]` and `[kafka]` (the outbox relay).

use serde::Deserialize;
use tally_platform::settings::{DatabaseSettings, ServerSettings, TelemetrySettings};

/// Defaults suitable for a laptop; production overrides with `TALLY_*`.
pub const DEFAULTS: &str = r#"
migrate_on_start = true

[server]
host = "127.0.0.1"
port = 8080
max_body_bytes = 1048576
drain = 0
request_timeout = 10

[database]
url = "postgres://tally@127.0.0.1:5432/tally_write"
pool_size = 16
connect_timeout = 5
statement_timeout = 30

[telemetry]
log_format = "json"
log_level = "info,tally=info"

[appender]
max_batch = 256
queue_capacity = 4096

[cache]
streams = 100000

[ingest]
max_past_skew = 3600
max_future_skew = 300
trusted_proxies = ""
country_db = ""
admin_token = ""
salt_cache = 100000
sites_cache = 100000
append_max_events = 5000
append_queue = 1024

[kafka]
brokers = ""
topic_partitions = 6
relay_enabled = true
"#;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub telemetry: TelemetrySettings,
    pub appender: AppenderSettings,
    pub cache: CacheSettings,
    pub kafka: KafkaSettings,
    pub ingest: IngestSettings,
    /// Apply schema migrations at startup (a Kubernetes Job can do it instead).
    pub migrate_on_start: bool,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct AppenderSettings {
    pub max_batch: usize,
    pub queue_capacity: usize,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct CacheSettings {
    /// Aggregate states kept in memory, so hot streams are not re-read.
    pub streams: usize,
}

/// Analytics ingest (`/v1/events`, `/api/event`, `RecordEvents`, backfill).
#[derive(Clone, Deserialize)]
pub struct IngestSettings {
    /// Oldest event a live client may send, relative to the server's clock.
    #[serde(with = "tally_platform::settings::secs")]
    pub max_past_skew: std::time::Duration,
    /// Furthest ahead of the server's clock an event may be (also for backfill).
    #[serde(with = "tally_platform::settings::secs")]
    pub max_future_skew: std::time::Duration,
    /// Comma-separated addresses / CIDR ranges of reverse proxies whose
    /// `X-Forwarded-For` and `ip` fields are trusted; empty trusts none.
    pub trusted_proxies: String,
    /// Path of a MaxMind-format country database; empty means countries
    /// are unknown.
    pub country_db: String,
    /// Bearer token of the backfill import endpoint; empty disables it.
    pub admin_token: secrecy::SecretString,
    /// Salts kept in memory (one per site per local day).
    pub salt_cache: usize,
    /// Sites (and domains) kept in memory for ingest.
    pub sites_cache: usize,
    /// Most analytics events per append transaction.
    pub append_max_events: usize,
    /// Ingest requests queued for the analytics appender.
    pub append_queue: usize,
}

impl std::fmt::Debug for IngestSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestSettings")
            .field("max_past_skew", &self.max_past_skew)
            .field("max_future_skew", &self.max_future_skew)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("country_db", &self.country_db)
            .field("admin_token", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// Where the outbox relay publishes. Empty `brokers` means no relay (single-node mode:
/// the projector tails the event store instead).
#[derive(Debug, Clone, Deserialize)]
pub struct KafkaSettings {
    /// `bootstrap.servers`, e.g. `kafka-0:9092,kafka-1:9092`.
    pub brokers: String,
    /// Partitions of each topic the relay creates when it is missing.
    pub topic_partitions: i32,
    /// Run the relay in this pod (every pod may; one leads at a time).
    pub relay_enabled: bool,
}

impl KafkaSettings {
    /// Whether this process should run a relay.
    pub fn relay(&self) -> bool {
        self.relay_enabled && !self.brokers.trim().is_empty()
    }
}

impl Settings {
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, tally_platform::settings::SettingsError> {
        tally_platform::settings::load(DEFAULTS, file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relay_runs_only_with_brokers_and_when_enabled() {
        let mut kafka = Settings::load(None).unwrap().kafka;
        assert!(!kafka.relay(), "no brokers by default: single-node mode");
        kafka.brokers = "127.0.0.1:9092".into();
        assert!(kafka.relay());
        kafka.relay_enabled = false;
        assert!(!kafka.relay());
        kafka = KafkaSettings { brokers: "  ".into(), relay_enabled: true, ..kafka };
        assert!(!kafka.relay(), "blank counts as unset");
    }
}
