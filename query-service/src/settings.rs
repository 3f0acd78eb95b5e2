//! The query-service's settings: `[server]`, `[database]` (the read DB),
//! `[telemetry]`, `[read_your_writes]` and `[coalescing]`.

use std::time::Duration;

use serde::{Deserialize, Deserializer};
use tally_platform::settings::{DatabaseSettings, ServerSettings, TelemetrySettings};

/// Defaults suitable for a laptop; production overrides with `TALLY_*`
/// (e.g. `TALLY_DATABASE__URL` pointing at a streaming replica).
pub const DEFAULTS: &str = r#"
[server]
host = "127.0.0.1"
port = 8081
max_body_bytes = 1048576
drain = 0
request_timeout = 10

[database]
url = "postgres://tally@127.0.0.1:5432/tally_read"
pool_size = 16
connect_timeout = 5
statement_timeout = 5

[telemetry]
log_format = "json"
log_level = "info,tally=info"

[read_your_writes]
max_wait_ms = 2000
poll_interval_ms = 10
projector_consumer = "tally-projector"

[coalescing]
statements_in_flight = 2
max_ids = 256
"#;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub telemetry: TelemetrySettings,
    pub read_your_writes: ReadYourWritesSettings,
    pub coalescing: CoalescingSettings,
}

/// How concurrent GetProfile lookups by id share statements (see `read/batch.rs`).
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct CoalescingSettings {
    /// Lookup statements in flight at once. While all are busy, lookups queue and the next
    /// statement takes them together: fewer makes bigger batches (less read-DB and socket work
    /// per lookup under load), more lets a read DB with many cores run more in parallel.
    #[serde(deserialize_with = "at_least_one")]
    pub statements_in_flight: usize,
    /// Ids in one statement at most.
    #[serde(deserialize_with = "at_least_one")]
    pub max_ids: usize,
}

fn at_least_one<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    match usize::deserialize(d)? {
        0 => Err(serde::de::Error::custom("must be at least 1")),
        n => Ok(n),
    }
}

/// How a request with `min_position` waits for the projector.
#[derive(Debug, Clone, Deserialize)]
pub struct ReadYourWritesSettings {
    /// Longest wait for the projected position before answering UNAVAILABLE.
    #[serde(deserialize_with = "millis")]
    pub max_wait_ms: Duration,
    /// How often the projected position is re-read while someone waits.
    #[serde(deserialize_with = "positive_millis")]
    pub poll_interval_ms: Duration,
    /// The projector's consumer name in `projector_offsets`.
    pub projector_consumer: String,
}

fn millis<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    Ok(Duration::from_millis(u64::deserialize(d)?))
}

fn positive_millis<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    match u64::deserialize(d)? {
        0 => Err(serde::de::Error::custom("must be at least 1 (milliseconds)")),
        ms => Ok(Duration::from_millis(ms)),
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
    fn defaults_parse() {
        let s = Settings::load(None).unwrap();
        assert_eq!(s.read_your_writes.max_wait_ms, Duration::from_secs(2));
        assert_eq!(s.read_your_writes.poll_interval_ms, Duration::from_millis(10));
        assert_eq!(s.read_your_writes.projector_consumer, "tally-projector");
        assert_eq!((s.coalescing.statements_in_flight, s.coalescing.max_ids), (2, 256));
    }

    /// The error of loading `toml` as the settings file.
    fn load_error(name: &str, toml: &str) -> String {
        let dir = std::env::temp_dir().join(format!("tally-query-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("q.toml");
        std::fs::write(&file, toml).unwrap();
        let err = Settings::load(Some(&file)).unwrap_err().to_string();
        std::fs::remove_dir_all(dir).unwrap();
        err
    }

    #[test]
    fn a_zero_poll_interval_is_rejected_by_name() {
        let err = load_error("poll", "[read_your_writes]\npoll_interval_ms = 0\n");
        assert!(err.contains("poll_interval_ms"), "error does not name the key: {err}");
    }

    #[test]
    fn no_statements_in_flight_is_rejected_by_name() {
        let err = load_error("coalescing", "[coalescing]\nstatements_in_flight = 0\n");
        assert!(err.contains("coalescing.statements_in_flight"), "error does not name the key: {err}");
    }
}
