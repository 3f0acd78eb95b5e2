//! Which site an ingest request is for, by id or by domain.
//!
//! Ingest is public and hot, so answers are cached briefly: a site's data for
//! [`SITE_TTL`] (a renamed domain or a new time zone takes effect within it),
//! an unknown domain for [`UNKNOWN_TTL`] (so a flood of events for a domain
//! nobody registered costs one lookup per interval, not one per event).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use quick_cache::sync::Cache;
use tally_domain::{DOMAIN_CLAIM_SCOPE, DomainError, Site, SiteId, analytics::SiteInfo, stream_id};
use tally_event_store::StoreError;

use crate::app::{AppError, Executor};

const SITE_TTL: Duration = Duration::from_secs(30);
const UNKNOWN_TTL: Duration = Duration::from_secs(5);

/// How a request names its site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteRef {
    Id(SiteId),
    Domain(String),
}

#[derive(Clone)]
pub struct SiteDirectory {
    executor: Executor,
    pool: deadpool_postgres::Pool,
    by_id: Arc<Cache<SiteId, (Option<SiteInfo>, Instant)>>,
    by_domain: Arc<Cache<String, (Option<SiteId>, Instant)>>,
}

fn not_found(what: String) -> AppError {
    DomainError::NotFound { kind: "site", id: what }.into()
}

impl SiteDirectory {
    pub fn new(executor: Executor, pool: deadpool_postgres::Pool, capacity: usize) -> Self {
        Self {
            executor,
            pool,
            by_id: Arc::new(Cache::new(capacity.max(1))),
            by_domain: Arc::new(Cache::new(capacity.max(1))),
        }
    }

    /// The registered site, or `NotFound` (404) for an unknown or deleted one.
    pub async fn resolve(&self, site: &SiteRef) -> Result<SiteInfo, AppError> {
        let id = match site {
            SiteRef::Id(id) => *id,
            SiteRef::Domain(domain) => self.id_of(domain).await?.ok_or_else(|| not_found(domain.clone()))?,
        };
        self.info(id).await?.ok_or_else(|| not_found(id.to_string()))
    }

    async fn info(&self, id: SiteId) -> Result<Option<SiteInfo>, AppError> {
        if let Some((info, at)) = self.by_id.get(&id)
            && at.elapsed() < if info.is_some() { SITE_TTL } else { UNKNOWN_TTL }
        {
            return Ok(info);
        }
        let loaded = self.executor.latest::<Site>(&stream_id::<Site>(id)).await?;
        let info = loaded.state.data().map(|d| SiteInfo {
            id: d.id,
            domain: d.domain.as_str().to_owned(),
            time_zone: d.time_zone.tz(),
        });
        self.by_id.insert(id, (info.clone(), Instant::now()));
        Ok(info)
    }

    /// The site registered for `domain` (exactly, or without a leading `www.`).
    async fn id_of(&self, domain: &str) -> Result<Option<SiteId>, AppError> {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if let Some((id, at)) = self.by_domain.get(&domain)
            && at.elapsed() < if id.is_some() { SITE_TTL } else { UNKNOWN_TTL }
        {
            return Ok(id);
        }
        let bare = domain.strip_prefix("www.").unwrap_or(&domain).to_owned();
        let client = self.pool.get().await.map_err(StoreError::from)?;
        let stmt = client
            .prepare_cached(
                "SELECT stream_id FROM unique_keys WHERE scope = $1 AND key = ANY($2) \
                 ORDER BY key = $3 DESC LIMIT 1",
            )
            .await
            .map_err(StoreError::from)?;
        let row = client
            .query_opt(&stmt, &[&DOMAIN_CLAIM_SCOPE, &vec![domain.clone(), bare], &domain])
            .await
            .map_err(StoreError::from)?;
        let id = row.and_then(|r| r.get::<_, String>(0).strip_prefix("site-").and_then(|u| u.parse().ok()));
        self.by_domain.insert(domain, (id, Instant::now()));
        Ok(id)
    }
}
