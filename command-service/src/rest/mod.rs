//! The REST face of the command-service: the same commands as gRPC, in JSON.

mod dto;
mod extract;
mod openapi;
mod profiles;
mod sites;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{patch, post},
};
use tower_http::timeout::TimeoutLayer;

use crate::app::Commands;

pub use openapi::ApiDoc;

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
pub fn router(commands: Commands, max_body_bytes: usize, request_timeout: std::time::Duration) -> Router {
    Router::new()
        .route("/v1/profiles", post(profiles::create))
        .route("/v1/profiles/{id}", patch(profiles::update).delete(profiles::delete))
        .route("/v1/sites", post(sites::create))
        .route("/v1/sites/{id}", patch(sites::update).delete(sites::delete))
        .route("/openapi.json", axum::routing::get(openapi::serve))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(TimeoutLayer::with_status_code(http::StatusCode::GATEWAY_TIMEOUT, request_timeout))
        .with_state(commands)
}
