//! Coalescing of concurrent profile lookups (by id, or by handle) into one statement.
//!
//! Under load most of a GetProfile's cost is not the index probe but the round trip around
//! it: a socket write and read, and a wake-up, on each of the service and Postgres. So a
//! lookup joins a queue, and one dispatcher sends whatever has queued as a single
//! `WHERE id = ANY($1)` (or `handle = ANY($1)`). It never waits for a batch to fill: a lookup
//! that finds a free slot goes out at once, alone, so an idle service answers as fast as
//! before; only while every slot has a statement in flight do lookups pile up, and the next
//! statement takes them all.
//! This is the dataloader pattern; the number of statements in flight is what makes batches
//! form, and `max_ids` bounds one statement's size (both in `[coalescing]`).
//!
//! Only reads without `min_position` come here: a read-your-writes read needs the projected
//! position from its own snapshot (see `sql.rs`).

use std::{collections::HashMap, hash::Hash, sync::Arc};

use deadpool_postgres::Pool;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio_postgres::types::ToSql;
use tracing::Instrument;

use super::{ProfileRecord, ReadError};
use crate::settings::CoalescingSettings;

/// A caller's answer: the profile, `None` when no row has the id, or the batch's failure.
type Answer = Result<Option<ProfileRecord>, Arc<ReadError>>;

/// What a batch looks profiles up by: the key's type, how a row names its key, and the
/// metric label of its batches.
pub trait LookupKey: Eq + Hash + Send + Sync + 'static {
    /// `by` in `query_profile_batch_size{by=…}`.
    const BY: &'static str;
    fn of(profile: &ProfileRecord) -> Self;
}

impl LookupKey for uuid::Uuid {
    const BY: &'static str = "id";
    fn of(profile: &ProfileRecord) -> Self {
        profile.id
    }
}

/// A normalised (lowercase) handle.
impl LookupKey for String {
    const BY: &'static str = "handle";
    fn of(profile: &ProfileRecord) -> Self {
        profile.handle.clone()
    }
}

struct Lookup<K> {
    key: K,
    reply: oneshot::Sender<Answer>,
}

/// The handle callers use; cheap to clone. The dispatcher ends when the last handle is dropped.
#[derive(Clone)]
pub struct ProfileBatcher<K> {
    queue: mpsc::UnboundedSender<Lookup<K>>,
}

impl<K: LookupKey> ProfileBatcher<K>
where
    Vec<K>: ToSql + Sync,
{
    /// Starts the dispatcher on the current Tokio runtime. `sql` selects the profile columns
    /// of the keys in `$1`, at most one row per key.
    pub fn start(pool: Pool, sql: String, limits: CoalescingSettings) -> Self {
        // Unbounded is safe here: every lookup is a request the server has accepted and is
        // awaiting, so the queue never holds more than the requests in flight.
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(dispatch(rx, pool, Arc::from(sql), limits));
        Self { queue }
    }

    pub async fn get(&self, key: K) -> Result<Option<ProfileRecord>, ReadError> {
        let (reply, answer) = oneshot::channel();
        self.queue.send(Lookup { key, reply }).map_err(|_| ReadError::DispatcherStopped)?;
        match answer.await {
            Ok(Ok(found)) => Ok(found),
            Ok(Err(shared)) => Err(ReadError::Shared(shared)),
            // Only a batch task that died mid-flight drops a lookup unanswered.
            Err(_) => Err(ReadError::DispatcherStopped),
        }
    }
}

async fn dispatch<K: LookupKey>(
    mut rx: mpsc::UnboundedReceiver<Lookup<K>>,
    pool: Pool,
    sql: Arc<str>,
    limits: CoalescingSettings,
) where
    Vec<K>: ToSql + Sync,
{
    // Settings are at least 1 when loaded; a struct built in code could still say 0.
    let slots = Arc::new(Semaphore::new(limits.statements_in_flight.max(1)));
    let max_batch = limits.max_ids.max(1);
    loop {
        // Taking the slot before the first lookup is what lets lookups queue while all
        // statements are busy.
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let mut batch = Vec::with_capacity(8);
        while batch.is_empty() {
            let Some(first) = rx.recv().await else { return };
            batch.extend(asking(first));
        }
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(next) => batch.extend(asking(next)),
                Err(_) => break,
            }
        }
        let span = tracing::debug_span!("profile_batch", by = K::BY, size = batch.len());
        tokio::spawn(run(pool.clone(), sql.clone(), batch, slot).instrument(span));
    }
}

/// A lookup whose request was cancelled (the client went away, or its deadline passed while
/// it queued) is not worth a row.
fn asking<K>(lookup: Lookup<K>) -> Option<Lookup<K>> {
    (!lookup.reply.is_closed()).then_some(lookup)
}

async fn run<K: LookupKey>(pool: Pool, sql: Arc<str>, batch: Vec<Lookup<K>>, _slot: OwnedSemaphorePermit)
where
    Vec<K>: ToSql + Sync,
{
    metrics::histogram!("query_profile_batch_size", "by" => K::BY).record(batch.len() as f64);
    // The keys become the statement's parameter as they are; the replies keep their order.
    let (keys, replies): (Vec<K>, Vec<_>) = batch.into_iter().map(|l| (l.key, l.reply)).unzip();
    match fetch(&pool, &sql, &keys).await {
        Ok(mut found) => {
            // The same key may be asked for twice in one batch: its last asker takes the row,
            // earlier ones get a copy.
            let last: HashMap<&K, usize> = keys.iter().enumerate().map(|(i, k)| (k, i)).collect();
            for (i, (key, reply)) in keys.iter().zip(replies).enumerate() {
                let answer = if last[key] == i { found.remove(key) } else { found.get(key).cloned() };
                // A caller that gave up (its request was cancelled) no longer listens.
                let _ = reply.send(Ok(answer));
            }
        }
        Err(e) => {
            // Logged once here, where it is handled, rather than once per waiting request.
            e.log_if_internal();
            let shared = Arc::new(e);
            for reply in replies {
                let _ = reply.send(Err(shared.clone()));
            }
        }
    }
}

async fn fetch<K: LookupKey>(pool: &Pool, sql: &str, keys: &Vec<K>) -> Result<HashMap<K, ProfileRecord>, ReadError>
where
    Vec<K>: ToSql + Sync,
{
    let client = pool.get().await?;
    let stmt = client.prepare_cached(sql).await?;
    let rows = client.query(&stmt, &[keys]).await?;
    let mut found = HashMap::with_capacity(rows.len());
    for row in &rows {
        let profile = ProfileRecord::from_row(row)?;
        found.insert(K::of(&profile), profile);
    }
    Ok(found)
}
