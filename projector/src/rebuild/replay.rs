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

/// A page read from the store, already decoded and triaged (off the writer's path: the
/// reader task does it while the writer writes): the events of one projection (`E`), and the
/// messages that cannot be decoded as dead letters.
pub struct Triaged<E> {
    pub messages: Vec<Message>,
    pub events: Vec<(usize, E)>,
    /// Events that cannot be decoded: dead letters whatever the tables say.
    pub letters: Vec<NewDeadLetter>,
    /// The page's last position (0 for an empty page).
    pub through: u64,
}

/// A page of the profiles projection's events.
pub type Prepared = Triaged<Event>;

/// The events a projection takes from the triage (the others on its topics it skips).
pub(crate) trait Pick: Sized {
    fn pick(triaged: Triage) -> Option<Self>;
}

impl Pick for Event {
    fn pick(triaged: Triage) -> Option<Self> {
        if let Triage::Project(e) = triaged { Some(e) } else { None }
    }
}

impl<E> Triaged<E> {
    pub(crate) fn new(page: Vec<RecordedEvent>) -> Self
    where
        E: Pick,
    {
        let through = page.last().map_or(0, |e| e.global_position);
        let messages: Vec<Message> = page.into_iter().map(Message::from_recorded).collect();
        let mut letters = Vec::new();
        let mut events = Vec::with_capacity(messages.len());
        for (i, m) in messages.iter().enumerate() {
            match triage(m, 0, 0) {
                Triage::DeadLetter(reason) => letters.push(NewDeadLetter::from_message(m, reason)),
                other => events.extend(E::pick(other).map(|e| (i, e))),
            }
        }
        Triaged { messages, events, letters, through }
    }
}

/// A verifier's independent recomputation, fed every event the reader reads.
pub(crate) trait Observe: Send + 'static {
    fn observe(&mut self, e: &RecordedEvent);
}

impl Observe for Model {
    fn observe(&mut self, e: &RecordedEvent) {
        Model::observe(self, e);
    }
}

/// Reads the pages of `filter` after `after` up to (at least) `until` and sends them on,
/// triaged, up to `ahead` pages ahead of the writer, each observed by `observer` first; the
/// task returns the observer at the end.
pub(crate) fn spawn_reader<E: Pick + Send + 'static, O: Observe>(
    store: Pool,
    filter: reader::Filter,
    (after, until): (u64, u64),
    page: usize,
    ahead: usize,
    mut observer: O,
) -> (mpsc::Receiver<Result<Triaged<E>, ProjectorError>>, tokio::task::JoinHandle<O>) {
    let (tx, rx) = mpsc::channel(ahead.max(1));
    let task = tokio::spawn(async move {
        let mut after = after;
        while after < until {
            let page = match store.get().await {
                Ok(client) => reader::read_all(&client, after, page as i64, &filter).await.map_err(Into::into),
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
            page.iter().for_each(|e| observer.observe(e));
            let page = Triaged::new(page);
            after = page.through;
            if tx.send(Ok(page)).await.is_err() {
                break;
            }
        }
        observer
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
