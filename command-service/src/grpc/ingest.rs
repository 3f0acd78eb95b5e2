//! `CommandService.RecordEvents`: a batch of analytics events over gRPC.

use std::net::{IpAddr, SocketAddr};

use tally_domain::{FieldViolation, SiteId, analytics::EventInput, analytics::RevenueInput, analytics::Utm};
use tally_platform::error::ApiError;
use tally_proto::{convert::from_timestamp, v1};
use tonic::{Request, Response, Status};

use super::context::command_context;
use crate::app::analytics::{Ingest, Mode, Outcome, Report, SiteRef};

/// Most events per request (architecture.md: clients send up to 1,000).
const MAX_BATCH: usize = tally_domain::analytics::limits::MAX_BATCH;

/// Which site the request names: exactly one of `site_id` and `domain`.
pub fn site_ref(site_id: &str, domain: &str) -> Result<SiteRef, ApiError> {
    match (site_id.trim(), domain.trim()) {
        ("", "") => Err(ApiError::field("site_id", "either site_id or domain is required")),
        (id, "") => id
            .parse::<SiteId>()
            .map(SiteRef::Id)
            .map_err(|_| ApiError::field("site_id", format!("must be a UUID, got {id:?}"))),
        ("", domain) => Ok(SiteRef::Domain(domain.to_owned())),
        _ => Err(ApiError::field("domain", "must be empty when site_id is set; send one of them")),
    }
}

/// Checks the batch's size.
pub fn check_batch_size(len: usize, field: &str) -> Result<(), ApiError> {
    if len == 0 {
        return Err(ApiError::field(field, "must contain at least one event"));
    }
    if len > MAX_BATCH {
        return Err(ApiError::field(field, format!("must contain at most {MAX_BATCH} events, got {len}")));
    }
    Ok(())
}

/// The proto input as the domain's raw input. The event's own `ip` is kept
/// only when the peer is a trusted proxy; otherwise the client's address is
/// used, and the request's User-Agent fills in a missing `user_agent`.
fn input(
    e: v1::AnalyticsEventInput,
    client_ip: Option<IpAddr>,
    trusted: bool,
    agent: &str,
) -> Result<EventInput, Vec<FieldViolation>> {
    let timestamp = match &e.timestamp {
        Some(ts) => Some(from_timestamp(ts).map_err(|err| vec![FieldViolation::new("timestamp", err.to_string())])?),
        None => None,
    };
    let ip =
        if trusted && !e.ip.trim().is_empty() { e.ip } else { client_ip.map(|ip| ip.to_string()).unwrap_or_default() };
    let user_agent = if e.user_agent.trim().is_empty() { agent.to_owned() } else { e.user_agent };
    Ok(EventInput {
        client_event_id: e.client_event_id,
        name: e.name,
        url: e.url,
        referrer: e.referrer,
        screen_width: e.screen_width,
        props: e.props.into_iter().collect(),
        timestamp,
        revenue: e.revenue.map(|r| RevenueInput { currency: r.currency, amount: r.amount }),
        utm: Utm {
            source: e.utm_source,
            medium: e.utm_medium,
            campaign: e.utm_campaign,
            content: e.utm_content,
            term: e.utm_term,
        },
        ip,
        user_agent,
    })
}

/// The gRPC answer of a report.
pub fn response(report: &Report) -> v1::RecordEventsResponse {
    v1::RecordEventsResponse {
        accepted: report.accepted(),
        rejected: report.rejected(),
        dropped_bots: report.dropped_bots(),
        global_position: report.global_position(),
        outcomes: report
            .outcomes
            .iter()
            .enumerate()
            .map(|(index, o)| v1::EventOutcome {
                index: index as u32,
                accepted: o.accepted(),
                duplicate: matches!(o, Outcome::Duplicate),
                dropped_bot: matches!(o, Outcome::Bot),
                violations: match o {
                    Outcome::Rejected(v) => v
                        .iter()
                        .map(|v| v1::FieldViolation { field: v.field.clone(), description: v.description.clone() })
                        .collect(),
                    _ => Vec::new(),
                },
            })
            .collect(),
    }
}

pub async fn record_events(
    ingest: &Ingest,
    request: Request<v1::RecordEventsRequest>,
) -> Result<Response<v1::RecordEventsResponse>, Status> {
    let peer = request.extensions().get::<axum::extract::ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let (metadata, _, req) = request.into_parts();
    let ctx = command_context(&metadata, "", None)?;
    let header = |name: &str| metadata.get(name).and_then(|v| v.to_str().ok());
    let trusted = peer.is_some_and(|p| ingest.trusted.contains(p));
    let client_ip = ingest.trusted.client_ip(peer, header("x-forwarded-for"));
    let agent = header("user-agent").unwrap_or("").to_owned();

    let site = site_ref(&req.site_id, &req.domain)?;
    check_batch_size(req.events.len(), "events")?;
    let site = ingest.sites.resolve(&site).await.map_err(super::command::failed)?;
    let inputs = req.events.into_iter().map(|e| input(e, client_ip, trusted, &agent)).collect();
    let report = ingest.record(&site, inputs, Mode::Live, &ctx).await.map_err(super::command::failed)?;
    Ok(Response::new(response(&report)))
}
