//! What the database did during a measurement: WAL volume, write transactions, WAL flushes.
//!
//! These explain a throughput gap better than timings: a side that needs fewer commits (and
//! thus fewer WAL flushes) per event can go faster on the same disk.

use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use tokio_postgres::Client;

#[derive(Debug, Clone, Copy, Default)]
pub struct DbSample {
    lsn: i64,
    next_xid: i64,
    wal_records: i64,
    wal_fpi: i64,
    wal_writes: i64,
    wal_syncs: i64,
}

/// Cluster-wide activity between two samples.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct DbDelta {
    /// Exact: difference of `pg_current_wal_lsn()`.
    pub wal_bytes: i64,
    /// Exact: transaction ids assigned, i.e. write transactions committed or aborted.
    pub write_transactions: i64,
    /// From `pg_stat_wal`, which backends flush about once a second while busy: accurate to
    /// roughly a second's worth at each end of the window.
    pub wal_records: i64,
    pub wal_full_page_images: i64,
    pub wal_writes: i64,
    /// WAL flushes to disk (fsync/fdatasync): what a durable commit waits for.
    pub wal_syncs: i64,
}

pub async fn sample(admin: &Client) -> anyhow::Result<DbSample> {
    // `pg_snapshot_xmax` is the next xid to be assigned; reading it assigns none.
    let query = admin.query_one(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, \
                pg_snapshot_xmax(pg_current_snapshot())::text::bigint, \
                wal_records, wal_fpi, wal_write, wal_sync \
         FROM pg_stat_wal",
        &[],
    );
    // Bounded: a wedged server must fail the run rather than hang it.
    let row = tokio::time::timeout(Duration::from_secs(10), query)
        .await
        .context("sampling WAL statistics timed out")?
        .context("sampling WAL statistics")?;
    Ok(DbSample {
        lsn: row.get(0),
        next_xid: row.get(1),
        wal_records: row.get(2),
        wal_fpi: row.get(3),
        wal_writes: row.get(4),
        wal_syncs: row.get(5),
    })
}

pub fn delta(before: &DbSample, after: &DbSample) -> DbDelta {
    DbDelta {
        wal_bytes: after.lsn - before.lsn,
        write_transactions: after.next_xid - before.next_xid,
        wal_records: after.wal_records - before.wal_records,
        wal_full_page_images: after.wal_fpi - before.wal_fpi,
        wal_writes: after.wal_writes - before.wal_writes,
        wal_syncs: after.wal_syncs - before.wal_syncs,
    }
}
