//! `projector dead-letters retry`: re-apply dead letters to the active version.

use deadpool_postgres::Pool;

use crate::{
    ProjectorError,
    batch::{Applier, Triage, active_for_share, project_with_fallback, triage},
    dead_letters,
    fold::Verdict,
    message::{Message, Source},
    project::Sharing,
};

/// The outcome of retrying one dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryOutcome {
    /// Projected (or found already projected / not for this projection).
    Resolved,
    /// Still failing; the dead letter stays open with this reason.
    Failed(String),
    NotFound,
    AlreadyResolved,
}

/// Which dead letters to retry.
#[derive(Debug, Clone, Copy)]
pub enum Which {
    One(i64),
    AllOpen,
}

/// Retries dead letters, each in its own transaction, and reports per id.
pub async fn retry(pool: &Pool, which: Which) -> Result<Vec<(i64, RetryOutcome)>, ProjectorError> {
    retry_with_rules(pool, which, tally_domain::sessions::Rules::default()).await
}

/// [`retry`] with the configured sessionisation rules (analytics events).
pub async fn retry_with_rules(
    pool: &Pool,
    which: Which,
    rules: tally_domain::sessions::Rules,
) -> Result<Vec<(i64, RetryOutcome)>, ProjectorError> {
    let ids = match which {
        Which::One(id) => vec![id],
        Which::AllOpen => {
            let client = pool.get().await?;
            dead_letters::list(&**client, false).await?.into_iter().map(|d| d.id).collect()
        }
    };
    let applier = Applier::new(pool.clone(), "dead-letters-retry").with_session_rules(rules);
    let mut outcomes = Vec::with_capacity(ids.len());
    for id in ids {
        let outcome = retry_one(&applier, id).await?;
        match &outcome {
            RetryOutcome::Failed(reason) => tracing::warn!(id, reason = %reason, "dead letter still fails"),
            other => tracing::info!(id, outcome = ?other, "dead letter retried"),
        }
        outcomes.push((id, outcome));
    }
    Ok(outcomes)
}

#[tracing::instrument(skip_all, fields(id))]
async fn retry_one(applier: &Applier, id: i64) -> Result<RetryOutcome, ProjectorError> {
    let mut client = applier.pool().get().await?;
    let tx = client.transaction().await?;
    let Some(letter) = dead_letters::get_for_update(&*tx, id).await? else {
        return Ok(RetryOutcome::NotFound);
    };
    if letter.resolved {
        return Ok(RetryOutcome::AlreadyResolved);
    }
    let headers = match &letter.headers {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())))
            .collect(),
        _ => Vec::new(),
    };
    let source = Source { topic: letter.topic.clone(), partition: letter.partition, offset: letter.offset };
    let message = Message::from_bytes(source, headers, &letter.raw);
    let active = active_for_share(&tx).await?;
    // A retry is a deliberate re-application: neither `applied_through` nor
    // partition positions apply; the rows' own positions still make it
    // idempotent.
    let failure = match triage(&message, 0, 0) {
        Triage::DeadLetter(reason) => Some(reason),
        Triage::Skip | Triage::Ignore => None,
        Triage::Analytics(event) => {
            let active = crate::batch::projection_for_share(&tx, crate::analytics::schema::ANALYTICS).await?;
            let statements = applier.analytics_statements(active.version);
            let rules = *applier.session_rules();
            match crate::analytics::project_with_fallback(&tx, &statements, &rules, &[&event], Sharing::Shared)
                .await?
                .pop()
            {
                Some(Verdict::Rejected(reason)) => Some(reason),
                _ => None,
            }
        }
        Triage::Project(event) => {
            let statements = applier.statements(active.version);
            match project_with_fallback(&tx, &statements, &[(0, event)], Sharing::Shared).await?.pop() {
                Some(Verdict::Rejected(reason)) => Some(reason),
                _ => None,
            }
        }
    };
    dead_letters::mark_retried(&*tx, id, failure.as_deref()).await?;
    tx.commit().await?;
    Ok(match failure {
        None => RetryOutcome::Resolved,
        Some(reason) => RetryOutcome::Failed(reason),
    })
}
