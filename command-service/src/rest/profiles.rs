//! `/v1/profiles` write endpoints.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use tally_domain::{Profile, ProfileId};
use tally_platform::error::ApiError;

use super::{command_response, failed};
use super::{
    dto::{CommandResultView, DeleteResponse, ProfileCommandResponse, ProfileFields, ProfileView},
    extract::{JsonBody, JsonPatch, PatchParams, RestContext, parse_id},
};
use crate::app::{Commands, Executed};

fn respond(status: StatusCode, done: &Executed<Profile>) -> Response {
    let body = ProfileCommandResponse {
        profile: ProfileView::from_loaded(&done.loaded),
        result: CommandResultView::from(&done.result),
    };
    let location =
        done.loaded.state.id().filter(|_| status == StatusCode::CREATED).map(|id| format!("/v1/profiles/{id}"));
    command_response(status, body, done.result.stream_version, location)
}

/// Create a profile.
#[utoipa::path(
    post, path = "/v1/profiles", tag = "profiles",
    request_body = ProfileFields,
    params(("Idempotency-Key" = Option<String>, Header, description = "Client command id; a retry returns the first result")),
    responses(
        (status = 201, body = ProfileCommandResponse, description = "Created; a replayed key answers 201 with `replayed: true`"),
        (status = 400, description = "Invalid field (problem+json naming it)"),
        (status = 409, description = "Handle already taken"),
    )
)]
pub async fn create(
    State(commands): State<Commands>,
    RestContext(ctx): RestContext,
    JsonBody(fields): JsonBody<ProfileFields>,
) -> Result<Response, ApiError> {
    let done = commands.profiles.create(fields.into(), &ctx).await.map_err(failed)?;
    Ok(respond(StatusCode::CREATED, &done))
}

/// Update some fields of a profile (JSON merge patch; `null` clears).
#[utoipa::path(
    patch, path = "/v1/profiles/{id}", tag = "profiles",
    request_body = ProfileFields,
    params(
        ("id" = String, Path, description = "Profile id (UUID)"),
        PatchParams,
        ("If-Match" = Option<String>, Header, description = "Expected version (ETag); 409 if stale"),
        ("Idempotency-Key" = Option<String>, Header, description = "Client command id"),
    ),
    responses(
        (status = 200, body = ProfileCommandResponse),
        (status = 400, description = "Invalid field"),
        (status = 404, description = "No such profile"),
        (status = 409, description = "Version conflict (carries current_version) or handle taken"),
    )
)]
pub async fn update(
    State(commands): State<Commands>,
    Path(id): Path<String>,
    Query(params): Query<PatchParams>,
    RestContext(ctx): RestContext,
    patch: JsonPatch,
) -> Result<Response, ApiError> {
    let id: ProfileId = parse_id(&id, "id")?;
    let mask = patch.mask(params.update_mask.as_deref());
    let fields: ProfileFields = patch.into_body()?;
    let done = commands.profiles.update(id, fields.into(), &mask, &ctx).await.map_err(failed)?;
    Ok(respond(StatusCode::OK, &done))
}

/// Delete a profile.
#[utoipa::path(
    delete, path = "/v1/profiles/{id}", tag = "profiles",
    params(
        ("id" = String, Path, description = "Profile id (UUID)"),
        ("If-Match" = Option<String>, Header, description = "Expected version (ETag)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Client command id"),
    ),
    responses((status = 200, body = DeleteResponse), (status = 404, description = "No such profile"))
)]
pub async fn delete(
    State(commands): State<Commands>,
    Path(id): Path<String>,
    RestContext(ctx): RestContext,
) -> Result<Response, ApiError> {
    let id: ProfileId = parse_id(&id, "id")?;
    let done = commands.profiles.delete(id, &ctx).await.map_err(failed)?;
    Ok(axum::Json(DeleteResponse { result: CommandResultView::from(&done.result) }).into_response())
}
