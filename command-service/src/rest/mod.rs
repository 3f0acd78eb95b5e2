//! The REST face of the command-service: the same commands as gRPC, in JSON,
//! and the event store's reads (`/v1/events`).

mod dto;
mod event_data;
mod event_stream;
mod event_view;
mod events;
mod extract;
mod ingest;
mod ingest_dto;
mod openapi;
mod profiles;
mod query;
mod read_keys;
mod sites;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{patch, post},
};
use tower_http::timeout::TimeoutLayer;

use crate::{
    app::{Commands, analytics::Ingest},
    grpc::replay::EventReads,
};

pub use openapi::ApiDoc;

/// A command's answer: the JSON body, the new stream version as `ETag`, and
/// for a creation the new resource's `Location`.
fn command_response(
    status: http::StatusCode,
    body: impl serde::Serialize,
    version: u64,
    location: Option<String>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut response = (status, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(http::header::ETAG, tally_platform::http::etag(version));
    if let Some(location) = location.and_then(|l| http::HeaderValue::from_str(&l).ok()) {
        headers.insert(http::header::LOCATION, location);
    }
    response
}

/// Maps an application error for a REST client. The idempotency key is a
/// header here, so a violation on `command_id` is reported under its name.
fn failed(e: crate::app::AppError) -> tally_platform::error::ApiError {
    e.log_if_internal();
    let mut err = tally_platform::error::ApiError::from(e);
    for v in &mut err.violations {
        if v.field == "command_id" {
            v.field = "Idempotency-Key".to_owned();
        }
    }
    err.detail = err.detail.replace("command_id:", "Idempotency-Key:");
    err
}

/// REST routes; `max_body_bytes` bounds every JSON body (larger gets 413).
/// The timeout bounds the time to the response head, so live event streams
/// are not cut by it.
pub fn router(
    commands: Commands,
    reads: EventReads,
    ingest: Ingest,
    max_body_bytes: usize,
    request_timeout: std::time::Duration,
) -> Router {
    Router::new()
        .route("/v1/profiles", post(profiles::create))
        .route("/v1/profiles/{id}", patch(profiles::update).delete(profiles::delete))
        .route("/v1/sites", post(sites::create))
        .route("/v1/sites/{id}", patch(sites::update).delete(sites::delete))
        .route("/openapi.json", axum::routing::get(openapi::serve))
        .with_state(commands.clone())
        .merge(read_keys::router(commands, ingest.clone()))
        .merge(events::router(reads))
        .merge(ingest::router(ingest))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(TimeoutLayer::with_status_code(http::StatusCode::GATEWAY_TIMEOUT, request_timeout))
}
