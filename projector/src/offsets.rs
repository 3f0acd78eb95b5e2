//! `projector_offsets`: how far each consumer got, per (topic, partition),
//! written in the same transaction as the rows those messages produced.

use std::collections::HashMap;

// deadpool's client trait: it caches prepared statements per connection, and every
// batch reads and writes offsets (a statement sent as text is a second round trip).
use deadpool_postgres::GenericClient;

use crate::message::Source;

/// One partition's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Where to resume reading (Kafka: the next offset; `$all`: the last position).
    pub next_offset: i64,
    /// Highest global position (event or watermark) applied from it.
    pub position: i64,
}

pub type Partition = (String, i32);

impl Progress {
    /// Moves past a message read at `source` carrying `position`.
    pub fn advance(&mut self, source: &Source, position: Option<i64>) {
        self.next_offset = self.next_offset.max(source.next_offset());
        if let Some(p) = position {
            self.position = self.position.max(p);
        }
    }
}

impl Source {
    /// The resume point after this message: Kafka resumes at the next offset,
    /// the event-store tailer after the position it last read.
    pub fn next_offset(&self) -> i64 {
        if self.topic == crate::message::ALL_TOPIC { self.offset } else { self.offset + 1 }
    }
}

/// Every partition's progress for `consumer`.
pub async fn load(
    client: &impl GenericClient,
    consumer: &str,
) -> Result<HashMap<Partition, Progress>, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached("SELECT topic, partition, next_offset, position FROM projector_offsets WHERE consumer = $1")
        .await?;
    let rows = client.query(&stmt, &[&consumer]).await?;
    Ok(rows.iter().map(|r| ((r.get(0), r.get(1)), Progress { next_offset: r.get(2), position: r.get(3) })).collect())
}

/// Records progress; never moves a partition backwards (two consumers may
/// briefly hold one partition during a rebalance).
pub async fn save(
    client: &impl GenericClient,
    consumer: &str,
    progress: &HashMap<Partition, Progress>,
) -> Result<(), tokio_postgres::Error> {
    if progress.is_empty() {
        return Ok(());
    }
    let mut topics = Vec::with_capacity(progress.len());
    let mut partitions = Vec::with_capacity(progress.len());
    let mut next = Vec::with_capacity(progress.len());
    let mut positions = Vec::with_capacity(progress.len());
    for ((topic, partition), p) in progress {
        topics.push(topic.as_str());
        partitions.push(*partition);
        next.push(p.next_offset);
        positions.push(p.position);
    }
    let stmt = client
        .prepare_cached(
            "INSERT INTO projector_offsets (consumer, topic, partition, next_offset, position) \
             SELECT $1, * FROM unnest($2::text[], $3::int4[], $4::int8[], $5::int8[]) \
             ON CONFLICT (consumer, topic, partition) DO UPDATE SET \
               next_offset = GREATEST(projector_offsets.next_offset, EXCLUDED.next_offset), \
               position = GREATEST(projector_offsets.position, EXCLUDED.position), updated_at = now()",
        )
        .await?;
    client.execute(&stmt, &[&consumer, &topics, &partitions, &next, &positions]).await?;
    Ok(())
}

/// The projected position of `consumer`: every event at or below it is
/// applied (the minimum over its partitions), `None` before the first batch.
pub async fn projected_position(
    client: &impl tokio_postgres::GenericClient,
    consumer: &str,
) -> Result<Option<i64>, tokio_postgres::Error> {
    let row = client.query_one("SELECT min(position) FROM projector_offsets WHERE consumer = $1", &[&consumer]).await?;
    Ok(row.get(0))
}
