//! Lanes: micro-batches of different partitions applied at the same time.
//!
//! One read-DB transaction at a time leaves the database's other cores idle
//! while the projector folds the next batch, and the projector idle while the
//! database writes (docs/benchmarks.md, "ingest"). So `batch.lanes` lanes each
//! take the next batch of whichever partitions are free ([`Backlog`]) and apply
//! it in their own transaction.
//!
//! Why this is safe: a partition is applied by one lane at a time, batch after
//! batch, so its records are applied in order; a batch records progress only
//! for its own partitions; and what two lanes can both touch is what two
//! projector pods of one consumer group can both touch (rollup rows, locked in
//! key order; a profile's row), which the projections already lock for
//! ([`Sharing::Shared`](crate::project::Sharing)).

use std::{sync::Arc, time::Duration};

use tally_platform::causes::Causes;
use tokio_util::sync::CancellationToken;

use super::backlog::{Backlog, Batch};
use crate::batch::Applier;

const RETRY_DELAY: Duration = Duration::from_secs(1);

/// How a lane forms its batches.
#[derive(Debug, Clone, Copy)]
pub struct BatchShape {
    pub max_events: usize,
    pub max_wait: Duration,
}

/// Applies batch after batch from `backlog` until `shutdown` fires; the batch
/// in flight is finished first. `applied` is told each batch once it committed
/// (to mirror its offsets to Kafka).
pub async fn run_lane(
    applier: Arc<Applier>,
    backlog: Arc<Backlog>,
    shutdown: CancellationToken,
    applied: impl Fn(&Batch),
) {
    while let Some(batch) = backlog.next_batch(&shutdown).await {
        loop {
            match applier.apply(&batch.records).await {
                Ok(report) => {
                    tracing::debug!(?report, "batch applied");
                    applied(&batch);
                    break;
                }
                Err(e) => {
                    tracing::error!(
                        error = %Causes(&e),
                        partitions = ?batch.partitions,
                        "applying a batch failed; retrying"
                    );
                    tokio::select! {
                        // Its records are read again from the stored offsets next time.
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(RETRY_DELAY) => {}
                    }
                }
            }
        }
        backlog.finished(&batch);
    }
}
