//! `/v1/events` and `/v1/streams/{stream_id}/events`: the event store for
//! REST consumers, mirroring `tally.v1.EventStore` (`ReadAll`, `ReadStream`,
//! and `Subscribe` as NDJSON or server-sent events).

use axum::{
    Json, Router,
    extract::{Path, State},
    routing::get,
};
use tally_event_store::reader::Filter;
use tally_platform::error::ApiError;

use super::{
    event_stream,
    event_view::{EventPage, EventView, StreamEventPage},
    query::QueryParams,
};
use crate::grpc::replay::{self, EventReads, Kind, MAX_POSITION, StreamId};

/// The routes, with their own state (the command routes have theirs).
pub fn router(reads: EventReads) -> Router {
    Router::new()
        .route("/v1/events", get(list))
        .route("/v1/events/stream", get(event_stream::stream))
        .route("/v1/streams/{stream_id}/events", get(read_stream))
        .with_state(reads)
}

/// `limit`: 1 or more, above the maximum coerced to it (as gRPC's `page_size`).
pub(super) fn limit(q: &QueryParams) -> Result<i64, ApiError> {
    let requested = q.number("limit", 1, MAX_POSITION)?.unwrap_or(0);
    replay::page_size(requested as i64, "limit")
}

/// `after`: a global position, 0 (the start) when absent.
pub(super) fn after(q: &QueryParams) -> Result<u64, ApiError> {
    Ok(q.number("after", 0, MAX_POSITION)?.unwrap_or(0))
}

/// `category` and `type`, each repeatable and comma-separated.
pub(super) fn filter(q: &QueryParams) -> Result<Filter, ApiError> {
    replay::filter(q.list("category"), q.list("type"), |kind, _| {
        match kind {
            Kind::Category => "category",
            Kind::EventType => "type",
        }
        .to_owned()
    })
}

/// Read a page of all events in global order.
#[utoipa::path(
    get, path = "/v1/events", tag = "events",
    params(
        ("after" = Option<u64>, Query, description = "Return events after this global position (0 = from the start)"),
        ("limit" = Option<u32>, Query, description = "Page size, 1 or more (default 100; above 1000 means 1000)"),
        ("category" = Option<String>, Query, description = "Only these categories (repeat or comma-separate), e.g. `profile`"),
        ("type" = Option<String>, Query, description = "Only these event types (repeat or comma-separate), e.g. `tally.v1.ProfileCreated`"),
    ),
    responses(
        (status = 200, body = EventPage),
        (status = 400, description = "Invalid parameter (problem+json naming it)"),
    )
)]
pub async fn list(State(reads): State<EventReads>, q: QueryParams) -> Result<Json<EventPage>, ApiError> {
    q.only(&["after", "limit", "category", "type"])?;
    let (after, limit, filter) = (after(&q)?, limit(&q)?, filter(&q)?);
    let page = reads.read_all(after, limit, &filter).await?;
    Ok(Json(EventPage {
        events: page.events.into_iter().map(EventView::from).collect(),
        next_after: page.next_after_position,
        head_position: page.head_position,
    }))
}

/// Read the events of one stream in stream order.
#[utoipa::path(
    get, path = "/v1/streams/{stream_id}/events", tag = "events",
    params(
        ("stream_id" = String, Path, description = "`<category>-<id>`, e.g. `profile-<uuid>`"),
        ("from_version" = Option<u64>, Query, description = "First stream version to return, inclusive (0 or 1 = from the start)"),
        ("limit" = Option<u32>, Query, description = "Page size, 1 or more (default 100; above 1000 means 1000)"),
    ),
    responses(
        (status = 200, body = StreamEventPage, description = "Empty for an unknown stream"),
        (status = 400, description = "Invalid parameter (problem+json naming it)"),
    )
)]
pub async fn read_stream(
    State(reads): State<EventReads>,
    Path(stream_id): Path<String>,
    q: QueryParams,
) -> Result<Json<StreamEventPage>, ApiError> {
    q.only(&["from_version", "limit"])?;
    let stream = StreamId::parse(&stream_id, "stream_id")?;
    let from_version = q.number("from_version", 0, MAX_POSITION)?.unwrap_or(0);
    let page = reads.read_stream(&stream, from_version, limit(&q)?).await?;
    Ok(Json(StreamEventPage {
        events: page.events.into_iter().map(EventView::from).collect(),
        end_of_stream: page.end_of_stream,
        next_version: page.next_version,
    }))
}
