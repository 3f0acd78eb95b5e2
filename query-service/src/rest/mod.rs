//! The REST face of the query-service: the same reads as gRPC, in JSON.
//! Every route is a GET, so HEAD works too.

mod dto;
mod extract;
mod openapi;
mod profiles;
mod sites;
mod stats;
mod stats_dto;
mod stats_params;

use axum::{Router, middleware::map_response, response::Response, routing::get};
use http::{HeaderValue, StatusCode, header::WWW_AUTHENTICATE};
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
        .layer(map_response(challenge))
        .with_state(reads)
}

/// A 401 names the scheme it wants (RFC 9110, 11.6.1); only read keys give 401s here.
async fn challenge(mut response: Response) -> Response {
    if response.status() == StatusCode::UNAUTHORIZED {
        response.headers_mut().entry(WWW_AUTHENTICATE).or_insert(HeaderValue::from_static("Bearer"));
    }
    response
}
