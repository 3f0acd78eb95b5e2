//! Filling a new analytics version in bulk (docs/read-side.md, "Rebuild").
//!
//! Nobody else writes the new tables until the switch, so the fold in memory is the truth
//! about them: the visitor-day states stay in memory across pages (no `SELECT` per page), the
//! rollup deltas are summed in memory across pages, and rows are written by binary `COPY`
//! ([`super::bulk`]) as soon as they are final — an event's row at once, a session's when a
//! later event of its visitor-day closes it — and the rest at the end. A page's rows are
//! written while the next page is folded, so the projector and the read DB work at the same
//! time. The fold is the live projector's own ([`AnalyticsFold::apply`]), so the rules cannot
//! differ.
//!
//! Memory is bounded by the rebuild's budget ([`caps`]): past its visitor-days, the half
//! touched longest ago is written out (state and current session) and taken back out of the
//! tables if one of its visitor-days gets another event (a backfill can bring an old date
//! late); past its rollup keys, the sums are added to the table.
//!
//! A write the read DB refuses (bad data, e.g. a NUL byte Postgres will not store) cannot say
//! which event was at fault, and the tables then hold no consistent prefix of the log to
//! continue from: the caller drops the version and replays the whole log through the live
//! path, which dead-letters exactly the culprits ([`Refused`]).

use std::{
    collections::HashSet,
    hash::{BuildHasher, BuildHasherDefault, DefaultHasher},
    mem::take,
    sync::Arc,
};

use deadpool_postgres::Pool;
use tally_domain::sessions::{Rules, Session};
use tokio::task::JoinHandle;

use crate::{
    ProjectorError,
    analytics::{
        AnalyticsEvent,
        bulk::Bulk,
        fold::{AnalyticsFold, Day, DayKey, EventRow},
        pages::{Page, positions},
    },
    dead_letters::{self, NewDeadLetter},
    error::is_transient,
    fold::Verdict,
    rebuild::{Options, replay::CONSUMER},
};

/// A fixed hash of a visitor-day's key (the same in every run, unlike a map's seeded one).
fn day_hash(key: &DayKey) -> u64 {
    BuildHasherDefault::<DefaultHasher>::default().hash_one(key)
}

/// What a visitor-day held in memory costs, all told (state, current session, counted pairs,
/// map entry, and its share of the pages in flight): measured, 500,000 of them peaked at
/// 2.7 GB.
const DAY_BYTES: usize = 5 * 1024;
/// A rollup key and its sums in memory: about 100 bytes.
const ROLLUP_BYTES: usize = 100;

/// How many visitor-days and rollup keys the fill keeps in memory within `options`' memory
/// budget: three quarters for the visitor-days (about 78,000 at the default 512 MiB), the rest
/// for the rollup sums (about 1.3 M).
pub fn caps(options: &Options) -> (usize, usize) {
    let budget = options.memory_budget;
    ((budget / 4 * 3 / DAY_BYTES).max(1), (budget / 4 / ROLLUP_BYTES).max(1))
}

/// Why the bulk fill stopped.
#[derive(Debug)]
pub enum Failure {
    /// The read DB refused a write for a reason that is not transient: the data. With the
    /// dead letters the fill had written before (the live replay skips known ones).
    Refused(tokio_postgres::Error, u64),
    Failed(ProjectorError),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        if is_transient(&e) { Failure::Failed(e.into()) } else { Failure::Refused(e, 0) }
    }
}

impl From<deadpool_postgres::PoolError> for Failure {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Failure::Failed(e.into())
    }
}

pub struct Filler<'a> {
    read: &'a Pool,
    rules: &'a Rules,
    bulk: Arc<Bulk>,
    /// Visitor-days and rollup keys held at most ([`caps`]).
    caps: (usize, usize),
    /// The write of the last page folded, while the next one is folded.
    in_flight: Option<JoinHandle<Result<u64, Failure>>>,
    /// What is carried from page to page: visitor-days, rollup sums and their values (each
    /// page's fold borrows that page's events for its rows).
    fold: AnalyticsFold<'static>,
    /// Hashes of the visitor-days written out (8 bytes each, not the keys): only a key whose
    /// hash is here is looked for in the tables when it is missing from memory.
    evicted: HashSet<u64>,
    /// The rollup table has rows already: later sums are added to them.
    rollup_written: bool,
    pub dead_lettered: u64,
    /// The positions of every event dead-lettered (for the verifier to leave out).
    pub letters: Vec<i64>,
}

impl<'a> Filler<'a> {
    pub fn new(read: &'a Pool, rules: &'a Rules, bulk: Bulk, options: &Options) -> Self {
        Filler {
            read,
            rules,
            bulk: Arc::new(bulk),
            caps: caps(options),
            in_flight: None,
            fold: AnalyticsFold::default(),
            evicted: HashSet::new(),
            rollup_written: false,
            dead_lettered: 0,
            letters: Vec::new(),
        }
    }

    /// Folds one page and hands what became final (its event rows, the sessions it closed,
    /// its dead letters) to a write of its own, which runs while the next page is folded (one
    /// at a time). Returns the number of events the page held.
    pub async fn absorb(&mut self, page: Page) -> Result<u64, Failure> {
        let absorbed = self.absorb_page(page).await;
        if absorbed.is_err()
            && let Some(write) = self.in_flight.take()
        {
            // Settled before the caller drops or recreates the tables.
            let _ = write.await;
        }
        absorbed.map_err(|e| self.counted(e))
    }

    /// See [`Self::absorb`].
    async fn absorb_page(&mut self, page: Page) -> Result<u64, Failure> {
        let Page { messages, events, mut letters, .. } = page;
        if !self.evicted.is_empty() {
            let mut missing: Vec<DayKey> = events
                .iter()
                .map(|(_, e)| e.key())
                .filter(|k| !self.fold.days.contains_key(k) && self.evicted.contains(&day_hash(k)))
                .collect();
            missing.sort_unstable();
            missing.dedup();
            if !missing.is_empty() {
                let mut client = self.read.get().await?;
                let tx = client.transaction().await?;
                self.fold.days.extend(self.bulk.take_days(&tx, &missing).await?);
                tx.commit().await?;
            }
        }
        // The page's fold borrows its events; the state carried across pages moves in and out.
        let mut fold = AnalyticsFold {
            days: take(&mut self.fold.days),
            rollup: take(&mut self.fold.rollup),
            values: take(&mut self.fold.values),
            closed: Vec::new(),
            events: Vec::with_capacity(events.len()),
            // A rebuilt version has no open days: every day goes into its spans.
            open_from: Default::default(),
        };
        // (index in `events`, session number) of each applied event: its row.
        let mut applied = Vec::with_capacity(events.len());
        for (j, (i, e)) in events.iter().enumerate() {
            match fold.apply(self.rules, e) {
                Verdict::Applied => applied.push((j, fold.events.last().map_or(0, |r| r.seq))),
                Verdict::Rejected(reason) => letters.push(NewDeadLetter::from_message(&messages[*i], reason)),
                _ => {}
            }
        }
        let AnalyticsFold { days, rollup, values, closed, events: rows, .. } = fold;
        drop(rows);
        (self.fold.days, self.fold.rollup, self.fold.values) = (days, rollup, values);
        self.settle().await?;
        self.letters.extend(positions(&letters));
        let (read, bulk) = (self.read.clone(), self.bulk.clone());
        self.in_flight = Some(tokio::spawn(write_page(read, bulk, events, applied, closed, letters)));
        if self.fold.days.len() > self.caps.0 {
            self.evict().await?;
        }
        if self.fold.rollup.len() > self.caps.1 {
            self.write_rollup().await?;
        }
        Ok(messages.len() as u64)
    }

    /// Waits for the page write in flight.
    async fn settle(&mut self) -> Result<(), Failure> {
        if let Some(write) = self.in_flight.take() {
            let written = write.await.map_err(|e| {
                Failure::Failed(ProjectorError::Rebuild(format!("a page write of the rebuild failed: {e}")))
            })?;
            self.dead_lettered += written?;
        }
        Ok(())
    }

    /// Writes what memory still holds: the visitor-days with their current sessions, and the
    /// rollup sums.
    pub async fn finish(&mut self) -> Result<(), Failure> {
        let finished = self.finish_writes().await;
        finished.map_err(|e| self.counted(e))
    }

    fn counted(&self, failure: Failure) -> Failure {
        match failure {
            Failure::Refused(e, _) => Failure::Refused(e, self.dead_lettered),
            failed => failed,
        }
    }

    /// See [`Self::finish`].
    async fn finish_writes(&mut self) -> Result<(), Failure> {
        self.settle().await?;
        let mut client = self.read.get().await?;
        let tx = client.transaction().await?;
        let days = take(&mut self.fold.days);
        let mut days: Vec<(&DayKey, &Day)> = days.iter().collect();
        // In key order, so the primary keys grow at their right edge.
        days.sort_unstable_by(|a, b| a.0.cmp(b.0));
        self.bulk.days(&tx, &days).await?;
        self.bulk.sessions(&tx, &current_sessions(&days)).await?;
        tx.commit().await?;
        self.write_rollup().await?;
        Ok(())
    }

    /// Writes out the half of the visitor-days touched longest ago: with the log in time
    /// order they are the ones least likely to see another event.
    async fn evict(&mut self) -> Result<(), Failure> {
        let mut positions: Vec<i64> = self.fold.days.values().map(|d| d.last_position).collect();
        let middle = positions.len() / 2;
        let (_, cut, _) = positions.select_nth_unstable(middle);
        let cut = *cut;
        let (old, keep) = take(&mut self.fold.days).into_iter().partition(|(_, d)| d.last_position < cut);
        self.fold.days = keep;
        let old: Vec<(DayKey, Day)> = old.into_iter().collect();
        let mut old: Vec<(&DayKey, &Day)> = old.iter().map(|(k, d)| (k, d)).collect();
        old.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut client = self.read.get().await?;
        let tx = client.transaction().await?;
        tx.batch_execute("SET LOCAL synchronous_commit = off").await?;
        self.bulk.days(&tx, &old).await?;
        self.bulk.sessions(&tx, &current_sessions(&old)).await?;
        tx.commit().await?;
        self.evicted.extend(old.iter().map(|(k, _)| day_hash(k)));
        Ok(())
    }

    /// Writes the rollup sums (rows whose deltas cancelled out carry nothing) and starts
    /// summing afresh.
    async fn write_rollup(&mut self) -> Result<(), Failure> {
        self.fold.seal();
        let rollup = take(&mut self.fold.rollup);
        let values = take(&mut self.fold.values);
        let mut rows: Vec<_> = rollup.iter().collect();
        // In primary-key order (values by their text, as the read DB's C collation sorts
        // them, not by interning order): the index is written in runs, and the heap holds
        // each (site, dimension, span) prefix in the order a breakdown's index scan reads it,
        // a few pages per prefix instead of a page per row.
        rows.sort_unstable_by(|(a, _), (b, _)| {
            (a.0, a.1, a.2, a.3, values.get(a.4)).cmp(&(b.0, b.1, b.2, b.3, values.get(b.4)))
        });
        let mut client = self.read.get().await?;
        let tx = client.transaction().await?;
        self.bulk.rollup(&tx, &rows, &values, !self.rollup_written).await?;
        tx.commit().await?;
        self.rollup_written |= !rows.is_empty();
        Ok(())
    }
}

/// The current session of each visitor-day that has one.
fn current_sessions<'d>(days: &[(&'d DayKey, &'d Day)]) -> Vec<(&'d DayKey, &'d Session)> {
    days.iter().filter_map(|(k, d)| d.state.session.as_ref().map(|s| (*k, s))).collect()
}

/// One page's final rows and dead letters, in a transaction of their own.
async fn write_page(
    read: Pool,
    bulk: Arc<Bulk>,
    events: Vec<(usize, AnalyticsEvent)>,
    applied: Vec<(usize, i32)>,
    closed: Vec<(DayKey, Session)>,
    letters: Vec<NewDeadLetter>,
) -> Result<u64, Failure> {
    let mut client = read.get().await?;
    let tx = client.transaction().await?;
    // No durability of its own needed: a crash drops the unfinished version anyway, and the
    // switch's synchronous commit flushes the WAL before it.
    tx.batch_execute("SET LOCAL synchronous_commit = off").await?;
    let rows: Vec<EventRow<'_>> = applied.iter().map(|(j, seq)| EventRow { event: &events[*j].1, seq: *seq }).collect();
    bulk.events(&tx, &rows).await?;
    let closed: Vec<(&DayKey, &Session)> = closed.iter().map(|(k, s)| (k, s)).collect();
    bulk.sessions(&tx, &closed).await?;
    let dead = dead_letters::insert(&*tx, CONSUMER, &letters, true).await?;
    tx.commit().await?;
    Ok(dead)
}
