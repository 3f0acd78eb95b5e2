//! The daily salts of analytics visitor hashes.
//!
//! One random salt per (site, local date), created by whichever command pod
//! needs it first (`INSERT … ON CONFLICT DO NOTHING`, then read back, so every
//! pod ends up with the same salt) and deleted once expired; see
//! `migrations/V3__analytics_ingest.sql` for the expiry rule.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use tokio_postgres::types::Type;
use uuid::Uuid;

use crate::StoreError;

/// A stored salt and when it will be destroyed.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSalt {
    pub salt: Vec<u8>,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for StoredSalt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSalt").field("salt", &"<redacted>").field("expires_at", &self.expires_at).finish()
    }
}

/// The salts of `wanted` days, creating the missing ones from `candidates`
/// (fresh random bytes, one per wanted day, used only where no salt exists).
pub async fn get_or_create(
    client: &impl deadpool_postgres::GenericClient,
    wanted: &[(Uuid, NaiveDate)],
    candidates: &[Vec<u8>],
) -> Result<HashMap<(Uuid, NaiveDate), StoredSalt>, StoreError> {
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let (sites, dates): (Vec<Uuid>, Vec<NaiveDate>) = wanted.iter().copied().unzip();
    let insert = client
        .prepare_typed_cached(
            "INSERT INTO analytics_salts (site_id, local_date, salt, expires_at) \
             SELECT s, d, x, greatest(((d + 3)::timestamp + interval '12 hours') AT TIME ZONE 'UTC', \
                                      now() + interval '2 days') \
             FROM unnest($1::uuid[], $2::date[], $3::bytea[]) AS w(s, d, x) ORDER BY s, d \
             ON CONFLICT (site_id, local_date) DO NOTHING",
            &[Type::UUID_ARRAY, Type::DATE_ARRAY, Type::BYTEA_ARRAY],
        )
        .await?;
    client.execute(&insert, &[&sites, &dates, &candidates]).await?;
    // A separate statement: its snapshot sees salts another pod committed
    // while our insert waited on them.
    let select = client
        .prepare_typed_cached(
            "SELECT site_id, local_date, salt, expires_at FROM analytics_salts \
             JOIN unnest($1::uuid[], $2::date[]) AS w(site_id, local_date) USING (site_id, local_date)",
            &[Type::UUID_ARRAY, Type::DATE_ARRAY],
        )
        .await?;
    Ok(client
        .query(&select, &[&sites, &dates])
        .await?
        .into_iter()
        .map(|row| ((row.get(0), row.get(1)), StoredSalt { salt: row.get(2), expires_at: row.get(3) }))
        .collect())
}

/// Deletes every expired salt; returns how many were destroyed.
pub async fn destroy_expired(client: &impl deadpool_postgres::GenericClient) -> Result<u64, StoreError> {
    Ok(client.execute("DELETE FROM analytics_salts WHERE expires_at <= now()", &[]).await?)
}
