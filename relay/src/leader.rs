//! Leader election with a session-level advisory lock.
//!
//! Each relay opens a dedicated connection and blocks in `pg_advisory_lock`. The holder
//! leads for as long as its session lives; when the session dies (crash, network, an
//! operator's `pg_terminate_backend`) Postgres releases the lock and hands it to a waiting
//! relay at once — no lease to expire, no clock to trust.

use std::time::Duration;

use tally_platform::causes::Causes;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls};
use tokio_util::sync::CancellationToken;

use crate::RelayError;

/// First key of the two-key advisory lock space for relays ("7A11" ~ "TALL(y)"); the
/// second key is derived from the relay's name.
pub const LOCK_CLASS: i32 = 0x7A11;

/// How long releasing the lock may take before we simply close the connection (which
/// releases it too).
const RELEASE_TIMEOUT: Duration = Duration::from_secs(2);

/// The second lock key for relay `name`: FNV-1a, stable across builds and platforms.
pub fn lock_key(name: &str) -> i32 {
    let hash = name.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    i32::from_ne_bytes(hash.to_ne_bytes())
}

/// The leadership: a live session holding the lock. Dropping it closes the session, which
/// releases the lock.
pub struct Leadership {
    client: Client,
    driver: JoinHandle<Result<(), tokio_postgres::Error>>,
    key: i32,
}

impl Leadership {
    /// Waits until this relay leads; `None` when `shutdown` fires first.
    #[tracing::instrument(skip_all, fields(relay = name))]
    pub async fn acquire(
        pg: &tokio_postgres::Config,
        name: &str,
        shutdown: &CancellationToken,
    ) -> Result<Option<Leadership>, RelayError> {
        let mut config = pg.clone();
        // Detects a dead peer in seconds instead of the kernel's two hours, on both ends.
        config
            .application_name("tally-relay")
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(10))
            .keepalives_interval(Duration::from_secs(5))
            .keepalives_retries(3);
        let (client, connection) = config.connect(NoTls).await?;
        let mut driver = tokio::spawn(connection);
        // The wait for the lock is unbounded by design; the pool's statement timeout
        // would cut it short.
        client
            .batch_execute(
                "SET statement_timeout = 0; SET tcp_keepalives_idle = 10; \
                 SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3",
            )
            .await?;
        // Lets the server notice a vanished waiter before granting it the lock (PG ≥ 14).
        if let Err(e) = client.batch_execute("SET client_connection_check_interval = '1s'").await {
            tracing::debug!(error = %Causes(&e), "client_connection_check_interval is not supported; continuing without it");
        }
        let key = lock_key(name);
        tracing::info!(lock_class = LOCK_CLASS, lock_key = key, "waiting for relay leadership");
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&LOCK_CLASS, &key];
        tokio::select! {
            locked = client.execute("SELECT pg_advisory_lock($1, $2)", &params) => { locked?; }
            ended = &mut driver => return Err(RelayError::LostLeadership(session_end(ended))),
            _ = shutdown.cancelled() => {
                // The server would otherwise keep waiting and grant the lock to a
                // session nobody uses any more.
                let _ = client.cancel_token().cancel_query(NoTls).await;
                driver.abort();
                return Ok(None);
            }
        }
        client.batch_execute("RESET statement_timeout").await?;
        tracing::info!(lock_class = LOCK_CLASS, lock_key = key, "relay leadership acquired");
        Ok(Some(Leadership { client, driver, key }))
    }

    /// The leader's session: checkpoint writes go through it, so they fail once the
    /// session (and with it the leadership) is gone.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Resolves when the session ends; leadership is lost from that moment.
    pub async fn lost(&mut self) -> RelayError {
        RelayError::LostLeadership(session_end((&mut self.driver).await))
    }

    /// Gives the lock back and closes the session, so a waiting relay takes over at once.
    pub async fn release(self) {
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&LOCK_CLASS, &self.key];
        let unlock = self.client.execute("SELECT pg_advisory_unlock($1, $2)", &params);
        match tokio::time::timeout(RELEASE_TIMEOUT, unlock).await {
            Ok(Ok(_)) => tracing::info!("relay leadership released"),
            Ok(Err(e)) => tracing::warn!(error = %Causes(&e), "releasing relay leadership failed; closing its session"),
            Err(_) => tracing::warn!("releasing relay leadership timed out; closing its session"),
        }
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

fn session_end(ended: Result<Result<(), tokio_postgres::Error>, tokio::task::JoinError>) -> String {
    match ended {
        Ok(Ok(())) => "the connection was closed".to_owned(),
        Ok(Err(e)) => e.to_string(),
        Err(e) => format!("the connection task stopped: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_are_stable_and_differ_by_name() {
        // Pinned: a change of the hash would split leadership between pods running
        // different builds during a rolling update.
        assert_eq!(lock_key("kafka"), 0x0d33_c4e1);
        assert_eq!(lock_key(""), i32::from_ne_bytes(0x811c_9dc5_u32.to_ne_bytes()));
        assert_ne!(lock_key("kafka"), lock_key("kafka-b"));
    }
}
