//! Reading the event store's analytics events for a rebuild, a page at a time, triaged off
//! the writer's path, and the live path over them (the fallback and the switch's catch-up).

use deadpool_postgres::{Pool, Transaction};
use tally_domain::sessions::Rules;
use tally_event_store::{RecordedEvent, reader};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{
    ProjectorError,
    analytics::{AnalyticsEvent, AnalyticsStatements, project_with_fallback, verify::Expected},
    batch::Triage,
    dead_letters::{self, NewDeadLetter},
    fold::Verdict,
    project::Sharing,
    rebuild::{
        Options, progress_bar,
        replay::{self, CONSUMER, Observe, Pick, Triaged},
    },
};

fn filter() -> reader::Filter {
    reader::Filter { categories: vec!["analytics".to_owned()], event_types: vec![] }
}

/// A page of the analytics projection's events.
pub type Page = Triaged<AnalyticsEvent>;

impl Pick for AnalyticsEvent {
    fn pick(triaged: Triage) -> Option<Self> {
        if let Triage::Analytics(e) = triaged { Some(*e) } else { None }
    }
}

impl Observe for Expected {
    fn observe(&mut self, e: &RecordedEvent) {
        Expected::observe(self, e);
    }
}

/// Reads the analytics pages after `after` up to (at least) `until` and sends them on,
/// triaged, each observed by the verifier's `expected` first; the task returns `expected`.
pub fn spawn_reader(
    store: Pool,
    after: u64,
    until: u64,
    page: usize,
    expected: Expected,
) -> (mpsc::Receiver<Result<Page, ProjectorError>>, tokio::task::JoinHandle<Expected>) {
    // A few pages of read-ahead, so the event store works while the writer writes.
    replay::spawn_reader(store, filter(), (after, until), page, 4, expected)
}

pub async fn read_page(store: &Pool, after: u64, page: usize) -> Result<Vec<RecordedEvent>, ProjectorError> {
    let client = store.get().await.map_err(|e| ProjectorError::EventStore(e.into()))?;
    Ok(reader::read_all(&client, after, page as i64, &filter()).await?)
}

/// The stored event at `position`, if it is an analytics one.
pub async fn read_one(store: &Pool, position: i64) -> Result<Option<RecordedEvent>, ProjectorError> {
    let page = read_page(store, (position - 1).max(0) as u64, 1).await?;
    Ok(page.into_iter().find(|e| e.global_position as i64 == position))
}

/// What applying a page did.
#[derive(Debug, Default)]
pub struct Applied {
    pub events: u64,
    /// Dead letters written (an event already dead-lettered and unresolved is not written twice).
    pub dead_lettered: u64,
    /// The positions of every event the page dead-letters, written or not.
    pub letters: Vec<i64>,
}

/// The positions of `letters`.
pub fn positions(letters: &[NewDeadLetter]) -> impl Iterator<Item = i64> + '_ {
    letters.iter().filter_map(|l| l.global_position)
}

/// Applies one page through the live path inside `tx`: the fallback when a bulk write is
/// refused, and the switch's catch-up.
pub async fn apply_page(
    tx: &Transaction<'_>,
    statements: &AnalyticsStatements,
    rules: &Rules,
    page: Page,
) -> Result<Applied, ProjectorError> {
    let Page { messages, events, mut letters, .. } = page;
    let refs: Vec<&AnalyticsEvent> = events.iter().map(|(_, e)| e).collect();
    let verdicts = project_with_fallback(tx, statements, rules, &refs, Sharing::Exclusive).await?;
    for ((i, _), v) in events.iter().zip(verdicts) {
        if let Verdict::Rejected(reason) = v {
            letters.push(NewDeadLetter::from_message(&messages[*i], reason));
        }
    }
    let dead_lettered = dead_letters::insert(&**tx, CONSUMER, &letters, true).await?;
    Ok(Applied { events: messages.len() as u64, dead_lettered, letters: positions(&letters).collect() })
}

/// What a fill left: events replayed, dead letters written, the last position, the
/// verifier's recomputation and the positions of the events dead-lettered.
pub type Fill = (u64, u64, u64, Expected, Vec<i64>);

/// The live path, page by page, one transaction each: what every rebuild did before the
/// bulk fill, and now its fallback when the read DB refuses a bulk write.
pub async fn live_fill(
    read: &Pool,
    store: &Pool,
    rules: &Rules,
    statements: &AnalyticsStatements,
    head: u64,
    options: Options,
    shutdown: &CancellationToken,
) -> Result<Fill, ProjectorError> {
    let bar = progress_bar(head, options.progress);
    let mut expected = Expected::default();
    let (mut events, mut dead_lettered, mut through, mut letters) = (0u64, 0u64, 0u64, Vec::new());
    // The next page is read from the event store while this one is
    // projected, so the two databases work at the same time.
    let mut page = read_page(store, through, options.page).await?;
    while through < head {
        if shutdown.is_cancelled() {
            return Err(ProjectorError::Rebuild(format!(
                "interrupted: dropped the unfinished v{}",
                statements.version()
            )));
        }
        let Some(last) = page.last().map(|e| e.global_position) else { break };
        page.iter().for_each(|e| expected.observe(e));
        let apply = async {
            let mut client = read.get().await?;
            let tx = client.transaction().await?;
            tx.batch_execute("SET LOCAL synchronous_commit = off").await?;
            let applied = apply_page(&tx, statements, rules, Page::new(page)).await?;
            tx.commit().await?;
            Ok::<_, ProjectorError>(applied)
        };
        let (applied, next) = tokio::join!(apply, read_page(store, last, options.page));
        let applied = applied?;
        (events, dead_lettered, through) = (events + applied.events, dead_lettered + applied.dead_lettered, last);
        letters.extend(applied.letters);
        bar.set_position(through.min(head));
        page = next?;
    }
    bar.finish_and_clear();
    Ok((events, dead_lettered, through, expected, letters))
}
