//! `--pg-stat-statements`: where the server's time went, statement by statement.
//!
//! The CPU table says *that* Postgres is busy; this says *on what*. Reset before a
//! measurement, read after it, so the figures cover exactly one measured window.

use anyhow::Context;
use tokio_postgres::Client;

/// The `postgresql.conf` lines that load the extension (needs a server start).
pub fn settings() -> Vec<(String, String)> {
    vec![
        ("shared_preload_libraries".to_owned(), "'pg_stat_statements'".to_owned()),
        ("pg_stat_statements.track".to_owned(), "'all'".to_owned()),
        // Planning is server CPU too, and invisible in execution time: a statement
        // re-planned on every call shows here as plans ≈ calls.
        ("pg_stat_statements.track_planning".to_owned(), "on".to_owned()),
    ]
}

pub async fn install(db: &Client) -> anyhow::Result<()> {
    db.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").await.context("CREATE EXTENSION")
}

pub async fn reset(db: &Client) -> anyhow::Result<()> {
    db.batch_execute("SELECT pg_stat_statements_reset()").await.context("pg_stat_statements_reset")
}

/// The `limit` statements of `database` with the most execution time, as printable lines:
/// calls, total ms, mean µs, rows per call, plans and their total ms, and the statement's
/// first 110 characters.
pub async fn top(db: &Client, database: &str, ops: u64, limit: i64) -> anyhow::Result<Vec<String>> {
    let rows = db
        .query(
            "SELECT s.calls, s.total_exec_time, s.rows, regexp_replace(s.query, '\\s+', ' ', 'g'), \
                    s.plans, s.total_plan_time \
             FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid \
             WHERE d.datname = $1 ORDER BY s.total_exec_time DESC LIMIT $2",
            &[&database, &limit],
        )
        .await
        .context("reading pg_stat_statements")?;
    let mut out = vec![format!(
        "{:>9} {:>9} {:>8} {:>8} {:>9} {:>8} {:>8}  statement",
        "calls", "total ms", "mean µs", "rows/c", "µs/op", "plans", "plan ms"
    )];
    for r in rows {
        let (calls, total_ms, rows, query): (i64, f64, i64, String) = (r.get(0), r.get(1), r.get(2), r.get(3));
        let (plans, plan_ms): (i64, f64) = (r.get(4), r.get(5));
        let per_op = if ops == 0 { 0.0 } else { total_ms * 1000.0 / ops as f64 };
        out.push(format!(
            "{calls:>9} {total_ms:>9.1} {:>8.1} {:>8.1} {per_op:>9.1} {plans:>8} {plan_ms:>8.1}  {}",
            total_ms * 1000.0 / calls.max(1) as f64,
            rows as f64 / calls.max(1) as f64,
            query.chars().take(110).collect::<String>()
        ));
    }
    Ok(out)
}
