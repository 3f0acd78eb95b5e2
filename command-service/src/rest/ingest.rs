//! Analytics ingest over REST: `POST /v1/events` (a batch, like
//! `RecordEvents`), Plausible's `POST /api/event`, and the authenticated
//! backfill `POST /v1/import/events`.

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
    routing::post,
};
use tally_domain::{FieldViolation, analytics::EventInput};
use tally_platform::error::{ApiError, ErrorKind};

use super::{
    extract::{JsonBody, RestContext},
    failed,
    ingest_dto::{
        EventFields, ImportBody, ImportLine, PlausibleEvent, RecordEventsBody, RecordEventsView, parse_element,
    },
};
use crate::{
    app::analytics::{Ingest, Mode, Outcome, Report, SiteRef},
    grpc::ingest::{check_batch_size, site_ref},
};

pub fn router(ingest: Ingest) -> Router {
    Router::new()
        .route("/v1/events", post(record))
        .route("/api/event", post(plausible).options(preflight))
        .route("/v1/import/events", post(import))
        .with_state(ingest)
}

/// Where a request came from: the peer, the forwarded-for chain and the UA.
pub struct Origin {
    peer: Option<IpAddr>,
    forwarded_for: Option<String>,
    user_agent: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let header = |name| parts.headers.get(name).and_then(|v: &http::HeaderValue| v.to_str().ok());
        Ok(Origin {
            peer: parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()),
            forwarded_for: header("x-forwarded-for").map(str::to_owned),
            user_agent: header("user-agent").unwrap_or("").to_owned(),
        })
    }
}

impl Origin {
    fn client_ip(&self, ingest: &Ingest) -> String {
        ingest.trusted.client_ip(self.peer, self.forwarded_for.as_deref()).map(|ip| ip.to_string()).unwrap_or_default()
    }

    fn trusted(&self, ingest: &Ingest) -> bool {
        self.peer.is_some_and(|p| ingest.trusted.contains(p))
    }
}

/// Prefixes each violation with the event's index, for a whole-request error.
fn indexed(report: &Report, prefix: &str) -> Vec<tally_platform::error::FieldViolation> {
    report
        .outcomes
        .iter()
        .enumerate()
        .flat_map(|(i, o)| match o {
            Outcome::Rejected(v) => v
                .iter()
                .map(|v| tally_platform::error::FieldViolation {
                    field: format!("{prefix}[{i}].{}", v.field),
                    message: v.description.clone(),
                })
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// 200 with per-event outcomes; 400 naming the fields when every event was
/// rejected (nothing was stored and only the client can fix it).
fn batch_answer(report: &Report, prefix: &str) -> Response {
    if !report.outcomes.is_empty() && report.rejected() as usize == report.outcomes.len() {
        return ApiError::invalid(indexed(report, prefix)).into_response();
    }
    (StatusCode::OK, Json(RecordEventsView::from(report))).into_response()
}

/// Record a batch of analytics events for one site.
#[utoipa::path(
    post, path = "/v1/events", tag = "analytics",
    request_body = RecordEventsBody,
    responses(
        (status = 200, body = RecordEventsView, description = "Per-event outcomes; valid events are recorded even when others are rejected"),
        (status = 400, description = "Malformed request, more than 1,000 events, or every event invalid (fields named `events[i].field`)"),
        (status = 404, description = "No such site"),
        (status = 413, description = "Body over 1 MB"),
    )
)]
pub async fn record(
    State(ingest): State<Ingest>,
    origin: Origin,
    RestContext(ctx): RestContext,
    JsonBody(body): JsonBody<RecordEventsBody>,
) -> Result<Response, ApiError> {
    let site = site_ref(&body.site_id, &body.domain)?;
    check_batch_size(body.events.len(), "events")?;
    let site = ingest.sites.resolve(&site).await.map_err(failed)?;
    let (client_ip, trusted) = (origin.client_ip(&ingest), origin.trusted(&ingest));
    let inputs = body
        .events
        .into_iter()
        .map(|v| parse_element::<EventFields>(v).map(|e| e.into_input(client_ip.clone(), trusted, &origin.user_agent)))
        .collect();
    let report = ingest.record(&site, inputs, Mode::Live, &ctx).await.map_err(failed)?;
    Ok(batch_answer(&report, "events"))
}

/// The body as bytes whatever its content type (Plausible's script sends
/// `text/plain` to avoid a CORS preflight), over-size answered with 413.
pub struct AnyBody(Bytes);

impl<S: Send + Sync> FromRequest<S> for AnyBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state).await.map(AnyBody).map_err(|rejection| match rejection {
            BytesRejection::FailedToBufferBody(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::new(ErrorKind::PayloadTooLarge, "request body exceeds the size limit")
            }
            other => ApiError::field("body", other.body_text()),
        })
    }
}

fn invalid(violations: Vec<FieldViolation>) -> ApiError {
    ApiError::invalid(
        violations
            .into_iter()
            .map(|v| tally_platform::error::FieldViolation { field: v.field, message: v.description })
            .collect(),
    )
}

/// Plausible-compatible single event (Plausible's Events API).
#[utoipa::path(
    post, path = "/api/event", tag = "analytics",
    request_body(content = PlausibleEvent, content_type = "text/plain"),
    params(
        ("User-Agent" = String, Header, description = "The visitor's browser; used for the visitor hash and classification, never stored"),
        ("X-Forwarded-For" = Option<String>, Header, description = "Honoured from trusted proxies only (`ingest.trusted_proxies`)"),
    ),
    responses(
        (status = 202, description = "Accepted (also for a dropped bot, flagged by `X-Tally-Dropped: bot`)"),
        (status = 400, description = "Invalid field (problem+json naming it)"),
        (status = 404, description = "No site is registered for `domain`"),
        (status = 413, description = "Body over 1 MB"),
    )
)]
pub async fn plausible(
    State(ingest): State<Ingest>,
    origin: Origin,
    headers: HeaderMap,
    AnyBody(bytes): AnyBody,
) -> Result<Response, ApiError> {
    let ctx = super::extract::context_from_headers(&headers)?;
    let value: serde_json::Value = super::extract::parse_json(&bytes)?;
    let event: PlausibleEvent = parse_element(value).map_err(invalid)?;
    let domains: Vec<String> =
        event.domain.split(',').map(str::trim).filter(|d| !d.is_empty()).map(str::to_owned).collect();
    if domains.is_empty() {
        return Err(ApiError::field("domain", "is required"));
    }
    let mut sites = Vec::with_capacity(domains.len());
    for domain in domains {
        sites.push(ingest.sites.resolve(&SiteRef::Domain(domain)).await.map_err(failed)?);
    }
    let input = event.into_input(origin.client_ip(&ingest), &origin.user_agent).map_err(invalid)?;
    let mut dropped = false;
    for site in &sites {
        let report = ingest.record(site, vec![Ok(input.clone())], Mode::Live, &ctx).await.map_err(failed)?;
        match report.outcomes.first() {
            Some(Outcome::Rejected(v)) => return Err(invalid(v.clone())),
            Some(Outcome::Bot) => dropped = true,
            _ => {}
        }
    }
    let mut response = (StatusCode::ACCEPTED, "ok").into_response();
    if dropped {
        response.headers_mut().insert("x-tally-dropped", http::HeaderValue::from_static("bot"));
    }
    response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, http::HeaderValue::from_static("*"));
    Ok(response)
}

/// CORS preflight of `/api/event`: trackers post from every site's own
/// origin, as to Plausible, and ingest is public per site anyway. (One route,
/// three fixed headers: a CORS layer would be more machinery than policy.)
async fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, http::HeaderValue::from_static("*"));
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, http::HeaderValue::from_static("POST, OPTIONS"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, http::HeaderValue::from_static("content-type"));
    h.insert(header::ACCESS_CONTROL_MAX_AGE, http::HeaderValue::from_static("86400"));
    response
}

pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    tally_platform::http::bearer(headers.get(header::AUTHORIZATION)?.to_str().ok()?)
}

/// Backfill: import raw log lines with their original timestamps.
#[utoipa::path(
    post, path = "/v1/import/events", tag = "analytics",
    request_body = ImportBody,
    security(("admin_token" = [])),
    responses(
        (status = 200, body = RecordEventsView, description = "Per-line outcomes, in request order"),
        (status = 400, description = "Malformed request or more than 1,000 lines"),
        (status = 401, description = "Missing or wrong token"),
        (status = 403, description = "Backfill disabled (no admin token configured)"),
        (status = 413, description = "Body over 1 MB"),
    )
)]
pub async fn import(
    State(ingest): State<Ingest>,
    headers: HeaderMap,
    RestContext(ctx): RestContext,
    JsonBody(body): JsonBody<ImportBody>,
) -> Result<Response, ApiError> {
    ingest.check_admin(bearer(&headers)).map_err(|r| r.into_api_error("backfill"))?;
    check_batch_size(body.lines.len(), "lines")?;
    let mut outcomes: Vec<Option<Outcome>> = vec![None; body.lines.len()];
    // Lines grouped by domain, keeping their indices, so each site gets one
    // append and the answer keeps request order.
    let mut by_domain: HashMap<String, Vec<(usize, EventInput)>> = HashMap::new();
    for (i, value) in body.lines.into_iter().enumerate() {
        match parse_element::<ImportLine>(value).and_then(ImportLine::into_input) {
            Ok((domain, input)) if domain.trim().is_empty() => {
                let _ = input;
                let why = "is required (or a `url` with a host)";
                outcomes[i] = Some(Outcome::Rejected(vec![FieldViolation::new("domain", why)]));
            }
            Ok((domain, input)) => by_domain.entry(domain.trim().to_ascii_lowercase()).or_default().push((i, input)),
            Err(v) => outcomes[i] = Some(Outcome::Rejected(v)),
        }
    }
    for (domain, lines) in by_domain {
        let site = match ingest.sites.resolve(&SiteRef::Domain(domain.clone())).await {
            Ok(site) => site,
            Err(crate::app::AppError::Domain(tally_domain::DomainError::NotFound { .. })) => {
                let v = FieldViolation::new("domain", format!("no site is registered for {domain:?}"));
                for (i, _) in lines {
                    outcomes[i] = Some(Outcome::Rejected(vec![v.clone()]));
                }
                continue;
            }
            Err(e) => return Err(failed(e)),
        };
        let (indices, inputs): (Vec<usize>, Vec<_>) = lines.into_iter().map(|(i, e)| (i, Ok(e))).unzip();
        let report = ingest.record(&site, inputs, Mode::Backfill, &ctx).await.map_err(failed)?;
        for (i, o) in indices.into_iter().zip(report.outcomes) {
            outcomes[i] = Some(o);
        }
    }
    // Every index was filled above; the fallback only keeps this panic-free.
    let missing = || Outcome::Rejected(vec![FieldViolation::new("line", "was not processed; send it again")]);
    let report = Report { outcomes: outcomes.into_iter().map(|o| o.unwrap_or_else(missing)).collect() };
    // Always 200: an import tool wants the per-line report, even when every
    // line of a batch was bad.
    Ok((StatusCode::OK, Json(RecordEventsView::from(&report))).into_response())
}
