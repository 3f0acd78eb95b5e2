//! The event store's schema, embedded in the binary and applied at startup
//! (or by a `migrate` subcommand / Kubernetes Job).

use tokio_postgres::NoTls;

use crate::StoreError;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// An arbitrary constant that identifies "Tally migrations" among advisory locks.
const MIGRATION_LOCK: i64 = 0x7A11_0001;

/// Applies pending migrations. Safe to run from many pods at once: an
/// advisory lock makes all but one wait, and they then find nothing to do.
pub async fn run(config: &tokio_postgres::Config) -> Result<usize, StoreError> {
    let (mut client, connection) = config.connect(NoTls).await?;
    let conn = tokio::spawn(connection);
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK]).await?;
    let report = embedded::migrations::runner().run_async(&mut client).await;
    // Unlock before reporting so a failed migration does not block other pods
    // until this connection dies.
    let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await;
    let applied = report.map_err(|e| StoreError::Migration(e.to_string()))?.applied_migrations().len();
    unlocked?;
    drop(client);
    let _ = conn.await;
    tracing::info!(applied, "event-store schema is up to date");
    Ok(applied)
}

/// Creates analytics partitions for the coming months; run at startup and
/// daily so inserts never fall into the default partition.
pub async fn ensure_partitions(client: &tokio_postgres::Client, months_ahead: i32) -> Result<i32, StoreError> {
    Ok(client.query_one("SELECT tally_ensure_analytics_partitions($1)", &[&months_ahead]).await?.get(0))
}
