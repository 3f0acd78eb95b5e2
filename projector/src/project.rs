//! Projecting a run of decoded events into one version's tables: lock, load,
//! fold in memory, write back.

use std::collections::BTreeSet;

use deadpool_postgres::Transaction;
use uuid::Uuid;

use crate::{
    decode::{Change, Event},
    fold::Verdict,
    store::Statements,
};

/// How a writer shares the tables it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// Other projectors (partitions, `dead-letters retry`) may write the same
    /// version concurrently: take owner locks and row locks.
    Shared,
    /// Nobody else writes these tables (a rebuild filling a new version).
    Exclusive,
}

/// Applies `events` in order and returns one verdict per event. A database
/// error leaves the transaction aborted; the caller decides what to do.
pub async fn project(
    tx: &Transaction<'_>,
    statements: &Statements,
    events: &[&Event],
    sharing: Sharing,
) -> Result<Vec<Verdict>, tokio_postgres::Error> {
    let mut profile_ids = BTreeSet::new();
    let mut site_ids = BTreeSet::new();
    let mut owners = BTreeSet::new();
    let mut keys = BTreeSet::new();
    for e in events {
        if let Some((site, key)) = e.change.read_key() {
            keys.insert((site, key.to_owned()));
        }
        match &e.change {
            c if c.is_profile() => {
                profile_ids.insert(c.id());
            }
            Change::SiteRegistered(f) => {
                site_ids.insert(f.id);
                owners.insert(f.owner_profile_id);
            }
            c => {
                site_ids.insert(c.id());
            }
        }
    }
    let profile_ids: Vec<Uuid> = profile_ids.into_iter().collect();
    let site_ids: Vec<Uuid> = site_ids.into_iter().collect();
    if sharing == Sharing::Shared {
        let lock_ids: Vec<Uuid> = owners.union(&profile_ids.iter().copied().collect()).copied().collect();
        statements.lock_owners(tx, &lock_ids, &site_ids).await?;
    }
    let keys: Vec<_> = keys.into_iter().collect();
    let mut fold = statements.load(tx, &profile_ids, &site_ids, &keys, sharing == Sharing::Shared).await?;
    let verdicts: Vec<Verdict> = events.iter().map(|e| fold.apply(e)).collect();
    statements.write(tx, &fold).await?;
    Ok(verdicts)
}
