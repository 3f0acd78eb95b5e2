//! The daily salts, cached in memory.
//!
//! Every event needs the salt of its (site, local date); a cache hit costs no
//! database round trip. An entry is never used past its `expires_at`, so a
//! salt the database has destroyed is never resurrected from memory.

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::Pool;
use quick_cache::sync::Cache;
use rand::RngCore as _;
use tally_domain::analytics::{SALT_LEN, Salt};
use tally_event_store::{StoreError, salts};
use tally_platform::causes::Causes;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How often expired salts are destroyed (also once at startup).
pub const DESTROY_EVERY: Duration = Duration::from_secs(15 * 60);

/// A site's local day.
type Day = (Uuid, NaiveDate);

#[derive(Clone)]
pub struct SaltCache {
    pool: Pool,
    /// Salts with their expiry.
    cache: Arc<Cache<Day, (Salt, DateTime<Utc>)>>,
}

impl SaltCache {
    pub fn new(pool: Pool, capacity: usize) -> Self {
        Self { pool, cache: Arc::new(Cache::new(capacity.max(1))) }
    }

    /// The salts of `wanted`, creating missing ones (first pod to ask wins).
    pub async fn get(&self, wanted: &[(Uuid, NaiveDate)]) -> Result<HashMap<(Uuid, NaiveDate), Salt>, StoreError> {
        let now = Utc::now();
        let mut found = HashMap::with_capacity(wanted.len());
        let mut missing = Vec::new();
        for key in wanted {
            match self.cache.get(key) {
                Some((salt, expires)) if expires > now => {
                    found.insert(*key, salt);
                }
                _ => missing.push(*key),
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        missing.sort_unstable();
        missing.dedup();
        let candidates: Vec<Vec<u8>> = missing
            .iter()
            .map(|_| {
                let mut salt = vec![0; SALT_LEN];
                rand::rng().fill_bytes(&mut salt);
                salt
            })
            .collect();
        let client = self.pool.get().await?;
        let stored = salts::get_or_create(&client, &missing, &candidates).await?;
        for (key, s) in stored {
            // The table's CHECK guarantees the length; a mismatch would mean
            // a foreign writer, and the event then fails as unavailable.
            if let Some(salt) = Salt::from_slice(&s.salt) {
                self.cache.insert(key, (salt, s.expires_at));
                found.insert(key, salt);
            }
        }
        Ok(found)
    }
}

/// Destroys expired salts now and then every [`DESTROY_EVERY`] until `stop`.
pub async fn destroy_expired_loop(pool: Pool, stop: CancellationToken) {
    loop {
        match pool.get().await {
            Ok(client) => match salts::destroy_expired(&client).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(destroyed = n, "destroyed expired visitor salts"),
                Err(e) => tracing::warn!(error = %Causes(&e), "destroying expired salts failed; will retry"),
            },
            Err(e) => tracing::warn!(error = %Causes(&e), "salt maintenance could not get a connection"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(DESTROY_EVERY) => {}
        }
    }
}
