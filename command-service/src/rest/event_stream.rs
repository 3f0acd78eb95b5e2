//! `GET /v1/events/stream`: a live subscription over HTTP, as NDJSON (one
//! JSON object per line) or, when the client accepts `text/event-stream`,
//! as server-sent events.
//!
//! Both carry the stored events after `after`, then one `caught_up` item,
//! then new events as they commit. Idle connections get a keep-alive (a
//! blank line, an SSE comment) so proxies do not cut them. A failure or the
//! server shutting down ends the stream with a problem item; the client
//! resumes after the last `global_position` it received (SSE clients do so
//! by themselves through `Last-Event-ID`).

use std::{convert::Infallible, time::Duration};

use axum::{
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, HeaderValue, header},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use serde::Serialize;
use serde_json::{Value, json};
use tally_platform::{
    causes::Causes,
    error::{ApiError, PROBLEM_BASE},
};

use super::{
    event_view::{CaughtUpView, EventView},
    events::{after, filter},
    query::QueryParams,
};
use crate::grpc::replay::{Deliveries, Delivery, EventReads, MAX_POSITION};

/// Idle time after which a keep-alive is sent.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Follow the global order live (NDJSON, or SSE with `Accept: text/event-stream`).
#[utoipa::path(
    get, path = "/v1/events/stream", tag = "events",
    params(
        ("after" = Option<u64>, Query, description = "Deliver events after this global position (0 = from the start)"),
        ("category" = Option<String>, Query, description = "Only these categories (repeat or comma-separate)"),
        ("type" = Option<String>, Query, description = "Only these event types (repeat or comma-separate)"),
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this position; overrides `after` (sent by SSE clients on reconnect)"),
    ),
    responses(
        (status = 200, description = "NDJSON: one event (as in `EventView`) per line, then `{\"caught_up\": {\"head_position\": N}}`, then live events; blank lines are keep-alives; a final `{\"error\": problem}` line when the server ends the stream. SSE: unnamed events with `id` = global position, a `caught_up` event, a `problem` event at the end.",
            content((EventView = "application/x-ndjson"), (String = "text/event-stream"))),
        (status = 400, description = "Invalid parameter (problem+json naming it)"),
    )
)]
pub async fn stream(State(reads): State<EventReads>, headers: HeaderMap, q: QueryParams) -> Result<Response, ApiError> {
    q.only(&["after", "category", "type"])?;
    let (mut after, filter) = (after(&q)?, filter(&q)?);
    if let Some(resumed) = last_event_id(&headers)? {
        after = resumed;
    }
    let deliveries = reads.subscribe(after, filter);
    let mut response = if wants_sse(&headers) { sse(deliveries) } else { ndjson(deliveries) };
    // Reverse proxies (nginx) buffer responses unless told not to, which
    // would hold live events back.
    response.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

fn wants_sse(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| range.split(';').next().is_some_and(|mime| mime.trim().eq_ignore_ascii_case("text/event-stream")))
}

fn last_event_id(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(raw) = headers.get("last-event-id") else { return Ok(None) };
    let refuse = || ApiError::field("Last-Event-ID", format!("must be a global position from 0 to {MAX_POSITION}"));
    let value: u64 = raw.to_str().map_err(|_| refuse())?.trim().parse().map_err(|_| refuse())?;
    if value > MAX_POSITION {
        return Err(refuse());
    }
    Ok(Some(value))
}

/// The problem+json members that fit in a stream item.
fn problem(e: &ApiError) -> Value {
    json!({
        "type": format!("{PROBLEM_BASE}{}", e.kind.slug()),
        "title": e.kind.title(),
        "status": e.kind.http_status().as_u16(),
        "detail": e.detail,
    })
}

fn json_line(value: &impl Serialize) -> Bytes {
    match serde_json::to_vec(value) {
        Ok(mut line) => {
            line.push(b'\n');
            Bytes::from(line)
        }
        Err(e) => {
            tracing::error!(error = %Causes(&e), "cannot serialise a stream item");
            json_line(&json!({"error": problem(&ApiError::internal())}))
        }
    }
}

fn ndjson(deliveries: Deliveries) -> Response {
    let lines = futures::stream::unfold(Some(deliveries), |state| async move {
        let mut rx = state?;
        let line = match tokio::time::timeout(KEEP_ALIVE, rx.recv()).await {
            Err(_idle) => Bytes::from_static(b"\n"),
            Ok(None) => return None,
            Ok(Some(Ok(Delivery::Event(event)))) => json_line(&EventView::from(event)),
            Ok(Some(Ok(Delivery::CaughtUp { head_position }))) => {
                json_line(&json!({"caught_up": CaughtUpView { head_position }}))
            }
            // The subscription ends after an error; say why, then stop.
            Ok(Some(Err(e))) => return Some((Ok::<_, Infallible>(json_line(&json!({"error": problem(&e)}))), None)),
        };
        Some((Ok(line), Some(rx)))
    });
    ([(header::CONTENT_TYPE, "application/x-ndjson"), (header::CACHE_CONTROL, "no-cache")], Body::from_stream(lines))
        .into_response()
}

fn sse(deliveries: Deliveries) -> Response {
    let events = futures::stream::unfold(Some(deliveries), |state| async move {
        let mut rx = state?;
        let event = match rx.recv().await? {
            Ok(Delivery::Event(event)) => {
                let id = event.global_position.to_string();
                Event::default().id(id).json_data(EventView::from(event))
            }
            Ok(Delivery::CaughtUp { head_position }) => {
                Event::default().event("caught_up").json_data(CaughtUpView { head_position })
            }
            Err(e) => return Some((Event::default().event("problem").json_data(problem(&e)), None)),
        };
        Some((event, Some(rx)))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (header::HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn sse_is_chosen_by_any_accepted_event_stream_range() {
        assert!(wants_sse(&headers(&[("accept", "text/event-stream")])));
        assert!(wants_sse(&headers(&[("accept", "application/json, Text/Event-Stream;q=0.5")])));
        assert!(!wants_sse(&headers(&[("accept", "application/x-ndjson")])));
        assert!(!wants_sse(&HeaderMap::new()));
    }

    #[test]
    fn last_event_id_is_a_position() {
        assert_eq!(last_event_id(&headers(&[("last-event-id", "42")])).unwrap(), Some(42));
        assert_eq!(last_event_id(&HeaderMap::new()).unwrap(), None);
        let err = last_event_id(&headers(&[("last-event-id", "x")])).unwrap_err();
        assert_eq!(err.violations[0].field, "Last-Event-ID");
        assert!(last_event_id(&headers(&[("last-event-id", "9223372036854775808")])).is_err());
    }
}
