//! The read layer: profiles and sites from the read DB's views, with the
//! bounded wait for `min_position`.
//!
//! Transports (gRPC, REST) validate and convert their requests, then call
//! [`Reads`]; nothing here knows about HTTP or protobuf.

mod batch;
mod cursor;
mod error;
mod freshness;
mod model;
mod page;
mod sql;

use std::{sync::Arc, time::Duration};

use deadpool_postgres::Pool;
use tokio::time::Instant;
use tokio_postgres::{Row, types::ToSql};
use uuid::Uuid;

use batch::ProfileBatcher;
pub use cursor::Cursor;
pub use error::ReadError;
pub use freshness::Freshness;
pub use model::{ProfileRecord, SiteRecord, SiteSummary};
pub use page::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageRequest, ProfilePage};
use sql::{Queries, Read};

use crate::settings::CoalescingSettings;

/// Every read the service offers; cheap to clone.
#[derive(Clone)]
pub struct Reads {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    profiles_by_id: ProfileBatcher<Uuid>,
    profiles_by_handle: ProfileBatcher<String>,
    queries: Queries,
    freshness: Freshness,
    max_wait: Duration,
}

type Params<'a> = [&'a (dyn ToSql + Sync)];

impl Reads {
    /// Starts the lookup dispatcher, so it must run inside a Tokio runtime.
    pub fn new(pool: Pool, freshness: Freshness, max_wait: Duration, batching: CoalescingSettings) -> Self {
        let queries = Queries::new();
        let profiles_by_id = ProfileBatcher::start(pool.clone(), queries.profiles_by_ids.clone(), batching);
        let profiles_by_handle = ProfileBatcher::start(pool.clone(), queries.profiles_by_handles.clone(), batching);
        Self { inner: Arc::new(Inner { pool, profiles_by_id, profiles_by_handle, queries, freshness, max_wait }) }
    }

    #[tracing::instrument(skip_all, fields(%id, min_position))]
    pub async fn profile(&self, id: Uuid, min_position: Option<u64>) -> Result<ProfileRecord, ReadError> {
        let not_found = || ReadError::NotFound { what: "profile", key: id.to_string() };
        if min_position.is_none_or(|m| m == 0) {
            return self.inner.profiles_by_id.get(id).await?.ok_or_else(not_found);
        }
        let rows = self.run(&self.inner.queries.profile_by_id, &[&id], min_position).await?;
        ProfileRecord::from_row(rows.first().ok_or_else(not_found)?)
    }

    /// `handle` must already be normalised (lowercase).
    #[tracing::instrument(skip_all, fields(handle, min_position))]
    pub async fn profile_by_handle(&self, handle: &str, min_position: Option<u64>) -> Result<ProfileRecord, ReadError> {
        let not_found = || ReadError::NotFound { what: "profile with handle", key: handle.into() };
        if min_position.is_none_or(|m| m == 0) {
            return self.inner.profiles_by_handle.get(handle.to_owned()).await?.ok_or_else(not_found);
        }
        let rows = self.run(&self.inner.queries.profile_by_handle, &[&handle], min_position).await?;
        ProfileRecord::from_row(rows.first().ok_or_else(not_found)?)
    }

    #[tracing::instrument(skip_all, fields(size = page.size(), min_position))]
    pub async fn profiles(&self, page: PageRequest, min_position: Option<u64>) -> Result<ProfilePage, ReadError> {
        // One extra row says whether another page follows.
        let limit = i64::try_from(page.size() + 1).unwrap_or(i64::MAX);
        let q = &self.inner.queries;
        let rows = match page.after {
            None => self.run(&q.profiles_first, &[&limit], min_position).await?,
            Some(Cursor(after)) => self.run(&q.profiles_after, &[&after, &limit], min_position).await?,
        };
        let mut profiles = rows.iter().map(ProfileRecord::from_row).collect::<Result<Vec<_>, _>>()?;
        let next = if profiles.len() > page.size() {
            profiles.truncate(page.size());
            profiles.last().map(|p| Cursor(p.id))
        } else {
            None
        };
        Ok(ProfilePage { profiles, next })
    }

    #[tracing::instrument(skip_all, fields(%id, min_position))]
    pub async fn site(&self, id: Uuid, min_position: Option<u64>) -> Result<SiteRecord, ReadError> {
        let rows = self.run(&self.inner.queries.site_by_id, &[&id], min_position).await?;
        let row = rows.first().ok_or_else(|| ReadError::NotFound { what: "site", key: id.to_string() })?;
        SiteRecord::from_row(row)
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// Waits (bounded) until the projector has applied `min_position`;
    /// `Behind` when it does not in time. For reads that span many
    /// statements (statistics), where the one-statement fresh form of
    /// [`Reads::run`] does not fit.
    pub(crate) async fn wait_for(&self, min_position: Option<u64>) -> Result<(), ReadError> {
        let Some(min) = min_position.filter(|&m| m > 0) else { return Ok(()) };
        let min_i64 = i64::try_from(min).unwrap_or(i64::MAX);
        let consumer = self.inner.freshness.consumer().to_owned();
        let started = Instant::now();
        let projected: i64 = {
            let client = self.inner.pool.get().await?;
            client.query_one(&sql::projected(1), &[&consumer]).await?.try_get(0)?
        };
        if projected >= min_i64 {
            record_wait("fresh", started);
            return Ok(());
        }
        match self.inner.freshness.wait(min_i64, started + self.inner.max_wait).await {
            Ok(_) => {
                record_wait("waited", started);
                Ok(())
            }
            Err(seen) => {
                record_wait("behind", started);
                let projected = seen.unwrap_or(projected).max(projected);
                Err(ReadError::Behind { projected: u64::try_from(projected).unwrap_or(0), min_position: min })
            }
        }
    }

    /// Runs `read`; with a `min_position`, only answers from a read model
    /// that has reached it, waiting up to `max_wait`.
    async fn run(&self, read: &Read, params: &Params<'_>, min_position: Option<u64>) -> Result<Vec<Row>, ReadError> {
        // Position 0 precedes every event: any read model satisfies it.
        let Some(min) = min_position.filter(|&m| m > 0) else {
            let client = self.inner.pool.get().await?;
            let stmt = client.prepare_cached(&read.plain).await?;
            return Ok(client.query(&stmt, params).await?);
        };
        tracing::Span::current().record("min_position", min);
        // Positions are bigint in Postgres; a larger one is never reached.
        let min_i64 = i64::try_from(min).unwrap_or(i64::MAX);
        let consumer = self.inner.freshness.consumer();
        let mut fresh_params: Vec<&(dyn ToSql + Sync)> = params.to_vec();
        fresh_params.push(&consumer);
        let started = Instant::now();
        let deadline = started + self.inner.max_wait;
        let mut waited = false;
        loop {
            let (projected, rows) = self.run_fresh(read, &fresh_params).await?;
            if projected >= min_i64 {
                record_wait(if waited { "waited" } else { "fresh" }, started);
                return Ok(rows);
            }
            // Once the poll sees the position, the loop re-runs the fresh
            // read instead of trusting the poll: with several replicas
            // behind one address, the next connection may reach one that
            // is still behind.
            if let Err(seen) = self.inner.freshness.wait(min_i64, deadline).await {
                record_wait("behind", started);
                let projected = seen.unwrap_or(projected).max(projected);
                tracing::info!(projected, min, "read model behind min_position");
                return Err(ReadError::Behind { projected: u64::try_from(projected).unwrap_or(0), min_position: min });
            }
            waited = true;
        }
    }

    /// The `fresh` form: the projected position, and the rows (without the
    /// all-NULL row the outer join yields when the read finds nothing).
    async fn run_fresh(&self, read: &Read, params: &Params<'_>) -> Result<(i64, Vec<Row>), ReadError> {
        let client = self.inner.pool.get().await?;
        let stmt = client.prepare_cached(&read.fresh).await?;
        let rows = client.query(&stmt, params).await?;
        let first = rows.first().ok_or_else(|| ReadError::Decode("the fresh form returned no row".into()))?;
        let projected: i64 = first.try_get("projected")?;
        let mut found = Vec::with_capacity(rows.len());
        for row in rows {
            if row.try_get::<_, Option<Uuid>>("id")?.is_some() {
                found.push(row);
            }
        }
        Ok((projected, found))
    }
}

fn record_wait(outcome: &'static str, started: Instant) {
    metrics::counter!("query_min_position_reads_total", "outcome" => outcome).increment(1);
    if outcome != "fresh" {
        metrics::histogram!("query_min_position_wait_seconds", "outcome" => outcome)
            .record(started.elapsed().as_secs_f64());
    }
}
