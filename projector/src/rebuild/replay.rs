//! Replaying the event store into a version's tables, page by page.
//!
//! A reader task fetches the next page (and feeds the verifier's model) while
//! the writer applies the current one, so the event store and the read DB
//! work at the same time. Each page is one read-DB transaction.

use deadpool_postgres::{Pool, Transaction};
use tally_event_store::{RecordedEvent, reader};
use tokio::sync::mpsc;

use crate::{
    ProjectorError,
    batch::{Triage, project_with_fallback, triage},
    dead_letters::{self, NewDeadLetter},
    decode::Event,
    fold::Verdict,
    message::Message,
    project::Sharing,
    rebuild::verify::Model,
    single_node::PROFILE_CATEGORIES as CATEGORIES,
    store::Statements,
};

/// The consumer name rebuild dead letters are recorded under.
pub const CONSUMER: &str = "rebuild";

/// Counts of a replay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Replayed {
    pub events: u64,
    pub dead_lettered: u64,
    /// The last position replayed (0 when nothing was).
    pub through: u64,
}

pub(crate) fn filter() -> reader::Filter {
    reader::Filter { categories: CATEGORIES.iter().map(|c| (*c).to_owned()).collect(), event_types: vec![] }
}

/// A page read from the store, already decoded and triaged (off the
/// writer's path: the reader task does it while the writer writes).
pub struct Prepared {
    pub messages: Vec<Message>,
    pub events: Vec<(usize, Event)>,
    pub letters: Vec<NewDeadLetter>,
    pub through: u64,
}

impl Prepared {
    pub fn new(page: Vec<RecordedEvent>) -> Self {
        let through = page.last().map_or(0, |e| e.global_position);
        let messages: Vec<Message> = page.into_iter().map(Message::from_recorded).collect();
        let mut letters = Vec::new();
        let mut events = Vec::with_capacity(messages.len());
        for (i, m) in messages.iter().enumerate() {
            match triage(m, 0, 0) {
                Triage::Project(e) => events.push((i, e)),
                Triage::DeadLetter(reason) => letters.push(NewDeadLetter::from_message(m, reason)),
                Triage::Skip | Triage::Ignore | Triage::Analytics(_) => {}
            }
        }
        Prepared { messages, events, letters, through }
    }
}

/// Reads pages after `after` up to (at least) `until` and sends them on,
/// prepared, folding each into `model` first when one is given.
pub fn spawn_reader(
    store: Pool,
    after: u64,
    until: u64,
    page: usize,
    mut model: Option<Model>,
) -> (mpsc::Receiver<Result<Prepared, ProjectorError>>, tokio::task::JoinHandle<Option<Model>>) {
    // A few pages of read-ahead: the writer pauses the fold for each bulk flush, and the
    // reader keeps the event store busy meanwhile.
    let (tx, rx) = mpsc::channel(8);
    let task = tokio::spawn(async move {
        let filter = filter();
        let mut after = after;
        while after < until {
            let page = match store.get().await {
                Ok(client) => reader::read_all(&**client, after, page as i64, &filter).await.map_err(Into::into),
                Err(e) => Err(ProjectorError::EventStore(e.into())),
            };
            let page = match page {
                Ok(events) if events.is_empty() => break,
                Ok(events) => events,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    break;
                }
            };
            after = page.last().map_or(after, |e| e.global_position);
            if let Some(model) = model.as_mut() {
                page.iter().for_each(|e| model.observe(e));
            }
            if tx.send(Ok(Prepared::new(page))).await.is_err() {
                break;
            }
        }
        model
    });
    (rx, task)
}

/// Applies one prepared page to `statements`' version inside `tx`.
pub async fn apply_page(
    tx: &Transaction<'_>,
    statements: &Statements,
    page: Prepared,
    sharing: Sharing,
) -> Result<Replayed, ProjectorError> {
    let Prepared { messages, events, mut letters, through } = page;
    let verdicts = project_with_fallback(tx, statements, &events, sharing).await?;
    for ((i, _), v) in events.iter().zip(verdicts) {
        if let Verdict::Rejected(reason) = v {
            letters.push(NewDeadLetter::from_message(&messages[*i], reason));
        }
    }
    let dead_lettered = dead_letters::insert(&**tx, CONSUMER, &letters, true).await?;
    Ok(Replayed { events: messages.len() as u64, dead_lettered, through })
}
