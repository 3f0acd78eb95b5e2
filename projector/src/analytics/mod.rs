//! The analytics projection: sessionisation (the domain's rules) in the
//! projector, signed-delta rollups for the fast path, and per-session and
//! per-event rows for exact filtered queries (docs/analytics-read.md).

pub mod bulk;
pub mod closing;
pub mod decode;
pub mod fill;
pub mod fold;
pub mod pages;
pub mod rebuild;
pub mod schema;
pub mod state;
pub mod store;
pub mod verify;

use std::collections::BTreeSet;

use deadpool_postgres::Transaction;
use tally_domain::sessions::Rules;
use tally_platform::causes::Causes;

use crate::{error::is_transient, fold::Verdict, project::Sharing};
pub use decode::AnalyticsEvent;
pub use store::AnalyticsStatements;

/// Applies `events` (in partition order) and returns one verdict per event.
pub async fn project(
    tx: &Transaction<'_>,
    statements: &AnalyticsStatements,
    rules: &Rules,
    events: &[&AnalyticsEvent],
    sharing: Sharing,
) -> Result<Vec<Verdict>, tokio_postgres::Error> {
    let keys: Vec<_> = events.iter().map(|e| e.key()).collect::<BTreeSet<_>>().into_iter().collect();
    let mut fold = statements.load(tx, &keys, sharing == Sharing::Shared).await?;
    let verdicts = events.iter().map(|e| fold.apply(rules, e)).collect();
    fold.seal();
    statements.write(tx, &fold).await?;
    Ok(verdicts)
}

/// Like [`project`], inside a savepoint; if the database refuses the batch
/// for a reason that is not transient, each event is tried on its own so
/// only the culprits become rejections (dead letters).
pub async fn project_with_fallback(
    tx: &Transaction<'_>,
    statements: &AnalyticsStatements,
    rules: &Rules,
    events: &[&AnalyticsEvent],
    sharing: Sharing,
) -> Result<Vec<Verdict>, tokio_postgres::Error> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    match in_savepoint(tx, statements, rules, events, sharing).await {
        Ok(v) => return Ok(v),
        Err(e) if is_transient(&e) => return Err(e),
        Err(e) => tracing::warn!(error = %Causes(&e), "analytics batch refused by the database; projecting one by one"),
    }
    let mut verdicts = Vec::with_capacity(events.len());
    for event in events {
        match in_savepoint(tx, statements, rules, &[event], sharing).await {
            Ok(mut v) => verdicts.push(v.pop().unwrap_or(Verdict::Duplicate)),
            Err(e) if is_transient(&e) => return Err(e),
            Err(e) => verdicts.push(Verdict::Rejected(format!("the read database refused the projection: {e}"))),
        }
    }
    Ok(verdicts)
}

async fn in_savepoint(
    tx: &Transaction<'_>,
    statements: &AnalyticsStatements,
    rules: &Rules,
    events: &[&AnalyticsEvent],
    sharing: Sharing,
) -> Result<Vec<Verdict>, tokio_postgres::Error> {
    tx.batch_execute("SAVEPOINT analytics").await?;
    match project(tx, statements, rules, events, sharing).await {
        Ok(v) => {
            tx.batch_execute("RELEASE SAVEPOINT analytics").await?;
            Ok(v)
        }
        Err(e) => {
            tx.batch_execute("ROLLBACK TO SAVEPOINT analytics").await?;
            Err(e)
        }
    }
}
