//! The rebuild's set-based writes into a version nobody else writes yet.
//!
//! The live path upserts every touched row per batch and keeps each profile's `sites` array
//! fresh as it goes. A rebuild does not need either: it folds many pages in memory
//! ([`super::fill`]) and then writes each changed row once, new rows by binary `COPY`, rows
//! already written by deleting them and copying them again; the `sites` arrays are computed
//! for all profiles at once at the end ([`finish`]), and the secondary indexes are built
//! after the rows are in.

use std::pin::pin;

use deadpool_postgres::Transaction;
use tokio_postgres::{
    binary_copy::BinaryCopyInWriter,
    types::{Json, ToSql, Type},
};
use uuid::Uuid;

use crate::{
    rows::{ProfileRow, ReadKeyRow, SiteRow},
    schema::VersionTables,
    store::{KeyColumns, PROFILE_COLUMNS, SITE_COLUMNS, SITES_AGG, upsert_keys_sql},
};

const PROFILE_TYPES: [Type; 11] = [
    Type::UUID,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::JSONB,
    Type::INT8,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMPTZ,
    Type::INT8,
];
const SITE_TYPES: [Type; 9] = [
    Type::UUID,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::UUID,
    Type::INT8,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMPTZ,
    Type::INT8,
];

/// What one flush writes: the rows changed since the last one.
#[derive(Default)]
pub struct Changes<'a> {
    /// Profiles and sites to (re)write.
    pub profiles: Vec<&'a ProfileRow>,
    pub sites: Vec<&'a SiteRow>,
    /// Rows an earlier flush wrote that change or go now.
    pub stale_profiles: Vec<Uuid>,
    pub stale_sites: Vec<Uuid>,
    /// Deleted ids and the positions of their deletions.
    pub tombstones: Vec<(Uuid, i64)>,
    /// Read keys to write: few (a handful per site), so upserted rather than copied, which
    /// also replaces a row an earlier flush wrote.
    pub keys: Vec<&'a ReadKeyRow>,
    /// Deleted sites, whose keys an earlier flush may have written.
    pub gone_sites: Vec<Uuid>,
}

/// The SQL of one version's bulk writes.
#[derive(Debug, Clone)]
pub struct Bulk {
    tables: VersionTables,
    copy_profiles: String,
    copy_sites: String,
    delete_profiles: String,
    delete_sites: String,
    tombstone: String,
    upsert_keys: String,
    delete_site_keys: String,
}

impl Bulk {
    pub fn new(tables: &VersionTables) -> Self {
        let (p, s, t) = (&tables.profiles, &tables.sites, &tables.tombstones);
        Bulk {
            copy_profiles: format!("COPY {p} ({PROFILE_COLUMNS}) FROM STDIN BINARY"),
            copy_sites: format!("COPY {s} ({SITE_COLUMNS}) FROM STDIN BINARY"),
            delete_profiles: format!("DELETE FROM {p} WHERE id = ANY($1)"),
            delete_sites: format!("DELETE FROM {s} WHERE id = ANY($1)"),
            tombstone: format!(
                "INSERT INTO {t} (id, last_position) SELECT * FROM unnest($1::uuid[], $2::int8[]) \
                 ON CONFLICT (id) DO UPDATE SET last_position = GREATEST({t}.last_position, EXCLUDED.last_position)"
            ),
            upsert_keys: upsert_keys_sql(&tables.read_keys),
            delete_site_keys: format!("DELETE FROM {} WHERE site_id = ANY($1)", tables.read_keys),
            tables: tables.clone(),
        }
    }

    /// Writes `changes` inside `tx`. A refusal (bad data) leaves `tx` aborted; the caller
    /// falls back to the event-by-event path to find the culprit.
    pub async fn write(&self, tx: &Transaction<'_>, changes: &Changes<'_>) -> Result<(), tokio_postgres::Error> {
        if !changes.stale_profiles.is_empty() {
            tx.execute(&self.delete_profiles, &[&changes.stale_profiles]).await?;
        }
        if !changes.stale_sites.is_empty() {
            tx.execute(&self.delete_sites, &[&changes.stale_sites]).await?;
        }
        if !changes.tombstones.is_empty() {
            let (ids, at): (Vec<Uuid>, Vec<i64>) = changes.tombstones.iter().copied().unzip();
            tx.execute(&self.tombstone, &[&ids, &at]).await?;
        }
        if !changes.gone_sites.is_empty() {
            tx.execute(&self.delete_site_keys, &[&changes.gone_sites]).await?;
        }
        if !changes.keys.is_empty() {
            let mut keys = KeyColumns::default();
            changes.keys.iter().for_each(|k| keys.push(k));
            tx.execute(&self.upsert_keys, &keys.params()).await?;
        }
        if !changes.profiles.is_empty() {
            let sink = tx.copy_in(&self.copy_profiles).await?;
            let mut writer = pin!(BinaryCopyInWriter::new(sink, &PROFILE_TYPES));
            for r in &changes.profiles {
                let attributes = Json(&r.attributes);
                let row: [&(dyn ToSql + Sync); 11] = [
                    &r.id,
                    &r.handle,
                    &r.display_name,
                    &r.email,
                    &r.bio,
                    &r.avatar_url,
                    &attributes,
                    &r.version,
                    &r.create_time,
                    &r.update_time,
                    &r.last_position,
                ];
                writer.as_mut().write(&row).await?;
            }
            writer.finish().await?;
        }
        if !changes.sites.is_empty() {
            let sink = tx.copy_in(&self.copy_sites).await?;
            let mut writer = pin!(BinaryCopyInWriter::new(sink, &SITE_TYPES));
            for r in &changes.sites {
                let row: [&(dyn ToSql + Sync); 9] = [
                    &r.id,
                    &r.domain,
                    &r.name,
                    &r.time_zone,
                    &r.owner_profile_id,
                    &r.version,
                    &r.create_time,
                    &r.update_time,
                    &r.last_position,
                ];
                writer.as_mut().write(&row).await?;
            }
            writer.finish().await?;
        }
        Ok(())
    }

    /// Every profile's `sites` array from the site rows, in two set-based statements: owners
    /// get their aggregate, and arrays whose sites are all gone become empty again (rows
    /// copied by a flush start with the column's default, `[]`).
    pub fn sites_arrays_sql(&self) -> String {
        let (p, s) = (&self.tables.profiles, &self.tables.sites);
        format!(
            "UPDATE {p} p SET sites = fresh.sites \
               FROM (SELECT s.owner_profile_id AS id, {SITES_AGG} AS sites FROM {s} s GROUP BY s.owner_profile_id) fresh \
              WHERE p.id = fresh.id AND p.sites <> fresh.sites; \
             UPDATE {p} p SET sites = '[]'::jsonb \
              WHERE p.sites <> '[]'::jsonb AND NOT EXISTS (SELECT 1 FROM {s} s WHERE s.owner_profile_id = p.id);"
        )
    }
}
