//! One micro-batch of the live projector, in one read-DB transaction:
//! projection rows, dead letters and offsets commit together, so a crash
//! anywhere leaves either all of a batch's effects or none.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use deadpool_postgres::{Pool, Transaction};

use tally_domain::sessions::Rules;
use tally_platform::causes::Causes;

use crate::{
    ProjectorError,
    analytics::{self, AnalyticsEvent, AnalyticsStatements, schema::ANALYTICS},
    dead_letters::{self, NewDeadLetter},
    decode::{self, Decoded, Event},
    error::is_transient,
    fold::Verdict,
    message::{Body, Message},
    offsets::{self, Partition, Progress},
    project::{Sharing, project},
    schema::PROFILES,
    store::Statements,
};

/// Transient failures (deadlocks, a lost connection) are retried this often
/// before the batch fails; the caller then retries later from its offsets.
const ATTEMPTS: u32 = 5;

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub applied: usize,
    /// Already in the read model (re-delivery, or before `applied_through`).
    pub skipped: usize,
    /// Not for this projection (watermarks, other categories).
    pub ignored: usize,
    pub dead_lettered: usize,
    /// The active version the batch went to.
    pub version: i32,
}

/// Applies micro-batches for one consumer.
pub struct Applier {
    pool: Pool,
    consumer: String,
    statements: Mutex<HashMap<i32, Statements>>,
    analytics_statements: Mutex<HashMap<i32, AnalyticsStatements>>,
    rules: Rules,
}

/// The active version and what it already contains.
#[derive(Debug, Clone, Copy)]
pub struct Active {
    pub version: i32,
    pub applied_through: i64,
}

/// Reads the `projections` row `FOR SHARE`: a rebuild's switch (`FOR UPDATE`)
/// waits for this batch, and the next batch waits for the switch.
pub async fn active_for_share(tx: &Transaction<'_>) -> Result<Active, ProjectorError> {
    projection_for_share(tx, PROFILES).await
}

/// [`active_for_share`] for any projection.
pub async fn projection_for_share(tx: &Transaction<'_>, name: &'static str) -> Result<Active, ProjectorError> {
    // Prepared once per connection: every batch asks, and a statement sent as
    // text costs a second round trip (and a plan) each time.
    let stmt =
        tx.prepare_cached("SELECT active_version, applied_through FROM projections WHERE name = $1 FOR SHARE").await?;
    let row = tx.query_opt(&stmt, &[&name]).await?.ok_or(ProjectorError::NoProjection(name))?;
    Ok(Active { version: row.get(0), applied_through: row.get(1) })
}

impl Applier {
    pub fn new(pool: Pool, consumer: impl Into<String>) -> Self {
        Applier {
            pool,
            consumer: consumer.into(),
            statements: Mutex::new(HashMap::new()),
            analytics_statements: Mutex::new(HashMap::new()),
            rules: Rules::default(),
        }
    }

    /// Uses `rules` (e.g. a configured session timeout) for sessionisation.
    pub fn with_session_rules(mut self, rules: Rules) -> Self {
        self.rules = rules;
        self
    }

    pub fn session_rules(&self) -> &Rules {
        &self.rules
    }

    pub(crate) fn analytics_statements(&self, version: i32) -> AnalyticsStatements {
        let mut cache = self.analytics_statements.lock().expect("statement cache lock poisoned");
        cache.entry(version).or_insert_with(|| AnalyticsStatements::new(version)).clone()
    }

    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub(crate) fn statements(&self, version: i32) -> Statements {
        let mut cache = self.statements.lock().expect("statement cache lock poisoned");
        cache.entry(version).or_insert_with(|| Statements::new(version)).clone()
    }

    /// Applies `messages` (in order), retrying transient failures.
    #[tracing::instrument(skip_all, fields(consumer = %self.consumer, messages = messages.len()))]
    pub async fn apply(&self, messages: &[Message]) -> Result<BatchReport, ProjectorError> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.apply_once(messages).await {
                Ok(report) => {
                    record_metrics(&report, started.elapsed());
                    return Ok(report);
                }
                Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                    tracing::warn!(error = %Causes(&e), attempt, "batch failed transiently; retrying");
                    tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn apply_once(&self, messages: &[Message]) -> Result<BatchReport, ProjectorError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // One round trip for the three reads every batch starts with.
        let (active, active_analytics, stored) =
            futures::try_join!(active_for_share(&tx), projection_for_share(&tx, ANALYTICS), async {
                Ok(offsets::load(&tx, &self.consumer).await?)
            })?;
        let statements = self.statements(active.version);
        // Only the batch's own partitions are written back: another lane may be
        // applying the others right now (kafka::lanes), and a row written here
        // would stay locked, in no particular order, until this commit.
        let mut progress: HashMap<Partition, Progress> = HashMap::new();

        let mut report = BatchReport { version: active.version, ..BatchReport::default() };
        let mut letters = Vec::new();
        let mut to_project: Vec<(usize, Event)> = Vec::new();
        let mut to_analyse: Vec<(usize, AnalyticsEvent)> = Vec::new();
        // Each event's span lives until the batch commits, so its trace shows when the
        // projection became durable, not just when the event was triaged.
        // Only where spans are exported: otherwise each would be built, formatted and kept
        // until the commit for nobody (its fields are on the warnings below instead).
        let traced = tally_platform::telemetry::traces_built();
        let mut spans = Vec::with_capacity(if traced { messages.len() } else { 0 });
        for (i, message) in messages.iter().enumerate() {
            let partition = (message.source.topic.clone(), message.source.partition);
            let position = message.position().and_then(|p| i64::try_from(p).ok());
            let _entered = traced.then(|| {
                spans.push(event_span(message));
                spans[spans.len() - 1].clone().entered()
            });
            let partition_position = stored.get(&partition).map_or(0, |p| p.position);
            match triage(message, active.applied_through, partition_position) {
                Triage::Project(event) => to_project.push((i, event)),
                Triage::Analytics(event)
                    if event.position <= active_analytics.applied_through.max(partition_position) =>
                {
                    report.skipped += 1
                }
                Triage::Analytics(event) => to_analyse.push((i, *event)),
                Triage::Skip => report.skipped += 1,
                Triage::Ignore => report.ignored += 1,
                Triage::DeadLetter(reason) => {
                    tracing::warn!(
                        reason = %reason,
                        topic = %message.source.topic,
                        partition = message.source.partition,
                        offset = message.source.offset,
                        "dead-lettering an undecodable message"
                    );
                    letters.push(NewDeadLetter::from_message(message, reason));
                }
            }
            let stored_progress = stored.get(&partition).copied().unwrap_or_default();
            progress.entry(partition).or_insert(stored_progress).advance(&message.source, position);
        }

        // Known before anything is projected, so written first: the rollup rows
        // other lanes wait for stay locked from the analytics write to the commit,
        // and writing the offsets in between kept them two round trips longer.
        offsets::save(&tx, &self.consumer, &progress).await?;
        let verdicts = project_with_fallback(&tx, &statements, &to_project, Sharing::Shared).await?;
        for ((i, _), verdict) in to_project.iter().zip(verdicts) {
            match verdict {
                Verdict::Applied => report.applied += 1,
                Verdict::Duplicate => report.skipped += 1,
                Verdict::Rejected(reason) => {
                    tracing::warn!(reason = %reason, position = ?messages[*i].position(), "dead-lettering an event");
                    letters.push(NewDeadLetter::from_message(&messages[*i], reason));
                }
            }
        }
        let analytics_statements = self.analytics_statements(active_analytics.version);
        let events: Vec<&AnalyticsEvent> = to_analyse.iter().map(|(_, e)| e).collect();
        let verdicts =
            analytics::project_with_fallback(&tx, &analytics_statements, &self.rules, &events, Sharing::Shared).await?;
        for ((i, _), verdict) in to_analyse.iter().zip(verdicts) {
            match verdict {
                Verdict::Applied => report.applied += 1,
                Verdict::Duplicate => report.skipped += 1,
                Verdict::Rejected(reason) => {
                    tracing::warn!(reason = %reason, position = ?messages[*i].position(), "dead-lettering an event");
                    letters.push(NewDeadLetter::from_message(&messages[*i], reason));
                }
            }
        }
        report.dead_lettered = letters.len();
        dead_letters::insert(&*tx, &self.consumer, &letters, false).await?;
        tx.commit().await?;
        drop(spans);
        Ok(report)
    }
}

/// What to do with one message.
pub(crate) enum Triage {
    Project(Event),
    /// An analytics event; its own projection decides whether it is new.
    Analytics(Box<AnalyticsEvent>),
    Skip,
    Ignore,
    DeadLetter(String),
}

/// Decides a message's fate before any database work. `partition_position`
/// is the highest position already applied from the message's partition:
/// within a partition events arrive in global order, so anything at or below
/// it is a re-published duplicate.
pub(crate) fn triage(message: &Message, applied_through: i64, partition_position: i64) -> Triage {
    let envelope = match &message.body {
        Body::Envelope(e) => e,
        Body::Undecodable { reason, .. } => return Triage::DeadLetter(reason.clone()),
    };
    if analytics::decode::is_analytics(envelope) {
        return match analytics::decode::decode(envelope) {
            Ok(event) => Triage::Analytics(Box::new(event)),
            Err(e) => Triage::DeadLetter(e.to_string()),
        };
    }
    match decode::decode(envelope) {
        Err(e) => Triage::DeadLetter(e.to_string()),
        Ok(Decoded::Ignored) => Triage::Ignore,
        Ok(Decoded::Event(event)) if event.position <= applied_through.max(partition_position) => Triage::Skip,
        Ok(Decoded::Event(event)) => Triage::Project(event),
    }
}

/// A span per event, a child of the trace that wrote it, so one trace runs
/// from the request through the relay into the projection.
fn event_span(message: &Message) -> tracing::Span {
    let span = tracing::info_span!(
        "project_event",
        otel.kind = "consumer",
        event_type = message.event_type().unwrap_or(""),
        position = message.position().unwrap_or(0),
        topic = %message.source.topic,
        partition = message.source.partition,
        offset = message.source.offset,
    );
    if tally_platform::telemetry::traces_built() {
        tally_platform::propagation::set_parent(&span, &message.trace_context());
    }
    span
}

/// Projects all events in one go inside a savepoint. If that fails for a
/// reason that is not transient (bad data the database refuses), the
/// savepoint is rolled back and each event is projected in a savepoint of its
/// own, so only the culprits become dead letters and the batch goes on.
pub(crate) async fn project_with_fallback(
    tx: &Transaction<'_>,
    statements: &Statements,
    events: &[(usize, Event)],
    sharing: Sharing,
) -> Result<Vec<Verdict>, ProjectorError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let all: Vec<&Event> = events.iter().map(|(_, e)| e).collect();
    match in_savepoint(tx, statements, &all, sharing).await {
        Ok(verdicts) => return Ok(verdicts),
        Err(e) if is_transient(&e) => return Err(e.into()),
        Err(e) => {
            tracing::warn!(error = %Causes(&e), "batch refused by the database; projecting its events one by one")
        }
    }
    let mut verdicts = Vec::with_capacity(all.len());
    for event in all {
        match in_savepoint(tx, statements, &[event], sharing).await {
            Ok(mut v) => verdicts.push(v.pop().unwrap_or(Verdict::Duplicate)),
            Err(e) if is_transient(&e) => return Err(e.into()),
            Err(e) => verdicts.push(Verdict::Rejected(format!("the read database refused the projection: {e}"))),
        }
    }
    Ok(verdicts)
}

async fn in_savepoint(
    tx: &Transaction<'_>,
    statements: &Statements,
    events: &[&Event],
    sharing: Sharing,
) -> Result<Vec<Verdict>, tokio_postgres::Error> {
    tx.batch_execute("SAVEPOINT project").await?;
    match project(tx, statements, events, sharing).await {
        Ok(verdicts) => {
            tx.batch_execute("RELEASE SAVEPOINT project").await?;
            Ok(verdicts)
        }
        Err(e) => {
            tx.batch_execute("ROLLBACK TO SAVEPOINT project").await?;
            Err(e)
        }
    }
}

fn record_metrics(report: &BatchReport, elapsed: Duration) {
    metrics::counter!("projector_events_applied_total").increment(report.applied as u64);
    metrics::counter!("projector_events_skipped_total").increment((report.skipped + report.ignored) as u64);
    metrics::histogram!("projector_batch_duration_seconds").record(elapsed.as_secs_f64());
}
