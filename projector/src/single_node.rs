//! Single-node mode: no Kafka, the projector tails the event store itself.
//!
//! The tailer reads the gap-free global order (profile and site categories
//! only), so each page is applied exactly once: its rows and the `$all`
//! offset commit in one read-DB transaction, and a restart resumes after the
//! committed offset.

use std::{sync::Arc, time::Duration};

use deadpool_postgres::Pool;
use tally_event_store::{
    reader::{self, Filter},
    tail::{Listener, Tailer},
};
use tally_platform::causes::Causes;
use tally_proto::v1;
use tokio_util::sync::CancellationToken;

use crate::{
    ProjectorError,
    batch::Applier,
    decode::WATERMARK,
    message::{ALL_TOPIC, Body, Message, Source},
    offsets,
};

/// Categories the projector consumes.
pub const CATEGORIES: [&str; 3] = ["profile", "site", "analytics"];
/// Categories the profiles projection is built from.
pub const PROFILE_CATEGORIES: [&str; 2] = ["profile", "site"];

/// While idle, how often the projected position is moved up to the store's
/// head (events of other categories advance it too: read-your-writes for any
/// position then answers promptly).
const IDLE_WATERMARK: Duration = Duration::from_millis(500);
/// Pause after a failed batch before trying it again.
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// Where single-node mode resumes: the committed `$all` offset.
pub async fn resume_position(read_pool: &Pool, consumer: &str) -> Result<u64, ProjectorError> {
    let client = read_pool.get().await?;
    let progress = offsets::load(&client, consumer).await?;
    Ok(progress.get(&(ALL_TOPIC.to_owned(), 0)).map(|p| p.next_offset.max(0) as u64).unwrap_or(0))
}

/// Tails the event store and applies page after page until `shutdown`.
#[tracing::instrument(skip_all, fields(consumer = %applier.consumer()))]
pub async fn run(
    applier: Arc<Applier>,
    store_pool: Pool,
    listener: Listener,
    page: usize,
    shutdown: CancellationToken,
) -> Result<(), ProjectorError> {
    let after = resume_position(applier.pool(), applier.consumer()).await?;
    tracing::info!(after, "single-node projector tailing the event store");
    let filter = Filter { categories: CATEGORIES.iter().map(|c| (*c).to_owned()).collect(), event_types: vec![] };
    let mut tailer = Tailer::new(store_pool.clone(), listener, after, filter, page as i64);
    let mut projected = after;
    while !shutdown.is_cancelled() {
        // Read before the page: if the page comes back short, every event of
        // our categories at or below `head` is in it or was before it.
        let head = match head(&store_pool).await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %Causes(&e), "cannot read the event store's head; retrying");
                pause(&shutdown, RETRY_DELAY).await;
                continue;
            }
        };
        let events = tokio::select! {
            _ = shutdown.cancelled() => break,
            got = tokio::time::timeout(IDLE_WATERMARK, tailer.next()) => match got {
                Ok(Ok(events)) => events,
                Ok(Err(e)) => {
                    tracing::warn!(error = %Causes(&e), "reading the event store failed; retrying");
                    pause(&shutdown, RETRY_DELAY).await;
                    continue;
                }
                Err(_idle) => Vec::new(),
            },
        };
        let short = events.len() < page;
        let mut messages: Vec<Message> = events.into_iter().map(Message::from_recorded).collect();
        let last = messages.last().and_then(Message::position).unwrap_or(projected);
        if short && head > last {
            messages.push(watermark(head));
        }
        if messages.is_empty() {
            continue;
        }
        // A page is applied until it succeeds (or we are stopped): the
        // tailer has moved past it, so giving up would skip it.
        loop {
            match applier.apply(&messages).await {
                Ok(report) => {
                    projected = messages.last().and_then(Message::position).unwrap_or(projected);
                    metrics::gauge!("projector_position").set(projected as f64);
                    tracing::debug!(?report, projected, "batch applied");
                    break;
                }
                Err(e) => {
                    tracing::error!(error = %Causes(&e), "applying a batch failed; retrying");
                    if pause(&shutdown, RETRY_DELAY).await {
                        return Ok(());
                    }
                }
            }
        }
    }
    tracing::info!(projected, "single-node projector stopped");
    Ok(())
}

async fn head(pool: &Pool) -> Result<u64, ProjectorError> {
    let client = pool.get().await.map_err(|e| ProjectorError::EventStore(e.into()))?;
    Ok(reader::head_position(&client).await?)
}

/// A marker that only moves the `$all` position, as the relay's watermarks
/// do on Kafka partitions.
fn watermark(position: u64) -> Message {
    Message {
        source: Source { topic: ALL_TOPIC.to_owned(), partition: 0, offset: position as i64 },
        headers: Vec::new(),
        body: Body::Envelope(v1::EventEnvelope {
            event_type: WATERMARK.to_owned(),
            global_position: position,
            ..Default::default()
        }),
    }
}

/// Sleeps unless stopped first; true when stopped.
async fn pause(shutdown: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => true,
        _ = tokio::time::sleep(d) => false,
    }
}
