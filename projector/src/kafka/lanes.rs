//! Lanes: micro-batches of different partitions applied at the same time.
//!
//! One read-DB transaction at a time leaves the database's other cores idle
//! while the projector folds the next batch, and the projector idle while the
//! database writes (docs/benchmarks.md, "ingest"). So every partition is
//! pinned to one of `batch.lanes` lanes, and each lane forms and applies its
//! own micro-batches in its own transaction.
//!
//! Why this is safe: a partition stays on one lane, so its records are applied
//! in order; a lane records progress only for its own partitions; and what two
//! lanes can both touch is what two projector pods of one consumer group can
//! both touch (rollup rows, locked in key order; a profile's row), which the
//! projections already lock for ([`Sharing::Shared`](crate::project::Sharing)).

use std::{collections::HashMap, sync::Arc, time::Duration};

use tally_platform::causes::Causes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{batch::Applier, message::Message, offsets::Partition};

const RETRY_DELAY: Duration = Duration::from_secs(1);

/// Pins partitions to lanes in the order they are first seen, so a few busy
/// partitions spread over distinct lanes instead of colliding by hash.
#[derive(Debug)]
pub struct Router {
    lanes: usize,
    pinned: HashMap<Partition, usize>,
}

impl Router {
    pub fn new(lanes: usize) -> Self {
        Router { lanes: lanes.max(1), pinned: HashMap::new() }
    }

    /// The lane of `(topic, partition)`; the same one for as long as this runs.
    pub fn lane(&mut self, topic: &str, partition: i32) -> usize {
        if let Some(lane) = self.pinned.get(&(topic.to_owned(), partition)) {
            return *lane;
        }
        let lane = self.pinned.len() % self.lanes;
        self.pinned.insert((topic.to_owned(), partition), lane);
        lane
    }
}

/// How a lane forms its batches.
#[derive(Debug, Clone, Copy)]
pub struct BatchShape {
    pub max_events: usize,
    pub max_wait: Duration,
}

/// Applies the batches of one lane until its sender is dropped or `shutdown`
/// fires; the batch in flight is finished first. `applied` is told each
/// batch once it committed (to mirror its offsets to Kafka).
pub async fn run_lane(
    applier: Arc<Applier>,
    mut inbox: mpsc::Receiver<Message>,
    shape: BatchShape,
    shutdown: CancellationToken,
    applied: impl Fn(&[Message]),
) {
    while let Some(batch) = next_batch(&mut inbox, shape, &shutdown).await {
        loop {
            match applier.apply(&batch).await {
                Ok(report) => {
                    tracing::debug!(?report, "batch applied");
                    applied(&batch);
                    break;
                }
                Err(e) => {
                    tracing::error!(error = %Causes(&e), "applying a batch failed; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(RETRY_DELAY) => {}
                    }
                }
            }
        }
    }
}

/// Waits for a first message, then at most `max_wait` for up to `max_events`.
/// `None` once `shutdown` fires or the reader has stopped and nothing is left.
async fn next_batch(
    inbox: &mut mpsc::Receiver<Message>,
    shape: BatchShape,
    shutdown: &CancellationToken,
) -> Option<Vec<Message>> {
    let first = tokio::select! {
        _ = shutdown.cancelled() => return None,
        first = inbox.recv() => first?,
    };
    let mut batch = Vec::with_capacity(shape.max_events);
    batch.push(first);
    let deadline = tokio::time::Instant::now() + shape.max_wait;
    while batch.len() < shape.max_events {
        // What is already queued needs no waiting (nor a timer).
        match inbox.try_recv() {
            Ok(m) => {
                batch.push(m);
                continue;
            }
            Err(mpsc::error::TryRecvError::Disconnected) => break,
            Err(mpsc::error::TryRecvError::Empty) => {}
        }
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break,
            got = inbox.recv() => match got {
                Some(m) => batch.push(m),
                None => break,
            },
        }
    }
    Some(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_spread_over_lanes_in_order_of_arrival_and_stay_put() {
        let mut router = Router::new(2);
        assert_eq!(router.lane("analytics", 2), 0);
        assert_eq!(router.lane("analytics", 0), 1);
        assert_eq!(router.lane("profile", 0), 0);
        assert_eq!(router.lane("analytics", 2), 0, "a partition never moves");
        assert_eq!(router.lane("analytics", 0), 1);
        assert_eq!(Router::new(0).lane("t", 5), 0, "zero lanes means one");
    }
}
