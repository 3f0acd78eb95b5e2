//! Typed settings: defaults, then an optional file, then `TALLY_*` environment.
//!
//! Nested keys use a double underscore in the environment, so
//! `TALLY_DATABASE__URL` sets `database.url`. Later sources win, which lets an
//! operator keep a checked-in file and override single values per pod.

use std::{path::Path, time::Duration};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Errors raised while assembling settings; always names the offending key.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct SettingsError(#[from] config::ConfigError);

/// Loads `T` from `defaults` (a TOML snippet owned by the binary), an optional
/// file and the environment.
pub fn load<T: serde::de::DeserializeOwned>(defaults: &str, file: Option<&Path>) -> Result<T, SettingsError> {
    let mut builder = config::Config::builder().add_source(config::File::from_str(defaults, config::FileFormat::Toml));
    if let Some(path) = file {
        builder = builder.add_source(config::File::from(path).required(true));
    }
    let cfg = builder
        .add_source(config::Environment::with_prefix("TALLY").prefix_separator("_").separator("__").try_parsing(true))
        .build()?;
    Ok(cfg.try_deserialize()?)
}

/// Where a server listens and how it treats requests.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// Largest accepted request body; larger ones get 413.
    pub max_body_bytes: usize,
    /// Time given to in-flight requests after health flipped to NOT_SERVING.
    #[serde(with = "secs")]
    pub drain: Duration,
    /// Per-request deadline enforced by the server.
    #[serde(with = "secs")]
    pub request_timeout: Duration,
}

impl ServerSettings {
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// A Postgres connection pool's settings. The URL carries credentials and is
/// therefore a secret: it never appears in `Debug` output or logs.
#[derive(Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub pool_size: usize,
    #[serde(with = "secs")]
    pub connect_timeout: Duration,
    /// Server-side statement timeout, so a stuck query frees its connection.
    #[serde(with = "secs")]
    pub statement_timeout: Duration,
}

impl DatabaseSettings {
    /// The connection string; callers must not log it.
    pub fn expose_url(&self) -> &str {
        self.url.expose_secret()
    }
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &"[redacted]")
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .finish()
    }
}

/// How logs are written. Trace export is configured by the standard `OTEL_*`
/// variables instead, so it works the same as in every other OTel program.
#[derive(Debug, Clone, Deserialize)]
pub struct TelemetrySettings {
    pub log_format: LogFormat,
    /// An `EnvFilter` directive; `RUST_LOG` wins when set.
    pub log_level: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Durations are written as (fractional) seconds in files and env vars.
pub mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        if !(secs.is_finite() && secs >= 0.0) {
            return Err(serde::de::Error::custom("must be a non-negative number of seconds"));
        }
        Ok(Duration::from_secs_f64(secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Sample {
        server: ServerSettings,
        database: DatabaseSettings,
    }

    const DEFAULTS: &str = r#"
        [server]
        host = "127.0.0.1"
        port = 8080
        max_body_bytes = 1048576
        drain = 5
        request_timeout = 10
        [database]
        url = "postgres://secret@localhost/db"
        pool_size = 4
        connect_timeout = 2.5
        statement_timeout = 30
    "#;

    #[test]
    fn defaults_parse_and_secrets_stay_out_of_debug() {
        let s: Sample = load(DEFAULTS, None).unwrap();
        assert_eq!(s.server.address(), "127.0.0.1:8080");
        assert_eq!(s.database.connect_timeout, Duration::from_millis(2500));
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("secret@"), "url leaked into Debug: {dbg}");
    }

    #[test]
    fn a_file_overrides_defaults_and_names_bad_keys() {
        let dir = std::env::temp_dir().join(format!("tally-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(&file, "[server]\nport = 9999\n").unwrap();
        let s: Sample = load(DEFAULTS, Some(&file)).unwrap();
        assert_eq!(s.server.port, 9999);

        std::fs::write(&file, "[server]\nport = \"many\"\n").unwrap();
        let err = load::<Sample>(DEFAULTS, Some(&file)).unwrap_err().to_string();
        assert!(err.contains("port"), "error does not name the key: {err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
