//! The rows of one projection version, as the projector holds them in memory
//! while applying a batch.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A `profile_view_vN` row, without `sites` (derived from `site_view_vN` in
/// SQL, so it cannot disagree with the site rows).
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileRow {
    pub id: Uuid,
    pub handle: String,
    pub display_name: String,
    pub email: String,
    pub bio: String,
    pub avatar_url: String,
    pub attributes: BTreeMap<String, String>,
    pub version: i64,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    pub last_position: i64,
}

/// A `site_view_vN` row.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteRow {
    pub id: Uuid,
    pub domain: String,
    pub name: String,
    pub time_zone: String,
    pub owner_profile_id: Uuid,
    pub version: i64,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    pub last_position: i64,
}

/// A `site_read_keys_vN` row.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadKeyRow {
    pub site_id: Uuid,
    pub key_id: String,
    pub key_hash: Vec<u8>,
    pub label: String,
    pub revoked: bool,
    pub last_position: i64,
}

/// What the read model knows about an id.
#[derive(Debug, Clone, PartialEq)]
pub enum Slot<R> {
    Live(R),
    /// Deleted by the event at this position (a tombstone row).
    Gone(i64),
}

/// Bookkeeping bytes per `BTreeMap` entry beyond its key and value (node
/// headers, spare slots): an estimate, good enough for a memory budget.
const BTREE_ENTRY_OVERHEAD: usize = 32;

impl ProfileRow {
    /// About how many heap bytes this row holds beyond `size_of::<Self>()`.
    pub fn heap_bytes(&self) -> usize {
        let strings = [&self.handle, &self.display_name, &self.email, &self.bio, &self.avatar_url];
        let attributes: usize = self
            .attributes
            .iter()
            .map(|(k, v)| k.capacity() + v.capacity() + 2 * size_of::<String>() + BTREE_ENTRY_OVERHEAD)
            .sum();
        strings.iter().map(|s| s.capacity()).sum::<usize>() + attributes
    }
}

impl ReadKeyRow {
    /// About how many heap bytes this row holds beyond `size_of::<Self>()`.
    pub fn heap_bytes(&self) -> usize {
        self.key_id.capacity() + self.key_hash.capacity() + self.label.capacity()
    }
}

impl SiteRow {
    /// About how many heap bytes this row holds beyond `size_of::<Self>()`.
    pub fn heap_bytes(&self) -> usize {
        self.domain.capacity() + self.name.capacity() + self.time_zone.capacity()
    }
}
