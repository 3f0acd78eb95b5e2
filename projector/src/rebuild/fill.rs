//! Filling a new version: pages are folded in memory and the changed rows written in bulk
//! once they reach [`FLUSH_PAGES`] pages' worth.
//!
//! Nobody else writes the new tables until the switch, so the rows in memory are the truth
//! about them: a page needs no `SELECT` of the rows it touches, and a profile updated on many
//! pages is written once per flush instead of once per page (at 10 events per profile, spread
//! over the store as in service, that is most of the work the per-page path did). The fold
//! is the live projector's own ([`Fold::apply`]), so the rules cannot differ.
//!
//! A flush the read DB refuses (bad data, e.g. a NUL byte Postgres will not store) cannot say
//! which event was at fault; the flush is rolled back and its events are replayed through the
//! live path's page-by-page projection, which dead-letters exactly the culprits, as before.

use std::collections::HashSet;

use deadpool_postgres::Pool;
use tally_event_store::reader;
use uuid::Uuid;

use crate::{
    ProjectorError,
    dead_letters::{self, NewDeadLetter},
    error::is_transient,
    fold::{Fold, Verdict},
    project::Sharing,
    rebuild::{
        bulk::{Bulk, Changes},
        replay::{self, CONSUMER, Prepared},
    },
    rows::Slot,
    store::Statements,
};

/// A flush happens when the rows changed since the last one reach this many pages' worth
/// (320,000 rows at the default page of 5,000 events): it bounds a flush's transaction and
/// memory, and a small `--page` still shows rows early. Counting rows rather than pages lets
/// a store of many events over fewer rows coalesce them all.
pub const FLUSH_PAGES: usize = 64;
/// Rows kept in memory after a flush (a few hundred bytes each); beyond it they are dropped
/// and read back from the tables when an event touches them again.
const CACHE_ROWS: usize = 1_000_000;

pub struct Filler<'a> {
    read: &'a Pool,
    store: &'a Pool,
    statements: &'a Statements,
    bulk: Bulk,
    indexes_ddl: String,
    indexed: bool,
    page: usize,
    rows: Fold,
    written_profiles: HashSet<Uuid>,
    written_sites: HashSet<Uuid>,
    /// Rows were dropped from memory: an id missing from `rows` may be in the tables.
    evicted: bool,
    letters: Vec<NewDeadLetter>,
    flushed_through: u64,
    /// The last position folded (0 before the first page).
    pub through: u64,
    pub dead_lettered: u64,
}

impl<'a> Filler<'a> {
    pub fn new(read: &'a Pool, store: &'a Pool, statements: &'a Statements, indexes_ddl: String, page: usize) -> Self {
        Filler {
            read,
            store,
            statements,
            bulk: Bulk::new(&statements.tables),
            indexes_ddl,
            indexed: false,
            page,
            rows: Fold::default(),
            written_profiles: HashSet::new(),
            written_sites: HashSet::new(),
            evicted: false,
            letters: Vec::new(),
            flushed_through: 0,
            through: 0,
            dead_lettered: 0,
        }
    }

    /// Folds one page; writes when enough rows have changed. Returns the number of events
    /// the page held.
    pub async fn absorb(&mut self, page: Prepared) -> Result<u64, ProjectorError> {
        let Prepared { messages, events, letters, through } = page;
        if self.evicted {
            self.load_missing(&events).await?;
        }
        self.letters.extend(letters);
        for (i, e) in &events {
            if let Verdict::Rejected(reason) = self.rows.apply(e) {
                self.letters.push(NewDeadLetter::from_message(&messages[*i], reason));
            }
        }
        self.through = self.through.max(through);
        let changed = self.rows.dirty_profiles.len() + self.rows.dirty_sites.len() + self.letters.len();
        if changed >= FLUSH_PAGES * self.page {
            self.flush().await?;
        }
        Ok(messages.len() as u64)
    }

    /// Writes what is left, then what the bulk writes deferred: the `sites` arrays, crash
    /// safety and the secondary indexes. Afterwards the tables are what the live path would
    /// have made, ready to verify and switch to.
    pub async fn finish(&mut self) -> Result<(), ProjectorError> {
        self.flush().await?;
        let client = self.read.get().await?;
        client.batch_execute(&self.bulk.sites_arrays_sql()).await?;
        // The tables were created UNLOGGED: while they fill, nothing reads them and a crash
        // throws the whole unfinished version away anyway (the next rebuild drops it first),
        // so per-row WAL would buy nothing. SET LOGGED writes each table to the WAL once,
        // before the switch, so from the switch on the version is as durable and replicated
        // as one the live path wrote.
        client.batch_execute(&self.statements.tables.set_logged_ddl()).await?;
        drop(client);
        self.ensure_indexes().await?;
        let t = &self.statements.tables;
        self.read.get().await?.batch_execute(&format!("ANALYZE {}, {}, {}", t.profiles, t.sites, t.tombstones)).await?;
        Ok(())
    }

    async fn ensure_indexes(&mut self) -> Result<(), ProjectorError> {
        if !self.indexed {
            self.read.get().await?.batch_execute(&self.indexes_ddl).await?;
            self.indexed = true;
        }
        Ok(())
    }

    /// Reads the rows of the page's ids that are no longer in memory.
    async fn load_missing(&mut self, events: &[(usize, crate::decode::Event)]) -> Result<(), ProjectorError> {
        let (mut profiles, mut sites) = (Vec::new(), Vec::new());
        for (_, e) in events {
            let id = e.change.id();
            if e.change.is_profile() {
                if !self.rows.profiles.contains_key(&id) {
                    profiles.push(id);
                }
            } else if !self.rows.sites.contains_key(&id) {
                sites.push(id);
            }
        }
        if profiles.is_empty() && sites.is_empty() {
            return Ok(());
        }
        profiles.sort_unstable();
        profiles.dedup();
        sites.sort_unstable();
        sites.dedup();
        let mut client = self.read.get().await?;
        let tx = client.transaction().await?;
        let loaded = self.statements.load(&tx, &profiles, &sites, false).await?;
        tx.commit().await?;
        for (id, slot) in loaded.profiles {
            self.written_profiles.insert(id);
            self.rows.profiles.insert(id, slot);
        }
        for (id, slot) in loaded.sites {
            self.written_sites.insert(id);
            self.rows.sites.insert(id, slot);
        }
        Ok(())
    }

    fn changes(&self) -> Changes<'_> {
        let mut c = Changes::default();
        for id in &self.rows.dirty_profiles {
            if self.written_profiles.contains(id) {
                c.stale_profiles.push(*id);
            }
            match &self.rows.profiles[id] {
                Slot::Live(r) => c.profiles.push(r),
                Slot::Gone(at) => c.tombstones.push((*id, *at)),
            }
        }
        for id in &self.rows.dirty_sites {
            if self.written_sites.contains(id) {
                c.stale_sites.push(*id);
            }
            match &self.rows.sites[id] {
                Slot::Live(r) => c.sites.push(r),
                Slot::Gone(at) => c.tombstones.push((*id, *at)),
            }
        }
        c
    }

    /// Writes the rows changed since the last flush and the dead letters gathered meanwhile,
    /// in one transaction.
    async fn flush(&mut self) -> Result<(), ProjectorError> {
        let nothing = self.rows.dirty_profiles.is_empty() && self.rows.dirty_sites.is_empty();
        if nothing && self.letters.is_empty() {
            self.flushed_through = self.through;
            return Ok(());
        }
        let mut client = self.read.get().await?;
        let written = {
            let changes = self.changes();
            let tx = client.transaction().await?;
            // No durability of its own needed: the tables are unlogged until `finish`, and the
            // switch's synchronous commit flushes the dead letters' WAL before it.
            tx.batch_execute("SET LOCAL synchronous_commit = off").await?;
            match self.bulk.write(&tx, &changes).await {
                Ok(()) => {
                    let n = dead_letters::insert(&*tx, CONSUMER, &self.letters, true).await?;
                    tx.commit().await?;
                    Ok(n)
                }
                Err(e) => Err(e),
            }
        };
        drop(client);
        match written {
            Ok(n) => {
                self.dead_lettered += n;
                self.written_profiles.extend(std::mem::take(&mut self.rows.dirty_profiles));
                self.written_sites.extend(std::mem::take(&mut self.rows.dirty_sites));
                self.rows.refresh_owners.clear();
                self.letters.clear();
                if self.rows.profiles.len() + self.rows.sites.len() > CACHE_ROWS {
                    self.forget();
                }
            }
            Err(e) if is_transient(&e) => return Err(e.into()),
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    after = self.flushed_through,
                    through = self.through,
                    "the read DB refused a bulk write; replaying its events page by page to find the culprits"
                );
                self.replay_page_by_page().await?;
                self.forget();
                self.letters.clear();
            }
        }
        self.flushed_through = self.through;
        Ok(())
    }

    fn forget(&mut self) {
        self.rows = Fold::default();
        self.written_profiles.clear();
        self.written_sites.clear();
        self.evicted = true;
    }

    /// The live path over `(flushed_through, through]`: one transaction per page, each event
    /// the database refuses in a savepoint of its own and dead-lettered.
    async fn replay_page_by_page(&mut self) -> Result<(), ProjectorError> {
        // The live path's statements look up sites by owner.
        self.ensure_indexes().await?;
        let filter = replay::filter();
        let mut after = self.flushed_through;
        while after < self.through {
            let events = {
                let client = self.store.get().await.map_err(|e| ProjectorError::EventStore(e.into()))?;
                reader::read_all(&**client, after, self.page as i64, &filter).await?
            };
            let events: Vec<_> = events.into_iter().take_while(|e| e.global_position <= self.through).collect();
            let Some(last) = events.last().map(|e| e.global_position) else { break };
            let mut client = self.read.get().await?;
            let tx = client.transaction().await?;
            let done = replay::apply_page(&tx, self.statements, Prepared::new(events), Sharing::Exclusive).await?;
            tx.commit().await?;
            self.dead_lettered += done.dead_lettered;
            after = last;
        }
        Ok(())
    }
}
