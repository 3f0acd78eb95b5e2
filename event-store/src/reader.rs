//! Reading the store: one stream by id, or the global order.
//!
//! The global order is gap-free by construction (see the migration): a
//! reader that asks for `position > last` in ascending order never skips an
//! event that commits late and never sees one twice.
//!
//! Every statement here is prepared once per pooled connection
//! (`prepare_cached`): they run on hot paths (a tailer's every wake-up, a
//! create's load), and a statement sent as text is parsed and planned anew on
//! each call — over the partitioned `events` table, ~120 µs of planning per
//! call in `tally-bench commands --pg-stat-statements`.

use deadpool_postgres::ClientWrapper;
use tokio_postgres::Row;

use crate::{EventMetadata, RecordedEvent, StoreError};

/// The columns every event read selects, in [`decode`]'s order. A macro, not a
/// `const`, so the statements below are literals: `prepare_cached` is keyed by
/// the text, and a `format!` would build it again on every call.
macro_rules! columns {
    () => {
        "global_position, event_id, stream_id, category, stream_version, event_type, \
         schema_version, payload, metadata, recorded_at"
    };
}

const READ_STREAM: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM events WHERE category = $1 AND stream_id = $2 AND stream_version > $3 \
     ORDER BY stream_version LIMIT $4"
);

const READ_ALL: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM events WHERE global_position > $1 \
     AND (cardinality($2::text[]) = 0 OR category = ANY($2)) \
     AND (cardinality($3::text[]) = 0 OR event_type = ANY($3)) \
     ORDER BY global_position LIMIT $4"
);

fn decode(row: &Row) -> Result<RecordedEvent, StoreError> {
    let metadata: serde_json::Value = row.get(8);
    Ok(RecordedEvent {
        global_position: row.get::<_, i64>(0) as u64,
        event_id: row.get(1),
        stream_id: row.get(2),
        category: row.get(3),
        stream_version: row.get::<_, i64>(4) as u64,
        event_type: row.get(5),
        schema_version: row.get::<_, i32>(6) as u32,
        payload: row.get(7),
        metadata: serde_json::from_value::<EventMetadata>(metadata)?,
        recorded_at: row.get(9),
    })
}

/// Events of one stream with a version above `after_version`, oldest first.
/// `category` lets Postgres read only that category's partition.
pub async fn read_stream(
    client: &ClientWrapper,
    category: &str,
    stream_id: &str,
    after_version: u64,
    limit: i64,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let statement = client.prepare_cached(READ_STREAM).await?;
    let rows = client.query(&statement, &[&category, &stream_id, &(after_version as i64), &limit]).await?;
    rows.iter().map(decode).collect()
}

/// A filter on the global order: empty lists mean "everything".
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub categories: Vec<String>,
    pub event_types: Vec<String>,
}

/// Up to `limit` events after `after_position` in global order.
pub async fn read_all(
    client: &ClientWrapper,
    after_position: u64,
    limit: i64,
    filter: &Filter,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let statement = client.prepare_cached(READ_ALL).await?;
    let rows =
        client.query(&statement, &[&(after_position as i64), &filter.categories, &filter.event_types, &limit]).await?;
    rows.iter().map(decode).collect()
}

/// The position of the last committed event (0 for an empty store).
pub async fn head_position(client: &ClientWrapper) -> Result<u64, StoreError> {
    let statement = client.prepare_cached("SELECT last_position FROM event_head WHERE id = 1").await?;
    let row = client.query_one(&statement, &[]).await?;
    Ok(row.get::<_, i64>(0) as u64)
}

/// A stream's current version and last position, from the `streams` table.
pub async fn stream_head(client: &ClientWrapper, stream_id: &str) -> Result<Option<(u64, u64)>, StoreError> {
    let statement = client.prepare_cached("SELECT version, last_position FROM streams WHERE stream_id = $1").await?;
    let row = client.query_opt(&statement, &[&stream_id]).await?;
    Ok(row.map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, i64>(1) as u64)))
}

/// The stored first result of a command id, with the fingerprint of the
/// command that produced it.
pub async fn command_result(
    client: &ClientWrapper,
    command_id: &str,
) -> Result<Option<(Vec<u8>, crate::AppendResult)>, StoreError> {
    let statement = client
        .prepare_cached(
            "SELECT fingerprint, stream_version, global_position, events_appended, recorded_at, stream_id \
             FROM command_results WHERE command_id = $1",
        )
        .await?;
    let row = client.query_opt(&statement, &[&command_id]).await?;
    Ok(row.map(|r| {
        let result = crate::AppendResult {
            stream_id: r.get(5),
            stream_version: r.get::<_, i64>(1) as u64,
            global_position: r.get::<_, i64>(2) as u64,
            events_appended: r.get::<_, i32>(3) as u32,
            replayed: true,
            recorded_at: r.get(4),
        };
        (r.get(0), result)
    }))
}
