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
