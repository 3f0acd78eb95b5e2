//! The one Postgres cluster both sides of the benchmark run on.

use std::collections::BTreeMap;

use anyhow::Context;
use tally_devstack::{PgCluster, PgOptions};
use tokio_postgres::{Client, NoTls};

/// Settings recorded in the report: the ones that decide what a commit costs.
const RECORDED: &[&str] = &[
    "server_version",
    "fsync",
    "synchronous_commit",
    "full_page_writes",
    "wal_sync_method",
    "wal_level",
    "commit_delay",
    "shared_buffers",
    "max_wal_size",
    "max_connections",
];

/// Starts a throw-away cluster with production durability: fsync, synchronous_commit and
/// full_page_writes stay at their (on) defaults, so every commit waits for a WAL flush on
/// both sides. A test-style `fsync=off` cluster would flatter whoever commits more often.
pub async fn start(extra_settings: Vec<(String, String)>) -> anyhow::Result<PgCluster> {
    PgCluster::start(PgOptions {
        extra_settings,
        durable: true,
        // pgbench's clients, the service's pool and our admin sessions, with headroom.
        max_connections: 300,
        ..PgOptions::default()
    })
    .await
    .context("starting the benchmark's Postgres cluster")
}

/// An admin session on `db` (trusted superuser on loopback).
pub async fn connect(cluster: &PgCluster, db: &str) -> anyhow::Result<Client> {
    let (client, conn) = tokio_postgres::connect(&cluster.url(db), NoTls)
        .await
        .with_context(|| format!("connecting to database {db}"))?;
    // The connection task ends by itself when the client is dropped.
    tokio::spawn(conn);
    Ok(client)
}

/// The durability-relevant settings as the server reports them (not as we asked for them).
pub async fn settings(admin: &Client) -> anyhow::Result<BTreeMap<String, String>> {
    let rows = admin
        .query("SELECT name, setting || coalesce(' ' || unit, '') FROM pg_settings WHERE name = ANY($1)", &[&RECORDED])
        .await
        .context("reading pg_settings")?;
    let out: BTreeMap<String, String> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    anyhow::ensure!(
        out.get("fsync").map(String::as_str) == Some("on")
            && out.get("synchronous_commit").map(String::as_str) == Some("on"),
        "the benchmark cluster must be durable (fsync and synchronous_commit on), got {out:?}"
    );
    Ok(out)
}

/// Flushes dirty pages before a measurement, so no run inherits the previous run's
/// checkpoint debt (and the full-page writes that follow a checkpoint hit every run alike).
pub async fn checkpoint(admin: &Client) -> anyhow::Result<()> {
    admin.batch_execute("CHECKPOINT").await.context("CHECKPOINT")
}

/// The postmaster's pid, the root of every server process (for CPU accounting).
pub fn postmaster_pid(cluster: &PgCluster) -> Option<i32> {
    let text = std::fs::read_to_string(cluster.dir().join("data").join("postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

/// Refreshes planner statistics before a measurement. A production event store has had
/// autovacuum's ANALYZE long ago; a database created seconds earlier has none, and the
/// service's pooled connections then cache plans made for empty tables (sequential scans)
/// until autovacuum gets round to it, about a minute later: a start-up artefact, not the
/// steady state the figures are meant to describe.
pub async fn analyze(db: &Client) -> anyhow::Result<()> {
    db.batch_execute("ANALYZE").await.context("ANALYZE")
}

/// [`analyze`] plus the vacuum a bulk seed owes. Millions of rows copied in at once would, in
/// production, have arrived over months with autovacuum keeping up; here its insert-triggered
/// pass (visibility map, hint bits, freezing) would otherwise run during the next measurement
/// and show up as a tail that belongs to the seed, not to the store's size.
pub async fn vacuum_analyze(db: &Client) -> anyhow::Result<()> {
    db.batch_execute("VACUUM (ANALYZE)").await.context("VACUUM (ANALYZE)")
}
