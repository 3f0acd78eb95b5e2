//! The atomic hand-over from the serving version to the rebuilt one.

use deadpool_postgres::Pool;
use tally_event_store::reader;

use crate::{
    ProjectorError,
    project::Sharing,
    rebuild::replay::{Prepared, Replayed, apply_page},
    schema::{PROFILES, VersionTables},
    single_node::PROFILE_CATEGORIES as CATEGORIES,
    store::Statements,
};

/// What the switch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switched {
    /// `M`: the highest position any live consumer had applied.
    pub live_position: i64,
    /// Events replayed inside the switch to reach `M`.
    pub caught_up: u64,
    /// Recorded as `applied_through`: the new version holds every event up to here.
    pub applied_through: i64,
}

/// In one transaction: lock the `projections` row (waiting for the live
/// batch in flight and holding off the next), replay the events between the
/// rebuild's end and the live consumers' `M`, activate the new version and
/// re-point the views. The transaction is returned uncommitted, so the caller
/// decides — after checking for Ctrl-C one last time — whether to commit.
pub async fn prepare<'a>(
    client: &'a mut deadpool_postgres::Object,
    store: &Pool,
    old_version: i32,
    statements: &Statements,
    replayed_through: u64,
    page: usize,
) -> Result<(deadpool_postgres::Transaction<'a>, Switched), ProjectorError> {
    let tx = client.transaction().await?;
    let active: i32 = tx
        .query_opt("SELECT active_version FROM projections WHERE name = $1 FOR UPDATE", &[&PROFILES])
        .await?
        .ok_or(ProjectorError::NoProjection(PROFILES))?
        .get(0);
    if active != old_version {
        return Err(ProjectorError::Rebuild(format!(
            "the active version changed from {old_version} to {active} during the rebuild (another rebuild?); \
             nothing was switched"
        )));
    }
    let live: i64 = tx.query_one("SELECT COALESCE(max(position), 0) FROM projector_offsets", &[]).await?.get(0);
    let mut through = replayed_through;
    let mut caught_up = 0;
    let filter =
        reader::Filter { categories: CATEGORIES.iter().map(|c| (*c).to_owned()).collect(), event_types: vec![] };
    while (through as i64) < live {
        let events = {
            let store_client = store.get().await.map_err(|e| ProjectorError::EventStore(e.into()))?;
            reader::read_all(&store_client, through, page as i64, &filter).await?
        };
        let events: Vec<_> = events.into_iter().take_while(|e| e.global_position as i64 <= live).collect();
        if events.is_empty() {
            break;
        }
        let Replayed { events: n, through: last, .. } =
            apply_page(&tx, statements, Prepared::new(events), Sharing::Exclusive).await?;
        caught_up += n;
        through = last;
    }
    let applied_through = live.max(replayed_through as i64);
    tx.execute(
        "UPDATE projections SET active_version = $2, applied_through = $3, switched_at = now() WHERE name = $1",
        &[&PROFILES, &statements.version(), &applied_through],
    )
    .await?;
    tx.batch_execute(&VersionTables::new(statements.version()).point_views_ddl()).await?;
    Ok((tx, Switched { live_position: live, caught_up, applied_through }))
}
