//! The read DB's schema, embedded in the binary and applied at startup (or by
//! `projector migrate` / a Kubernetes Job).

use tokio_postgres::NoTls;

use crate::ProjectorError;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// An arbitrary constant that identifies "Tally migrations" among advisory
/// locks (the same one the event store uses: if both schemas share a database
/// in a small deployment, their migrations simply take turns).
const MIGRATION_LOCK: i64 = 0x7A11_0001;

/// Our own history table, so the read model may live in the same database as
/// the event store (single-node deployments) without the two histories clashing.
const HISTORY_TABLE: &str = "projector_schema_history";

/// Applies pending migrations. Safe to run from many pods at once: an
/// advisory lock makes all but one wait, and they then find nothing to do.
pub async fn run(config: &tokio_postgres::Config) -> Result<usize, ProjectorError> {
    run_to(config, None).await
}

/// Applies pending migrations up to version `target` (all of them with `None`): upgrade
/// tests start from the schema an older release left.
pub async fn run_to(config: &tokio_postgres::Config, target: Option<u32>) -> Result<usize, ProjectorError> {
    let (mut client, connection) = config.connect(NoTls).await?;
    let conn = tokio::spawn(connection);
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK]).await?;
    let target = target.map_or(refinery::Target::Latest, refinery::Target::Version);
    let mut runner = embedded::migrations::runner().set_target(target);
    let report = runner.set_migration_table_name(HISTORY_TABLE).run_async(&mut client).await;
    // Unlock before reporting so a failed migration does not block other pods
    // until this connection dies.
    let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await;
    let applied = report.map_err(|e| ProjectorError::Migration(e.to_string()))?.applied_migrations().len();
    unlocked?;
    drop(client);
    let _ = conn.await;
    tracing::info!(applied, "read-model schema is up to date");
    Ok(applied)
}

/// (version, name, checksum) of every embedded migration. Refinery refuses a database whose
/// applied migrations' checksums differ from the binary's, so the text of a released migration
/// must never change, including the templates it is built from; a test pins them.
pub fn checksums() -> Vec<(u32, String, u64)> {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| (m.version(), m.name().to_owned(), m.checksum()))
        .collect()
}
