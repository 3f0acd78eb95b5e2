//! The REST face of the query-service: the same reads as gRPC, in JSON.
//! Every route is a GET, so HEAD works too.

mod dto;
mod extract;
mod openapi;
mod profiles;
mod sites;
mod stats;
mod stats_dto;

use axum::{Router, routing::get};
use tally_platform::error::ApiError;
use tower_http::timeout::TimeoutLayer;

use crate::read::{ReadError, Reads};

pub use openapi::ApiDoc;

fn failed(e: ReadError) -> ApiError {
    e.log_if_internal();
    ApiError::from(e)
}

/// REST routes, each bounded by `request_timeout`.
pub fn router(reads: Reads, request_timeout: std::time::Duration) -> Router {
    Router::new()
        .route("/v1/profiles", get(profiles::list))
        .route("/v1/profiles/by-handle/{handle}", get(profiles::by_handle))
        .route("/v1/profiles/{id}", get(profiles::get))
        .route("/v1/sites/{id}", get(sites::get))
        .route("/v1/sites/{id}/aggregate", get(stats::aggregate))
        .route("/v1/sites/{id}/timeseries", get(stats::timeseries))
        .route("/v1/sites/{id}/breakdown", get(stats::breakdown))
        .route("/v1/sites/{id}/realtime", get(stats::realtime))
        .route("/openapi.json", get(openapi::serve))
        .layer(TimeoutLayer::with_status_code(http::StatusCode::GATEWAY_TIMEOUT, request_timeout))
        // The live stream outlives any request timeout by design.
        .route("/v1/sites/{id}/realtime/stream", get(stats::realtime_stream))
        .with_state(reads)
}
