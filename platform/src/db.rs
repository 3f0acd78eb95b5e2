//! Pooled, persistent Postgres connections.
//!
//! Every service talks to Postgres through a `deadpool` pool sized in
//! settings; nothing opens a connection per request.

use std::str::FromStr;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::settings::DatabaseSettings;

/// Whether `e` is about the connection rather than the statement — the database is out of
/// reach (down, restarting, out of connections, or the connection dropped), so a retry may
/// succeed and a client is told "unavailable" rather than "internal error": closed or broken
/// (an I/O error), or a server error of class 08 (connection exception), 57P01–57P03
/// (shutting down, crashed, not yet accepting connections) or 53300 (too many connections).
/// A refused statement, or a row that does not decode, is not.
pub fn connection_lost(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        return code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300");
    }
    std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    // The URL is deliberately not echoed: it may hold a password.
    #[error("database.url is not a valid Postgres connection string: {0}")]
    BadUrl(String),
    #[error("cannot build the connection pool: {0}")]
    Build(String),
}

/// Parses the settings into a driver config with our timeouts applied.
pub fn pg_config(settings: &DatabaseSettings) -> Result<tokio_postgres::Config, DbError> {
    let mut cfg =
        tokio_postgres::Config::from_str(settings.expose_url()).map_err(|e| DbError::BadUrl(e.to_string()))?;
    cfg.connect_timeout(settings.connect_timeout);
    let timeout_ms = settings.statement_timeout.as_millis();
    if timeout_ms > 0 {
        cfg.options(format!("-c statement_timeout={timeout_ms}"));
    }
    if cfg.get_application_name().is_none() {
        cfg.application_name("tally");
    }
    Ok(cfg)
}

/// A pool of lazily opened connections. `Fast` recycling skips a round trip
/// per checkout; broken connections are still detected and replaced.
pub fn pool(settings: &DatabaseSettings) -> Result<Pool, DbError> {
    let cfg = pg_config(settings)?;
    let manager = Manager::from_config(cfg, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    Pool::builder(manager)
        .max_size(settings.pool_size)
        .runtime(Runtime::Tokio1)
        .create_timeout(Some(settings.connect_timeout))
        .wait_timeout(Some(settings.connect_timeout))
        .build()
        .map_err(|e| DbError::Build(e.to_string()))
}
