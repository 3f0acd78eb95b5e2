//! Filling a new version: pages are folded in memory and the rows written in bulk when the
//! rows held reach the rebuild's memory budget ([`Options::memory_budget`]), and at the end.
//!
//! Nobody else writes the new tables until the switch, so the rows in memory are the truth
//! about them: a page needs no `SELECT` of the rows it touches, and a profile updated on many
//! pages is written once per flush instead of once per page (at 10 events per profile, spread
//! over the store as in service, that is most of the work the per-page path did). When the
//! whole read model fits the budget, every row is written exactly once. Past it, a flush
//! writes the rows and forgets them; a later event for a forgotten id reads its row back,
//! and the next flush replaces it (`DELETE` + `COPY`). The fold is the live projector's own
//! ([`Fold::apply`]), so the rules cannot differ.
//!
//! [`Options::memory_budget`]: crate::rebuild::Options::memory_budget
//!
//! A flush the read DB refuses (bad data, e.g. a NUL byte Postgres will not store) cannot say
//! which event was at fault; the flush is rolled back and its events are replayed through the
//! live path's page-by-page projection, which dead-letters exactly the culprits, as before.

use std::collections::HashSet;

use deadpool_postgres::Pool;
use tally_event_store::reader;
use tally_platform::causes::Causes;
use uuid::Uuid;

use crate::{
    ProjectorError,
    dead_letters::{self, NewDeadLetter},
    error::is_transient,
    fold::{Fold, Verdict},
    project::Sharing,
    rebuild::{
        Options,
        bulk::{Bulk, Changes},
        replay::{self, CONSUMER, Prepared},
    },
    rows::{ProfileRow, Slot},
    store::Statements,
};

/// What a row costs in memory before its strings: the map entry (id and slot, at the hash
/// map's load factor) and its place in a dirty set.
const ROW_OVERHEAD: usize = (size_of::<Uuid>() + size_of::<Slot<ProfileRow>>()) * 8 / 7 + 2 * size_of::<Uuid>();

/// The memory the rows held are estimated to take. Measuring every row after every page
/// would cost as much as folding it, so the average row is measured again only when the
/// number of rows has doubled since the last measure (amortised: each row is measured about
/// twice over a rebuild), and the estimate is the row count times that average.
#[derive(Debug, Default)]
struct Footprint {
    row_bytes: usize,
    measured_at: usize,
}

impl Footprint {
    fn estimate(&mut self, rows: &Fold) -> usize {
        let n = rows.profiles.len() + rows.sites.len() + rows.keys.len();
        if n > 0 && (self.row_bytes == 0 || n >= 2 * self.measured_at) {
            let heap: usize = rows
                .profiles
                .values()
                .map(|s| if let Slot::Live(r) = s { r.heap_bytes() } else { 0 })
                .chain(rows.sites.values().map(|s| if let Slot::Live(r) = s { r.heap_bytes() } else { 0 }))
                .chain(rows.keys.iter().map(|(id, r)| id.1.capacity() + r.heap_bytes()))
                .sum();
            self.row_bytes = ROW_OVERHEAD + heap / n;
            self.measured_at = n;
        }
        n * self.row_bytes
    }
}

pub struct Filler<'a> {
    read: &'a Pool,
    store: &'a Pool,
    statements: &'a Statements,
    bulk: Bulk,
    indexes_ddl: String,
    indexed: bool,
    page: usize,
    memory_budget: usize,
    footprint: Footprint,
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
    /// Bulk writes so far.
    pub rounds: u64,
}

impl<'a> Filler<'a> {
    pub fn new(
        read: &'a Pool,
        store: &'a Pool,
        statements: &'a Statements,
        indexes_ddl: String,
        options: &Options,
    ) -> Self {
        Filler {
            read,
            store,
            statements,
            bulk: Bulk::new(&statements.tables),
            indexes_ddl,
            indexed: false,
            page: options.page,
            memory_budget: options.memory_budget,
            footprint: Footprint::default(),
            rows: Fold::default(),
            written_profiles: HashSet::new(),
            written_sites: HashSet::new(),
            evicted: false,
            letters: Vec::new(),
            flushed_through: 0,
            through: 0,
            dead_lettered: 0,
            rounds: 0,
        }
    }

    /// Folds one page; writes and forgets the rows when they outgrow the memory budget.
    /// Returns the number of events the page held.
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
        let letters: usize = self.letters.iter().map(|l| l.raw.len() + l.reason.len()).sum();
        if self.footprint.estimate(&self.rows) + letters >= self.memory_budget {
            self.flush().await?;
            self.forget();
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
        let analyze = format!("ANALYZE {}", self.statements.tables.all().join(", "));
        self.read.get().await?.batch_execute(&analyze).await?;
        Ok(())
    }

    async fn ensure_indexes(&mut self) -> Result<(), ProjectorError> {
        if !self.indexed {
            self.read.get().await?.batch_execute(&self.indexes_ddl).await?;
            self.indexed = true;
        }
        Ok(())
    }

    /// Reads the rows of the page's ids (and read keys) that are no longer in memory.
    async fn load_missing(&mut self, events: &[(usize, crate::decode::Event)]) -> Result<(), ProjectorError> {
        let (mut profiles, mut sites, mut keys) = (Vec::new(), Vec::new(), Vec::new());
        for (_, e) in events {
            let id = e.change.id();
            if let Some((site, key)) = e.change.read_key() {
                let key = (site, key.to_owned());
                if !self.rows.keys.contains_key(&key) {
                    keys.push(key);
                }
            }
            if e.change.is_profile() {
                if !self.rows.profiles.contains_key(&id) {
                    profiles.push(id);
                }
            } else if !self.rows.sites.contains_key(&id) {
                sites.push(id);
            }
        }
        if profiles.is_empty() && sites.is_empty() && keys.is_empty() {
            return Ok(());
        }
        profiles.sort_unstable();
        profiles.dedup();
        sites.sort_unstable();
        sites.dedup();
        keys.sort_unstable();
        keys.dedup();
        let mut client = self.read.get().await?;
        let tx = client.transaction().await?;
        let loaded = self.statements.load(&tx, &profiles, &sites, &keys, false).await?;
        tx.commit().await?;
        for (id, slot) in loaded.profiles {
            self.written_profiles.insert(id);
            self.rows.profiles.insert(id, slot);
        }
        for (id, slot) in loaded.sites {
            self.written_sites.insert(id);
            self.rows.sites.insert(id, slot);
        }
        self.rows.keys.extend(loaded.keys);
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
                Slot::Gone(at) => {
                    c.tombstones.push((*id, *at));
                    c.gone_sites.push(*id);
                }
            }
        }
        c.keys = self.rows.dirty_keys.iter().map(|k| &self.rows.keys[k]).collect();
        c
    }

    /// Writes the rows changed since the last flush and the dead letters gathered meanwhile,
    /// in one transaction.
    async fn flush(&mut self) -> Result<(), ProjectorError> {
        let nothing =
            self.rows.dirty_profiles.is_empty() && self.rows.dirty_sites.is_empty() && self.rows.dirty_keys.is_empty();
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
                self.rounds += 1;
                self.written_profiles.extend(std::mem::take(&mut self.rows.dirty_profiles));
                self.written_sites.extend(std::mem::take(&mut self.rows.dirty_sites));
                self.rows.dirty_keys.clear();
                self.rows.refresh_owners.clear();
                self.letters.clear();
            }
            Err(e) if is_transient(&e) => return Err(e.into()),
            Err(e) => {
                tracing::warn!(
                    error = %Causes(&e),
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
                reader::read_all(&client, after, self.page as i64, &filter).await?
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
