//! Analytics ingest: validate, drop bots, hash visitors, enrich, append.
//!
//! Transports turn their requests into [`EventInput`]s (filling in the
//! client's IP and User-Agent) and call [`Ingest::record`]; the answer says
//! per event whether it was accepted, a duplicate, a bot, or rejected and
//! why. An error means nothing of the request was written.

mod client_ip;
mod codec;
mod geo;
mod salts;
mod sites;

use std::{collections::HashSet, sync::Arc};

use chrono::{Duration, Utc};
use tally_domain::{
    FieldViolation,
    analytics::{self, EventInput, SiteInfo, TimePolicy, UserAgentInfo, ValidEvent},
};
use tally_event_store::{AnalyticsAppender, AnalyticsBatch, AnalyticsEvent, AnalyticsOutcome, EventMetadata, NewEvent};
use tally_proto::convert::event_types::ANALYTICS_EVENT_RECORDED;

pub use client_ip::TrustedProxies;
pub use geo::CountryDb;
pub use salts::{SaltCache, destroy_expired_loop};
pub use sites::{SiteDirectory, SiteRef};

use super::{AppError, CommandContext};
use tally_event_store::AppendError;

/// Live or backfill: which timestamps are acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Trackers: timestamps within the configured skew of now.
    Live,
    /// Trusted imports of historic logs: original timestamps required.
    Backfill,
}

/// Clock-skew bounds of live ingest.
#[derive(Debug, Clone, Copy)]
pub struct SkewLimits {
    pub max_past: Duration,
    pub max_future: Duration,
}

/// What happened to one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Appended now at this global position.
    Recorded { global_position: u64 },
    /// Its client event id was recorded before; not appended again.
    Duplicate,
    /// Came from a bot or crawler; dropped and counted.
    Bot,
    /// Failed validation.
    Rejected(Vec<FieldViolation>),
}

impl Outcome {
    pub fn accepted(&self) -> bool {
        matches!(self, Outcome::Recorded { .. } | Outcome::Duplicate)
    }
}

/// The answer to a batch, one outcome per event in request order.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub outcomes: Vec<Outcome>,
}

impl Report {
    pub fn accepted(&self) -> u32 {
        self.outcomes.iter().filter(|o| o.accepted()).count() as u32
    }
    pub fn rejected(&self) -> u32 {
        self.outcomes.iter().filter(|o| matches!(o, Outcome::Rejected(_))).count() as u32
    }
    pub fn dropped_bots(&self) -> u32 {
        self.outcomes.iter().filter(|o| matches!(o, Outcome::Bot)).count() as u32
    }
    /// Position of the last event appended (0 if none), for read-your-writes.
    pub fn global_position(&self) -> u64 {
        self.outcomes
            .iter()
            .filter_map(|o| match o {
                Outcome::Recorded { global_position } => Some(*global_position),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }
}

/// The ingest service shared by every transport.
#[derive(Clone)]
pub struct Ingest {
    pub sites: SiteDirectory,
    salts: SaltCache,
    appender: AnalyticsAppender,
    countries: Option<CountryDb>,
    skew: SkewLimits,
    /// Proxies whose `X-Forwarded-For` (and events' `ip`) are believed.
    pub trusted: TrustedProxies,
    /// SHA-256 of the backfill token; `None` disables backfill.
    admin_token: Option<[u8; 32]>,
    /// Parsed User-Agents: traffic repeats a few thousand distinct UAs, and
    /// parsing one (two large regex sets) costs more than the rest of an event.
    agents: Arc<quick_cache::sync::Cache<String, Arc<UserAgentInfo>>>,
}

/// Distinct User-Agents kept parsed in memory.
const AGENT_CACHE: usize = 20_000;

/// The parts an [`Ingest`] is built from.
pub struct IngestParts {
    pub sites: SiteDirectory,
    pub salts: SaltCache,
    pub appender: AnalyticsAppender,
    pub countries: Option<CountryDb>,
    pub skew: SkewLimits,
    pub trusted: TrustedProxies,
    pub admin_token: Option<String>,
}

fn digest(token: &str) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(token.as_bytes()).into()
}

/// Why an administrative request (backfill, read keys) is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminRefusal {
    /// No admin token is configured: administrative requests are off.
    Disabled,
    /// No or a wrong token was presented.
    BadToken,
}

impl AdminRefusal {
    /// The client's answer; `what` names the refused operation.
    pub fn into_api_error(self, what: &str) -> tally_platform::error::ApiError {
        use tally_platform::error::{ApiError, ErrorKind};
        match self {
            AdminRefusal::Disabled => ApiError::new(
                ErrorKind::PermissionDenied,
                format!("{what} is disabled on this server: no ingest.admin_token is configured"),
            ),
            AdminRefusal::BadToken => ApiError::new(
                ErrorKind::Unauthenticated,
                format!("{what} needs the admin token: `Authorization: Bearer <ingest.admin_token>`"),
            ),
        }
    }
}

impl Ingest {
    pub fn new(parts: IngestParts) -> Self {
        let admin_token = parts.admin_token.filter(|t| !t.trim().is_empty()).map(|t| digest(t.trim()));
        Self {
            sites: parts.sites,
            salts: parts.salts,
            appender: parts.appender,
            countries: parts.countries,
            skew: parts.skew,
            trusted: parts.trusted,
            admin_token,
            agents: Arc::new(quick_cache::sync::Cache::new(AGENT_CACHE)),
        }
    }

    fn agent_info(&self, user_agent: &str) -> Arc<UserAgentInfo> {
        if let Some(hit) = self.agents.get(user_agent) {
            return hit;
        }
        let info = Arc::new(UserAgentInfo::parse(user_agent));
        self.agents.insert(user_agent.to_owned(), info.clone());
        info
    }

    /// Checks a presented backfill token. Digests are compared, so the time
    /// taken says nothing about how much of the token was right.
    pub fn check_admin(&self, presented: Option<&str>) -> Result<(), AdminRefusal> {
        let expected = self.admin_token.ok_or(AdminRefusal::Disabled)?;
        match presented {
            Some(token) if digest(token.trim()) == expected => Ok(()),
            _ => Err(AdminRefusal::BadToken),
        }
    }

    /// Records `inputs` for `site`. Each event is judged on its own; the
    /// accepted ones are appended in one request to the analytics appender.
    #[tracing::instrument(skip_all, fields(site_id = %site.id, events = inputs.len(), mode = ?mode))]
    pub async fn record(
        &self,
        site: &SiteInfo,
        inputs: Vec<Result<EventInput, Vec<FieldViolation>>>,
        mode: Mode,
        ctx: &CommandContext,
    ) -> Result<Report, AppError> {
        let now = Utc::now();
        let policy = match mode {
            Mode::Live => TimePolicy::Live { now, max_past: self.skew.max_past, max_future: self.skew.max_future },
            Mode::Backfill => TimePolicy::Backfill { now, max_future: self.skew.max_future },
        };
        let mut outcomes = Vec::with_capacity(inputs.len());
        let mut valid: Vec<(usize, ValidEvent, Arc<UserAgentInfo>)> = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.into_iter().enumerate() {
            match input.and_then(|input| analytics::validate(input, policy).map_err(|e| e.violations)) {
                Err(violations) => outcomes.push(Outcome::Rejected(violations)),
                Ok(event) => {
                    let agent = self.agent_info(&event.user_agent);
                    if agent.bot {
                        outcomes.push(Outcome::Bot);
                    } else {
                        outcomes.push(Outcome::Duplicate); // placeholder, replaced below
                        valid.push((i, event, agent));
                    }
                }
            }
        }
        let bots = outcomes.iter().filter(|o| matches!(o, Outcome::Bot)).count();
        metrics::counter!("tally_analytics_bots_dropped_total").increment(bots as u64);
        let rejected = outcomes.iter().filter(|o| matches!(o, Outcome::Rejected(_))).count();
        metrics::counter!("tally_analytics_events_rejected_total").increment(rejected as u64);
        if valid.is_empty() {
            return Ok(Report { outcomes });
        }

        let days: Vec<_> = valid
            .iter()
            .map(|(_, e, _)| (site.id.as_uuid(), analytics::local_day(e.timestamp, site.time_zone).date))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let salts = self.salts.get(&days).await?;
        let metadata = EventMetadata {
            correlation_id: ctx.correlation_id.clone(),
            traceparent: ctx.trace.traceparent.clone(),
            tracestate: ctx.trace.tracestate.clone(),
            actor: ctx.actor.clone(),
            ..EventMetadata::default()
        };
        let mut events = Vec::with_capacity(valid.len());
        let mut indices = Vec::with_capacity(valid.len());
        for (i, event, agent) in valid {
            let date = analytics::local_day(event.timestamp, site.time_zone).date;
            let salt = salts.get(&(site.id.as_uuid(), date)).ok_or_else(|| {
                AppendError::Unavailable(format!("no visitor salt could be created for {} on {date}", site.id))
            })?;
            let country = match (&self.countries, event.ip) {
                (Some(db), Some(ip)) => db.country(ip),
                _ => String::new(),
            };
            let client_event_id = event.client_event_id.clone();
            let agent = agent.agent(event.screen_width);
            let record = analytics::record(site, event, salt, agent, country);
            indices.push(i);
            events.push(AnalyticsEvent {
                client_event_id,
                event: NewEvent {
                    event_id: uuid::Uuid::now_v7(),
                    event_type: ANALYTICS_EVENT_RECORDED.to_owned(),
                    schema_version: codec::SCHEMA_VERSION,
                    payload: codec::encode(record),
                    metadata: metadata.clone(),
                },
            });
        }
        let batch = AnalyticsBatch { site_id: site.id.as_uuid(), stream_id: analytics::stream_id(site.id), events };
        let appended = self.appender.append(batch).await?;
        for (i, outcome) in indices.into_iter().zip(appended) {
            outcomes[i] = match outcome {
                AnalyticsOutcome::Appended { global_position } => Outcome::Recorded { global_position },
                AnalyticsOutcome::Duplicate => Outcome::Duplicate,
            };
        }
        Ok(Report { outcomes })
    }
}
