//! The SQL the service runs, built once at startup.
//!
//! Each read exists twice: `plain`, and `fresh`, which also returns the
//! projected position in the same statement. A read-your-writes request thus
//! costs one round trip when the read model is already fresh enough, and the
//! position and the rows come from one snapshot: since the projector commits
//! rows and offsets together, rows read with a position ≥ P include every
//! event ≤ P.

use super::model::{ProfileRecord, SiteRecord};

/// The projected position of the projector's consumer (parameter `$param`):
/// the least position over its partitions; with no rows yet, nothing is
/// projected: 0. The primary key starts with `consumer`, so this reads a
/// handful of index entries.
pub fn projected(param: usize) -> String {
    format!("SELECT coalesce(min(position), 0)::bigint AS projected FROM projector_offsets WHERE consumer = ${param}")
}

/// One read in its two forms.
pub struct Read {
    pub plain: String,
    pub fresh: String,
}

impl Read {
    /// `params` is the number of parameters of `base`; the consumer name
    /// becomes the next one. `order` re-states the base's order for the
    /// outer query (a join does not promise to keep it).
    fn new(base: String, params: usize, order: &str) -> Self {
        let fresh = format!(
            "SELECT o.projected, r.* FROM ({}) AS o LEFT JOIN LATERAL ({base}) AS r ON true {order}",
            projected(params + 1)
        );
        Self { plain: base, fresh }
    }
}

/// Every read of the service.
pub struct Queries {
    pub profile_by_id: Read,
    /// Many ids at once, for the coalesced lookups (`batch.rs`); no order.
    pub profiles_by_ids: String,
    pub profile_by_handle: Read,
    /// Many handles at once (`batch.rs`): one row per handle, the latest (see below).
    pub profiles_by_handles: String,
    pub profiles_first: Read,
    pub profiles_after: Read,
    pub site_by_id: Read,
}

impl Queries {
    pub fn new() -> Self {
        let p = ProfileRecord::COLUMNS;
        let s = SiteRecord::COLUMNS;
        Self {
            profile_by_id: Read::new(format!("SELECT {p} FROM profiles WHERE id = $1"), 1, ""),
            profiles_by_ids: format!("SELECT {p} FROM profiles WHERE id = ANY($1)"),
            // Handles are unique in the event store, but the read model may
            // briefly hold a released handle twice (events of two profiles
            // applied from different partitions): the latest write wins.
            profile_by_handle: Read::new(
                format!("SELECT {p} FROM profiles WHERE handle = $1 ORDER BY last_position DESC LIMIT 1"),
                1,
                "",
            ),
            profiles_by_handles: format!(
                "SELECT DISTINCT ON (handle) {p} FROM profiles WHERE handle = ANY($1) \
                 ORDER BY handle, last_position DESC"
            ),
            profiles_first: Read::new(format!("SELECT {p} FROM profiles ORDER BY id LIMIT $1"), 1, "ORDER BY r.id"),
            profiles_after: Read::new(
                format!("SELECT {p} FROM profiles WHERE id > $1 ORDER BY id LIMIT $2"),
                2,
                "ORDER BY r.id",
            ),
            site_by_id: Read::new(format!("SELECT {s} FROM sites WHERE id = $1"), 1, ""),
        }
    }
}

impl Default for Queries {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_form_numbers_the_consumer_after_the_base_parameters() {
        let q = Queries::new();
        assert!(q.profiles_after.fresh.contains("consumer = $3"), "{}", q.profiles_after.fresh);
        assert!(q.profile_by_id.fresh.contains("consumer = $2"), "{}", q.profile_by_id.fresh);
        assert!(q.profile_by_id.fresh.contains("AS projected"), "{}", q.profile_by_id.fresh);
        assert!(q.profiles_first.fresh.ends_with("ORDER BY r.id"));
    }
}
