//! The projector's settings: `[read_database]`, `[event_store]` (the write DB,
//! tailed in single-node mode and replayed by rebuilds), `[kafka]`, `[batch]`,
//! `[server]` (health and metrics) and `[telemetry]`.

use std::time::Duration;

use serde::{Deserialize, Deserializer};
use tally_platform::settings::{DatabaseSettings, ServerSettings, SettingsError, TelemetrySettings};

/// Defaults suitable for a laptop; production overrides with `TALLY_*`.
pub const DEFAULTS: &str = r#"
migrate_on_start = true

[server]
host = "127.0.0.1"
port = 8082
max_body_bytes = 65536
drain = 0
request_timeout = 10

[read_database]
url = "postgres://tally@127.0.0.1:5432/tally_read"
pool_size = 8
connect_timeout = 5
statement_timeout = 60

[event_store]
url = "postgres://tally@127.0.0.1:5432/tally_write"
pool_size = 4
connect_timeout = 5
statement_timeout = 60

[kafka]
brokers = ""
group_id = "tally-projector"
topics = "tally.profile.v1,tally.analytics.v1"
assignment = "group"
session_timeout_ms = 10000

[analytics]
session_timeout_minutes = 30
close_days_every = 5
close_days_after = 300

[batch]
max_events = 2000
max_wait_ms = 20
lanes = 4

[telemetry]
log_format = "json"
log_level = "info,tally=info"
"#;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub read_database: DatabaseSettings,
    pub event_store: DatabaseSettings,
    pub kafka: KafkaSettings,
    pub batch: BatchSettings,
    pub analytics: AnalyticsSettings,
    pub telemetry: TelemetrySettings,
    /// Apply read-DB migrations at startup (a Kubernetes Job can do it instead).
    pub migrate_on_start: bool,
}

impl Settings {
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, SettingsError> {
        tally_platform::settings::load(DEFAULTS, file)
    }

    /// The name under which offsets and dead letters are recorded.
    pub fn consumer(&self) -> &str {
        &self.kafka.group_id
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct KafkaSettings {
    /// Comma-separated `host:port` list; empty means single-node mode (tail
    /// the event store instead of consuming Kafka).
    pub brokers: String,
    /// The consumer group, and the consumer name in `projector_offsets`.
    pub group_id: String,
    /// Topics to consume: a list, or one comma-separated string (env vars).
    #[serde(deserialize_with = "string_or_list")]
    pub topics: Vec<String>,
    pub assignment: Assignment,
    pub session_timeout_ms: u32,
}

impl KafkaSettings {
    pub fn enabled(&self) -> bool {
        !self.brokers.trim().is_empty()
    }
}

/// How partitions reach this projector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Assignment {
    /// The consumer group spreads partitions over projector pods.
    Group,
    /// This projector takes every partition of its topics (one pod, tests).
    Manual,
}

/// Sessionisation. Changing it only affects events projected afterwards;
/// `projector rebuild analytics` re-derives everything with the new value.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct AnalyticsSettings {
    /// Events of a visitor less than this many minutes apart share a session.
    #[serde(deserialize_with = "session_minutes")]
    pub session_timeout_minutes: u32,
    /// Seconds between looks for site-days to close (docs/analytics-read.md, "Open days");
    /// a look that finds none costs one small query and takes no lock.
    #[serde(with = "tally_platform::settings::secs")]
    pub close_days_every: Duration,
    /// Seconds after a site's local midnight before its day is closed. Economy only: an
    /// event of a closed day arriving later still lands in its week and month.
    #[serde(with = "tally_platform::settings::secs")]
    pub close_days_after: Duration,
}

/// 1 to 1440: a session never spans a local day anyway.
fn session_minutes<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    within::<D, u32>("analytics.session_timeout_minutes", 1, 1440, u32::deserialize(d)?)
}

/// `value` if it is from `min` to `max`, else an error naming `key`.
fn within<'de, D: Deserializer<'de>, T: PartialOrd + std::fmt::Display>(
    key: &str,
    min: T,
    max: T,
    value: T,
) -> Result<T, D::Error> {
    if min <= value && value <= max {
        Ok(value)
    } else {
        Err(serde::de::Error::custom(format!("{key} must be from {min} to {max}, got {value}")))
    }
}

impl AnalyticsSettings {
    pub fn closing(&self) -> crate::analytics::closing::Schedule {
        crate::analytics::closing::Schedule { every: self.close_days_every, after: self.close_days_after }
    }

    pub fn rules(&self) -> tally_domain::sessions::Rules {
        tally_domain::sessions::Rules {
            timeout: chrono::Duration::minutes(i64::from(self.session_timeout_minutes.max(1))),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct BatchSettings {
    /// A micro-batch closes at this many messages…
    pub max_events: usize,
    /// …or this long after its first message arrived.
    pub max_wait_ms: u64,
    /// Kafka mode: micro-batches of different partitions applied at once, each in its own
    /// read-DB transaction (so each takes a connection of `read_database.pool_size`). A
    /// partition stays on one lane, so its records keep their order.
    #[serde(deserialize_with = "lanes")]
    pub lanes: usize,
}

/// 1 to 64: more lanes than partitions, or than the read DB has cores, only adds waiting.
fn lanes<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    within::<D, usize>("batch.lanes", 1, 64, usize::deserialize(d)?)
}

impl BatchSettings {
    pub fn max_wait(&self) -> Duration {
        Duration::from_millis(self.max_wait_ms)
    }
}

fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    let list = match Raw::deserialize(d)? {
        Raw::One(s) => s.split(',').map(str::to_owned).collect(),
        Raw::Many(v) => v,
    };
    let list: Vec<String> = list.into_iter().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect();
    if list.is_empty() {
        return Err(serde::de::Error::custom("kafka.topics must name at least one topic"));
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_mean_single_node_mode_with_the_profile_topic() {
        let s = Settings::load(None).unwrap();
        assert!(!s.kafka.enabled());
        assert_eq!(s.kafka.topics, ["tally.profile.v1", "tally.analytics.v1"]);
        assert_eq!(s.kafka.assignment, Assignment::Group);
        assert_eq!(s.batch.max_events, 2000);
        assert_eq!(s.batch.lanes, 4);
    }

    #[test]
    fn topics_accept_a_list_or_a_comma_separated_string_and_bad_values_name_the_key() {
        let dir = std::env::temp_dir().join(format!("tally-projector-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("p.toml");
        std::fs::write(&file, "[kafka]\ntopics = [\"a\", \"b\"]\nassignment = \"manual\"\n").unwrap();
        let s = Settings::load(Some(&file)).unwrap();
        assert_eq!(s.kafka.topics, ["a", "b"]);
        assert_eq!(s.kafka.assignment, Assignment::Manual);

        std::fs::write(&file, "[kafka]\ntopics = \"a, b ,\"\n").unwrap();
        assert_eq!(Settings::load(Some(&file)).unwrap().kafka.topics, ["a", "b"]);

        std::fs::write(&file, "[kafka]\nassignment = \"random\"\n").unwrap();
        let err = Settings::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("assignment"), "error does not name the key: {err}");

        std::fs::write(&file, "[analytics]\nsession_timeout_minutes = 20\n").unwrap();
        let rules = Settings::load(Some(&file)).unwrap().analytics.rules();
        assert_eq!(rules.timeout, chrono::Duration::minutes(20));
        std::fs::write(&file, "[analytics]\nsession_timeout_minutes = 0\n").unwrap();
        let err = Settings::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("session_timeout_minutes"), "error does not name the key: {err}");

        std::fs::write(&file, "[analytics]\nclose_days_every = 0.5\nclose_days_after = 60\n").unwrap();
        let closing = Settings::load(Some(&file)).unwrap().analytics.closing();
        assert_eq!((closing.every, closing.after), (Duration::from_millis(500), Duration::from_secs(60)));
        std::fs::write(&file, "[analytics]\nclose_days_every = -1\n").unwrap();
        let err = Settings::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("analytics.close_days_every"), "error does not name the key: {err}");

        std::fs::write(&file, "[batch]\nlanes = 0\n").unwrap();
        let err = Settings::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("batch.lanes"), "error does not name the key: {err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
