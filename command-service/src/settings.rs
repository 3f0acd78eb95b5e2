//! The command-service's settings: `[server]`, `[database]` (the write DB),
//! `[telemetry]`, `[appender]` and `[cache]`.

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
"#;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub telemetry: TelemetrySettings,
    pub appender: AppenderSettings,
    pub cache: CacheSettings,
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

impl Settings {
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, tally_platform::settings::SettingsError> {
        tally_platform::settings::load(DEFAULTS, file)
    }
}
