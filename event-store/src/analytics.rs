//! Group commit for analytics events.
//!
//! Analytics events need no optimistic concurrency (each is an independent
//! fact), only idempotency per client event id. They get their own appender
//! task so a flood of pageviews batches into few large transactions without
//! queueing behind entity commands: each transaction records the batch's
//! client event ids (a duplicate is detected by the primary key, across every
//! command pod), then appends the fresh events through the same batch code as
//! entity commands, under the same head lock, so the global order stays
//! gap-free.

use std::collections::HashSet;
use std::time::Instant;

use deadpool_postgres::{Client, Pool};
use tally_platform::causes::Causes;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::types::Type;
use uuid::Uuid;

use crate::{AppendError, AppendRequest, ExpectedVersion, NewEvent, batch};

/// Tuning knobs of the analytics appender.
#[derive(Debug, Clone, Copy)]
pub struct AnalyticsAppenderConfig {
    /// Most events per transaction (a request's events are never split).
    pub max_events: usize,
    /// Requests waiting for a transaction; a full queue pushes back on callers.
    pub queue_capacity: usize,
}

impl Default for AnalyticsAppenderConfig {
    fn default() -> Self {
        Self { max_events: 5_000, queue_capacity: 1_024 }
    }
}

/// One event of a site, with its client idempotency id when it has one.
#[derive(Debug, Clone)]
pub struct AnalyticsEvent {
    pub client_event_id: Option<String>,
    pub event: NewEvent,
}

/// A request's events of one site, appended to `stream_id` in order.
#[derive(Debug, Clone)]
pub struct AnalyticsBatch {
    pub site_id: Uuid,
    pub stream_id: String,
    pub events: Vec<AnalyticsEvent>,
}

/// What happened to one event of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnalyticsOutcome {
    /// Appended now, at this global position.
    Appended { global_position: u64 },
    /// Its client event id was already recorded for the site; not appended.
    Duplicate,
}

struct Job {
    batch: AnalyticsBatch,
    reply: oneshot::Sender<Result<Vec<AnalyticsOutcome>, AppendError>>,
}

/// A handle to the analytics appender task; the task drains its queue and
/// stops once every handle is dropped.
#[derive(Clone)]
pub struct AnalyticsAppender {
    jobs: mpsc::Sender<Job>,
}

impl AnalyticsAppender {
    /// Starts the task on a thread of its own (as the command appender does:
    /// it holds the same append lock), taking connections from `pool`.
    pub fn spawn(pool: Pool, config: AnalyticsAppenderConfig) -> (Self, tokio::task::JoinHandle<()>) {
        let (jobs, rx) = mpsc::channel(config.queue_capacity.max(1));
        (Self { jobs }, crate::appender::spawn_on_own_thread(run(pool, config, rx)))
    }

    /// Appends `batch`; resolves once it is committed, with one outcome per
    /// event in order. An error means nothing of the batch was written.
    pub async fn append(&self, batch: AnalyticsBatch) -> Result<Vec<AnalyticsOutcome>, AppendError> {
        if batch.events.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { batch, reply }).await.map_err(|_| AppendError::ShuttingDown)?;
        answer.await.map_err(|_| AppendError::ShuttingDown)?
    }
}

async fn run(pool: Pool, config: AnalyticsAppenderConfig, mut rx: mpsc::Receiver<Job>) {
    let mut pending: Option<Job> = None;
    loop {
        let first = match pending.take() {
            Some(job) => job,
            None => match rx.recv().await {
                Some(job) => job,
                None => break,
            },
        };
        let mut size = first.batch.events.len();
        let mut jobs = vec![first];
        // Take whatever queued while the last transaction ran, up to the cap.
        while size < config.max_events {
            match rx.try_recv() {
                Ok(job) if size + job.batch.events.len() > config.max_events => {
                    pending = Some(job);
                    break;
                }
                Ok(job) => {
                    size += job.batch.events.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let (batches, replies): (Vec<_>, Vec<_>) = jobs.into_iter().map(|j| (j.batch, j.reply)).unzip();
        let outcomes = match commit(&pool, &batches).await {
            Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
            Err(reason) => {
                tracing::error!(error = %reason, events = size, "analytics append failed; nothing was written");
                metrics::counter!("tally_append_batch_failures_total", "category" => "analytics").increment(1);
                vec![Err(AppendError::Unavailable(reason)); batches.len()]
            }
        };
        let appended =
            outcomes.iter().flatten().flatten().filter(|o| matches!(o, AnalyticsOutcome::Appended { .. })).count();
        metrics::histogram!("tally_analytics_append_batch_events").record(size as f64);
        metrics::histogram!("tally_analytics_append_batch_duration_seconds").record(started.elapsed().as_secs_f64());
        metrics::counter!("tally_events_appended_total").increment(appended as u64);
        metrics::counter!("tally_analytics_duplicates_total").increment((size - appended) as u64);
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            let _ = reply.send(outcome);
        }
    }
    tracing::info!("analytics appender stopped: queue drained");
}

async fn commit(pool: &Pool, batches: &[AnalyticsBatch]) -> Result<Vec<Vec<AnalyticsOutcome>>, String> {
    let client = pool.get().await.map_err(|e| Causes(&e).to_string())?;
    match append_in(&client, batches).await {
        Ok(outcomes) => Ok(outcomes),
        Err(e) => {
            // Best effort: if the connection is broken, the pool drops it on recycle.
            let _ = client.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

/// Which (batch, event) pairs are fresh: their client event id (if any) was
/// neither recorded before nor used earlier in this transaction.
async fn fresh_events(tx: &Client, batches: &[AnalyticsBatch]) -> Result<Vec<Vec<bool>>, tokio_postgres::Error> {
    let mut seen = HashSet::new();
    let mut fresh: Vec<Vec<bool>> = Vec::with_capacity(batches.len());
    let mut keys: Vec<(Uuid, &str)> = Vec::new();
    for b in batches {
        fresh.push(
            b.events
                .iter()
                .map(|e| match &e.client_event_id {
                    None => true,
                    Some(id) if seen.insert((b.site_id, id.as_str())) => {
                        keys.push((b.site_id, id.as_str()));
                        true
                    }
                    Some(_) => false,
                })
                .collect(),
        );
    }
    if keys.is_empty() {
        return Ok(fresh);
    }
    // Sorted so that concurrent transactions (other pods) lock the keys in
    // the same order and cannot deadlock; a key another transaction holds
    // uncommitted makes this one wait for its outcome.
    keys.sort_unstable();
    let (sites, ids): (Vec<Uuid>, Vec<&str>) = keys.iter().copied().unzip();
    let stmt = tx
        .prepare_typed_cached(
            "INSERT INTO analytics_client_events (site_id, client_event_id) \
             SELECT s, c FROM unnest($1::uuid[], $2::text[]) AS k(s, c) ORDER BY s, c \
             ON CONFLICT DO NOTHING RETURNING site_id, client_event_id",
            &[Type::UUID_ARRAY, Type::TEXT_ARRAY],
        )
        .await?;
    let inserted: HashSet<(Uuid, String)> =
        tx.query(&stmt, &[&sites, &ids]).await?.into_iter().map(|row| (row.get(0), row.get(1))).collect();
    let mut first = HashSet::new();
    for (b, flags) in batches.iter().zip(&mut fresh) {
        for (e, flag) in b.events.iter().zip(flags.iter_mut()) {
            if let (true, Some(id)) = (*flag, &e.client_event_id) {
                let key = (b.site_id, id.clone());
                *flag = inserted.contains(&key) && first.insert(key);
            }
        }
    }
    Ok(fresh)
}

/// One transaction: the dedupe insert first (its key locks are what makes a
/// racing pod wait for this one's outcome), then the batch under the head lock.
async fn append_in(client: &Client, batches: &[AnalyticsBatch]) -> Result<Vec<Vec<AnalyticsOutcome>>, String> {
    client.batch_execute("BEGIN").await.map_err(|e| Causes(&e).to_string())?;
    let fresh = fresh_events(client, batches).await.map_err(|e| Causes(&e).to_string())?;
    let requests: Vec<AppendRequest> = batches
        .iter()
        .zip(&fresh)
        .map(|(b, flags)| AppendRequest {
            stream_id: b.stream_id.clone(),
            category: crate::ANALYTICS_CATEGORY.to_owned(),
            expected: ExpectedVersion::Any,
            events: b.events.iter().zip(flags).filter(|(_, f)| **f).map(|(e, _)| e.event.clone()).collect(),
            claims: Vec::new(),
            command_id: None,
            fingerprint: Vec::new(),
        })
        .collect();
    // Left open so that the checks below can still roll everything back; the
    // caller's ROLLBACK runs on any error.
    let results = batch::execute(client, &requests, batch::Start::InTransaction, batch::Finish::LeaveOpen)
        .await
        .map_err(|e| Causes(&e).to_string())?;
    let mut outcomes = Vec::with_capacity(batches.len());
    for ((flags, request), result) in fresh.iter().zip(&requests).zip(results) {
        // Any-version appends without claims or command ids are never
        // refused; should that change, the whole transaction is rolled back.
        let result = result.map_err(|e| format!("analytics append refused: {e}"))?;
        let mut position = result.global_position + 1 - request.events.len() as u64;
        outcomes.push(
            flags
                .iter()
                .map(|&fresh| {
                    if fresh {
                        position += 1;
                        AnalyticsOutcome::Appended { global_position: position - 1 }
                    } else {
                        AnalyticsOutcome::Duplicate
                    }
                })
                .collect(),
        );
    }
    client.batch_execute("COMMIT").await.map_err(|e| Causes(&e).to_string())?;
    Ok(outcomes)
}
