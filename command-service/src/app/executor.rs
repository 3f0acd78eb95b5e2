//! Runs one command: load, decide, append, with bounded retry on conflicts.

use std::sync::Arc;

use deadpool_postgres::Pool;
use sha2::{Digest, Sha256};
use tally_domain::{Aggregate, ClaimAction, DomainEvent};
use tally_event_store::{
    AppendError, AppendRequest, AppendResult, Appender, EventMetadata, ExpectedVersion, NewEvent, UniqueClaim, reader,
};

use super::{AppError, CommandContext, Loaded, StoredAggregate, StreamCache};
use tally_event_store::StoreError;

/// Losing the version race this many times in a row means the stream is
/// being hammered; the client gets ABORTED and decides.
const MAX_ATTEMPTS: usize = 5;
/// Events read per round trip when (re)loading a stream.
const LOAD_PAGE: i64 = 1000;

/// The outcome of a command: the aggregate after it, and where its events landed.
#[derive(Debug, Clone)]
pub struct Executed<A> {
    pub loaded: Arc<Loaded<A>>,
    pub result: AppendResult,
}

/// The stream a command targets, and whether it is known to be new.
pub enum Stream {
    /// An id the caller has just drawn (a create): such a stream cannot exist
    /// yet, so its (empty) state is not read from the store — that read was a
    /// planned query and a round trip on every create. Should the id exist
    /// after all, the append's expected version (no events) refuses the write
    /// and the retry reads the store.
    New(String),
    Existing(String),
}

impl Stream {
    fn id(&self) -> &str {
        match self {
            Stream::New(id) | Stream::Existing(id) => id,
        }
    }
}

/// Shared by every command handler of the process.
///
/// One `Arc` inside, because axum clones the handlers' state on every request:
/// with a pool, a channel sender and two caches each behind its own reference
/// count, that was ten atomic increments and decrements per command on cache
/// lines both cores write, 2 % of the service's CPU (docs/benchmarks.md).
#[derive(Clone)]
pub struct Executor {
    inner: Arc<Shared>,
}

struct Shared {
    pool: Pool,
    appender: Appender,
    profiles: StreamCache<tally_domain::Profile>,
    sites: StreamCache<tally_domain::Site>,
}

/// Gives the executor the cache that belongs to an aggregate type.
pub trait Cached: StoredAggregate {
    fn cache(executor: &Executor) -> &StreamCache<Self>;
}

impl Cached for tally_domain::Profile {
    fn cache(executor: &Executor) -> &StreamCache<Self> {
        &executor.inner.profiles
    }
}

impl Cached for tally_domain::Site {
    fn cache(executor: &Executor) -> &StreamCache<Self> {
        &executor.inner.sites
    }
}

impl Executor {
    pub fn new(pool: Pool, appender: Appender, cache_capacity: usize) -> Self {
        let (profiles, sites) = (StreamCache::new(cache_capacity), StreamCache::new(cache_capacity));
        Self { inner: Arc::new(Shared { pool, appender, profiles, sites }) }
    }

    /// Runs `command` against `stream`.
    ///
    /// `fingerprint` identifies the command's content for idempotency (see
    /// [`fingerprint`]): a command id reused with other content is refused.
    /// For creates it must not include the server-generated id, so a retry
    /// is recognised and answered with the first attempt's stream.
    #[tracing::instrument(skip_all, fields(stream_id = %stream.id(), command_id = ctx.command_id.as_deref().unwrap_or("")))]
    pub async fn execute<A: Cached>(
        &self,
        stream: Stream,
        command: &A::Command,
        ctx: &CommandContext,
        fingerprint: Vec<u8>,
    ) -> Result<Executed<A>, AppError> {
        if let Some(id) = &ctx.command_id
            && let Some(replayed) = self.replay::<A>(id, &fingerprint).await?
        {
            return Ok(replayed);
        }
        let (mut fresh, stream_id) = match stream {
            Stream::New(id) => (true, id),
            Stream::Existing(id) => (false, id),
        };
        for _ in 0..MAX_ATTEMPTS {
            let mut loaded = if std::mem::take(&mut fresh) {
                Arc::new(Loaded::default())
            } else {
                self.load::<A>(&stream_id).await?
            };
            if let Some(expected) = ctx.expected_version
                && expected != loaded.version
            {
                // The cache may trail another pod's writes; only the store
                // can say the client is really stale.
                loaded = self.refresh::<A>(&stream_id, loaded).await?;
                if expected != loaded.version {
                    let current = loaded.version;
                    return Err(AppendError::Conflict { stream_id, expected: expected.to_string(), current }.into());
                }
            }
            let events = loaded.state.decide(command)?;
            if events.is_empty() && ctx.command_id.is_none() {
                let result = AppendResult {
                    stream_id: stream_id.clone(),
                    stream_version: loaded.version,
                    global_position: loaded.last_position,
                    events_appended: 0,
                    replayed: false,
                    recorded_at: loaded.updated_at.unwrap_or_else(chrono::Utc::now),
                };
                return Ok(Executed { loaded, result });
            }
            let request = self.request::<A>(&stream_id, &loaded, &events, ctx, fingerprint.clone());
            match self.inner.appender.append(request).await {
                Ok(result) => {
                    let next = Arc::new(apply(&loaded, &events, &result));
                    if !result.replayed {
                        A::cache(self).offer(&stream_id, next.clone());
                        return Ok(Executed { loaded: next, result });
                    }
                    // A concurrent request with the same command id won;
                    // answer with what it wrote.
                    let loaded = self.refresh::<A>(&result.stream_id, Arc::new(Loaded::default())).await?;
                    return Ok(Executed { loaded, result });
                }
                Err(AppendError::Conflict { .. }) if ctx.expected_version.is_none() => {
                    A::cache(self).forget(&stream_id);
                    metrics::counter!("tally_command_retries_total", "category" => A::CATEGORY).increment(1);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Contention { stream_id })
    }

    /// The stored event at `version` of a stream (which must exist), decoded.
    pub async fn event_at<A: Cached>(&self, stream_id: &str, version: u64) -> Result<A::Event, AppError> {
        let client = self.inner.pool.get().await.map_err(StoreError::from)?;
        let page = reader::read_stream(&client, A::CATEGORY, stream_id, version.saturating_sub(1), 1).await?;
        let corrupt = |reason: String| AppError::Corrupt { stream_id: stream_id.to_owned(), version, reason };
        let stored = page.into_iter().next().filter(|e| e.stream_version == version);
        let stored = stored.ok_or_else(|| corrupt("the event is missing".to_owned()))?;
        A::decode(&stored.event_type, stored.schema_version, &stored.payload).map_err(|e| corrupt(e.to_string()))
    }

    /// The aggregate as of now, from the cache or the store.
    pub async fn load<A: Cached>(&self, stream_id: &str) -> Result<Arc<Loaded<A>>, AppError> {
        if let Some(hit) = A::cache(self).get(stream_id) {
            return Ok(hit);
        }
        self.refresh::<A>(stream_id, Arc::new(Loaded::default())).await
    }

    /// The aggregate brought up to date with the store: reads only the
    /// events newer than the cached state, so another pod's writes are seen.
    pub async fn latest<A: Cached>(&self, stream_id: &str) -> Result<Arc<Loaded<A>>, AppError> {
        let from = A::cache(self).get(stream_id).unwrap_or_else(|| Arc::new(Loaded::default()));
        self.refresh::<A>(stream_id, from).await
    }

    /// Brings `from` up to date by reading only the events after it.
    async fn refresh<A: Cached>(&self, stream_id: &str, from: Arc<Loaded<A>>) -> Result<Arc<Loaded<A>>, AppError> {
        let client = self.inner.pool.get().await.map_err(StoreError::from)?;
        let mut loaded = (*from).clone();
        loop {
            let page = reader::read_stream(&client, A::CATEGORY, stream_id, loaded.version, LOAD_PAGE).await?;
            let done = (page.len() as i64) < LOAD_PAGE;
            for stored in page {
                let event = A::decode(&stored.event_type, stored.schema_version, &stored.payload).map_err(|e| {
                    AppError::Corrupt {
                        stream_id: stream_id.to_owned(),
                        version: stored.stream_version,
                        reason: e.to_string(),
                    }
                })?;
                loaded.state.evolve(&event);
                loaded.version = stored.stream_version;
                loaded.last_position = stored.global_position;
                loaded.created_at.get_or_insert(stored.recorded_at);
                loaded.updated_at = Some(stored.recorded_at);
            }
            if done {
                break;
            }
        }
        let loaded = Arc::new(loaded);
        A::cache(self).offer(stream_id, loaded.clone());
        Ok(loaded)
    }

    async fn replay<A: Cached>(&self, command_id: &str, fingerprint: &[u8]) -> Result<Option<Executed<A>>, AppError> {
        let client = self.inner.pool.get().await.map_err(StoreError::from)?;
        let Some((stored_print, result)) = reader::command_result(&client, command_id).await? else {
            return Ok(None);
        };
        drop(client);
        if stored_print != fingerprint {
            return Err(AppendError::CommandIdReused { command_id: command_id.to_owned() }.into());
        }
        let loaded = self.load::<A>(&result.stream_id).await?;
        Ok(Some(Executed { loaded, result }))
    }

    fn request<A: Cached>(
        &self,
        stream_id: &str,
        loaded: &Loaded<A>,
        events: &[A::Event],
        ctx: &CommandContext,
        fingerprint: Vec<u8>,
    ) -> AppendRequest {
        let metadata = EventMetadata {
            correlation_id: ctx.correlation_id.clone(),
            causation_id: ctx.command_id.clone().unwrap_or_default(),
            command_id: ctx.command_id.clone().unwrap_or_default(),
            traceparent: ctx.trace.traceparent.clone(),
            tracestate: ctx.trace.tracestate.clone(),
            actor: ctx.actor.clone(),
        };
        let new_events = events
            .iter()
            .map(|event| {
                let (event_type, payload) = A::encode(event);
                NewEvent {
                    event_id: uuid::Uuid::now_v7(),
                    event_type: event_type.to_owned(),
                    schema_version: event.schema_version(),
                    payload,
                    metadata: metadata.clone(),
                }
            })
            .collect();
        let claims = tally_domain::claims_for(&loaded.state, events)
            .into_iter()
            .map(|c| UniqueClaim {
                scope: c.scope.to_owned(),
                key: c.key,
                action: match c.action {
                    ClaimAction::Acquire => tally_event_store::ClaimAction::Acquire,
                    ClaimAction::Release => tally_event_store::ClaimAction::Release,
                },
            })
            .collect();
        AppendRequest {
            stream_id: stream_id.to_owned(),
            category: A::CATEGORY.to_owned(),
            expected: ExpectedVersion::Exact(loaded.version),
            events: new_events,
            claims,
            command_id: ctx.command_id.clone(),
            fingerprint,
        }
    }
}

/// The state after `events` were appended with `result`.
fn apply<A: Aggregate>(before: &Loaded<A>, events: &[A::Event], result: &AppendResult) -> Loaded<A> {
    let mut state = before.state.clone();
    for event in events {
        state.evolve(event);
    }
    Loaded {
        state,
        version: result.stream_version,
        last_position: result.global_position,
        created_at: before.created_at.or(Some(result.recorded_at)),
        updated_at: Some(result.recorded_at),
    }
}

/// A digest of a command's content: its kind, its target (empty for creates)
/// and its validated body. `Debug` of the validated values is deterministic
/// (fields in declaration order, maps sorted), which is all an idempotency
/// check within one deployment needs.
pub fn fingerprint(kind: &str, target: &str, body: &impl std::fmt::Debug) -> Vec<u8> {
    let mut hasher = Sha256::new();
    for part in [kind, target, &format!("{body:?}")] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize().to_vec()
}
