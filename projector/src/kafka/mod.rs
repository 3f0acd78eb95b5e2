//! Kafka mode: consume the event topics in micro-batches.
//!
//! Each batch (up to `batch.max_events` records of one lane's partitions, or
//! `batch.max_wait_ms` after its first; [`lanes`]) is applied in one read-DB
//! transaction together with the offsets it consumed. Only after that commit are the same offsets also
//! committed to Kafka, asynchronously and for information only: lag-based
//! autoscalers (KEDA) and `kafka-consumer-groups` read the group's committed
//! offsets, while the projector itself always resumes from the read DB.
//! Watermark records only move a partition's `position`.
//!
//! Assignment: `manual` takes every partition of the configured topics at
//! the stored offsets; `group` subscribes and lets the consumer group spread
//! partitions over pods, positioning each newly assigned partition at its
//! stored offset in the rebalance callback ([`context`]).

pub mod backlog;
pub mod context;
pub mod lanes;
mod record;

use std::{sync::Arc, time::Duration};

use tally_platform::causes::Causes;
use tally_streaming::{
    admin::partition_count,
    config::{ConsumerOptions, consumer_config},
    rdkafka::{
        Offset, TopicPartitionList,
        consumer::{CommitMode, Consumer, StreamConsumer},
    },
};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::{
    ProjectorError,
    batch::Applier,
    message::{Message, Source},
    offsets::{self, Progress},
    settings::{Assignment, Settings},
};
use backlog::{Backlog, Batch, Pushed};
use context::{ProjectorContext, position_at_stored_offsets};
use lanes::{BatchShape, run_lane};

type Projector = StreamConsumer<ProjectorContext>;

const METADATA_TIMEOUT: Duration = Duration::from_secs(10);
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// Consumes until `shutdown`, finishing the batch in flight.
#[tracing::instrument(skip_all, fields(consumer = %applier.consumer(), assignment = ?settings.kafka.assignment))]
pub async fn run(
    applier: Arc<Applier>,
    settings: &Settings,
    shutdown: CancellationToken,
) -> Result<(), ProjectorError> {
    let kafka = &settings.kafka;
    let options = ConsumerOptions {
        session_timeout: Duration::from_millis(u64::from(kafka.session_timeout_ms)),
        client_id: "tally-projector".to_owned(),
        ..ConsumerOptions::new(kafka.group_id.clone())
    };
    let context = ProjectorContext {
        pool: applier.pool().clone(),
        consumer: applier.consumer().to_owned(),
        runtime: tokio::runtime::Handle::current(),
    };
    let consumer: Arc<Projector> = Arc::new(
        consumer_config(&kafka.brokers, &options)
            .create_with_context(context)
            .map_err(|e| ProjectorError::Kafka(format!("cannot create the consumer: {e}")))?,
    );

    // The relay creates missing topics; until it has, wait rather than fail.
    let partitions = loop {
        match partitions(&consumer, &kafka.topics).await {
            Ok(found) => break found,
            Err(e) => {
                tracing::warn!(error = %Causes(&e), "cannot read the topics' partitions yet; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(RETRY_DELAY) => {}
                }
            }
        }
    };
    register_partitions(&applier, &partitions).await?;
    match kafka.assignment {
        Assignment::Manual => {
            let stored = {
                let client = applier.pool().get().await?;
                offsets::load(&client, applier.consumer()).await?
            };
            let mut tpl = TopicPartitionList::new();
            for (topic, partition) in &partitions {
                tpl.add_partition(topic, *partition);
            }
            position_at_stored_offsets(&mut tpl, &stored);
            consumer.assign(&tpl).map_err(|e| ProjectorError::Kafka(format!("cannot assign partitions: {e}")))?;
            tracing::info!(partitions = partitions.len(), "assigned every partition at its stored offset");
        }
        Assignment::Group => {
            let topics: Vec<&str> = kafka.topics.iter().map(String::as_str).collect();
            consumer.subscribe(&topics).map_err(|e| ProjectorError::Kafka(format!("cannot subscribe: {e}")))?;
            tracing::info!(topics = ?topics, "joined the consumer group");
        }
    }

    let shape = BatchShape { max_events: settings.batch.max_events.max(1), max_wait: settings.batch.max_wait() };
    // Half a batch per lane queued on top of the batches being applied: a lane
    // that commits starts its next batch from what is queued and tops it up
    // within max_wait. Twice that was no faster and peaked 20 MiB higher
    // (docs/benchmarks.md, "ingest"); records in memory are the footprint.
    let backlog = Arc::new(Backlog::new(shape, settings.batch.lanes * shape.max_events / 2));
    let mut lanes = JoinSet::new();
    for _ in 0..settings.batch.lanes {
        let mirror = consumer.clone();
        lanes.spawn(run_lane(applier.clone(), backlog.clone(), shutdown.clone(), move |batch: &Batch| {
            mirror_offsets(&mirror, batch)
        }));
    }
    tracing::info!(lanes = settings.batch.lanes, "applying partitions in parallel lanes");
    read_into_backlog(&consumer, &backlog, &shutdown).await;
    // The lanes finish the batch in flight; what is still queued is read
    // again from the stored offsets next time.
    while let Some(joined) = lanes.join_next().await {
        if let Err(e) = joined {
            tracing::error!(error = %Causes(&e), "a projector lane failed");
        }
    }
    if kafka.assignment == Assignment::Group {
        consumer.unsubscribe();
    }
    tracing::info!("kafka consumer stopped");
    Ok(())
}

/// Hands every record to the backlog until `shutdown` fires.
async fn read_into_backlog(consumer: &Projector, backlog: &Backlog, shutdown: &CancellationToken) {
    loop {
        let message = tokio::select! {
            _ = shutdown.cancelled() => return,
            got = consumer.recv() => match got {
                Ok(record) => record::to_message(&record),
                Err(e) => {
                    tracing::warn!(error = %Causes(&e), "kafka consumer error");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let pushed = tokio::select! {
            _ = shutdown.cancelled() => return,
            pushed = backlog.push(message) => pushed,
        };
        if pushed == Pushed::Stale {
            metrics::counter!("projector_records_dropped_as_queued_total").increment(1);
        }
        metrics::gauge!("projector_backlog_records").set(backlog.queued() as f64);
    }
}

/// Tells Kafka how far the group got (the offset after the batch's last), so
/// tools outside the read DB see the lag. Best effort: a failure only makes
/// that view stale, never the projection, so it is logged and not retried.
fn mirror_offsets(consumer: &Projector, batch: &Batch) {
    let mut tpl = TopicPartitionList::new();
    for last in furthest_records(&batch.records) {
        let (topic, partition) = (last.topic.as_str(), last.partition);
        if let Err(e) = tpl.add_partition_offset(topic, partition, Offset::Offset(last.offset + 1)) {
            tracing::warn!(error = %Causes(&e), topic, partition, "cannot build the offsets to mirror to Kafka");
            return;
        }
    }
    if tpl.count() == 0 {
        return;
    }
    if let Err(e) = consumer.commit(&tpl, CommitMode::Async) {
        tracing::warn!(error = %Causes(&e), "mirroring offsets to Kafka failed (the read DB has them)");
    }
}

/// The furthest record of each partition in `records`. A batch holds each of its partitions'
/// records as one run in offset order (`Backlog::take`), so that is the last of each run.
fn furthest_records(records: &[Message]) -> impl Iterator<Item = &Source> {
    records
        .chunk_by(|a, b| a.source.topic == b.source.topic && a.source.partition == b.source.partition)
        .filter_map(|run| run.last().map(|m| &m.source))
}

/// Every partition of `topics`, from the broker's metadata.
async fn partitions(consumer: &Arc<Projector>, topics: &[String]) -> Result<Vec<(String, i32)>, ProjectorError> {
    let mut all = Vec::new();
    for topic in topics {
        let (c, t) = (consumer.clone(), topic.clone());
        let count = tokio::task::spawn_blocking(move || partition_count(c.client(), &t, METADATA_TIMEOUT))
            .await
            .map_err(|e| ProjectorError::Kafka(format!("metadata task failed: {e}")))?
            .map_err(|e| ProjectorError::Kafka(format!("topic {topic}: {e}")))?;
        all.extend((0..count).map(|p| (topic.clone(), p)));
    }
    Ok(all)
}

/// Makes sure every partition has an offsets row (at 0 until it is
/// consumed), so `min(position)` cannot claim progress a silent partition
/// has not made.
async fn register_partitions(applier: &Applier, partitions: &[(String, i32)]) -> Result<(), ProjectorError> {
    let client = applier.pool().get().await?;
    let progress = partitions.iter().map(|p| (p.clone(), Progress::default())).collect();
    offsets::save(&client, applier.consumer(), &progress).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Body;

    fn record(topic: &str, partition: i32, offset: i64) -> Message {
        let source = Source { topic: topic.to_owned(), partition, offset };
        Message { source, headers: Vec::new(), body: Body::Undecodable { raw: Vec::new(), reason: String::new() } }
    }

    #[test]
    fn each_partition_of_a_batch_mirrors_its_last_offset() {
        let records = [record("a", 0, 4), record("a", 0, 5), record("a", 1, 9), record("b", 0, 2), record("b", 0, 3)];
        let got: Vec<_> = furthest_records(&records).map(|s| (s.topic.as_str(), s.partition, s.offset)).collect();
        assert_eq!(got, vec![("a", 0, 5), ("a", 1, 9), ("b", 0, 3)]);
        assert_eq!(furthest_records(&[]).count(), 0);
    }
}
