//! `/v1/sites` write endpoints.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use tally_domain::{Site, SiteId};
use tally_platform::error::ApiError;

use super::{command_response, failed};
use super::{
    dto::{CommandResultView, DeleteResponse, SiteCommandResponse, SiteFields, SiteView},
    extract::{JsonBody, JsonPatch, PatchParams, RestContext, parse_id},
};
use crate::app::{Commands, Executed};

fn respond(status: StatusCode, done: &Executed<Site>) -> Response {
    let body = SiteCommandResponse {
        site: SiteView::from_loaded(&done.loaded),
        result: CommandResultView::from(&done.result),
    };
    let location = done.loaded.state.id().filter(|_| status == StatusCode::CREATED).map(|id| format!("/v1/sites/{id}"));
    command_response(status, body, done.result.stream_version, location)
}

/// Register a site for an existing profile.
#[utoipa::path(
    post, path = "/v1/sites", tag = "sites",
    request_body = SiteFields,
    params(("Idempotency-Key" = Option<String>, Header, description = "Client command id; a retry returns the first result")),
    responses(
        (status = 201, body = SiteCommandResponse, description = "Created; a replayed key answers 201 with `replayed: true`"),
        (status = 400, description = "Invalid field (problem+json naming it)"),
        (status = 409, description = "Domain already registered"),
    )
)]
pub async fn create(
    State(commands): State<Commands>,
    RestContext(ctx): RestContext,
    JsonBody(fields): JsonBody<SiteFields>,
) -> Result<Response, ApiError> {
    let done = commands.sites.register(fields.into(), &ctx).await.map_err(failed)?;
    Ok(respond(StatusCode::CREATED, &done))
}

/// Update some fields of a site (JSON merge patch; `null` clears).
#[utoipa::path(
    patch, path = "/v1/sites/{id}", tag = "sites",
    request_body = SiteFields,
    params(
        ("id" = String, Path, description = "Site id (UUID)"),
        PatchParams,
        ("If-Match" = Option<String>, Header, description = "Expected version (ETag); 409 if stale"),
        ("Idempotency-Key" = Option<String>, Header, description = "Client command id"),
    ),
    responses(
        (status = 200, body = SiteCommandResponse),
        (status = 400, description = "Invalid field"),
        (status = 404, description = "No such site"),
        (status = 409, description = "Version conflict (carries current_version) or domain taken"),
    )
)]
pub async fn update(
    State(commands): State<Commands>,
    Path(id): Path<String>,
    Query(params): Query<PatchParams>,
    RestContext(ctx): RestContext,
    patch: JsonPatch,
) -> Result<Response, ApiError> {
    let id: SiteId = parse_id(&id, "id")?;
    let mask = patch.mask(params.update_mask.as_deref());
    let fields: SiteFields = patch.into_body()?;
    let done = commands.sites.update(id, fields.into(), &mask, &ctx).await.map_err(failed)?;
    Ok(respond(StatusCode::OK, &done))
}

/// Delete a site.
#[utoipa::path(
    delete, path = "/v1/sites/{id}", tag = "sites",
    params(
        ("id" = String, Path, description = "Site id (UUID)"),
        ("If-Match" = Option<String>, Header, description = "Expected version (ETag)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Client command id"),
    ),
    responses((status = 200, body = DeleteResponse), (status = 404, description = "No such site"))
)]
pub async fn delete(
    State(commands): State<Commands>,
    Path(id): Path<String>,
    RestContext(ctx): RestContext,
) -> Result<Response, ApiError> {
    let id: SiteId = parse_id(&id, "id")?;
    let done = commands.sites.delete(id, &ctx).await.map_err(failed)?;
    Ok(axum::Json(DeleteResponse { result: CommandResultView::from(&done.result) }).into_response())
}
