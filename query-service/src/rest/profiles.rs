//! `GET /v1/profiles…` read endpoints.

use axum::{
    Json,
    extract::{Path, State},
    http::header,
    response::{IntoResponse, Response},
};
use tally_platform::{error::ApiError, http::etag};

use super::{
    dto::{ListProfilesView, ProfileView},
    extract::{ListQuery, MIN_POSITION_HEADER_DOC, MIN_POSITION_PARAM_DOC, MinPosition},
    failed,
};
use crate::{input, read::Reads};

fn respond(view: ProfileView) -> Response {
    let tag = etag(view.version);
    let mut response = Json(view).into_response();
    response.headers_mut().insert(header::ETAG, tag);
    response
}

/// Get a profile by id.
#[utoipa::path(
    get, path = "/v1/profiles/{id}", tag = "profiles",
    params(
        ("id" = String, Path, description = "Profile id (UUID)"),
        ("X-Min-Position" = Option<u64>, Header, description = MIN_POSITION_HEADER_DOC),
        ("min_position" = Option<u64>, Query, description = MIN_POSITION_PARAM_DOC),
    ),
    responses(
        (status = 200, body = ProfileView, description = "The profile; `ETag` is its version"),
        (status = 400, description = "Invalid id or X-Min-Position (problem+json naming it)"),
        (status = 404, description = "No such profile"),
        (status = 503, description = "Not yet projected up to X-Min-Position; carries projected_position, min_position, lag and Retry-After"),
    )
)]
pub async fn get(
    State(reads): State<Reads>,
    Path(id): Path<String>,
    MinPosition(min): MinPosition,
) -> Result<Response, ApiError> {
    let id = input::id(&id, "id")?;
    let found = reads.profile(id, min).await.map_err(failed)?;
    Ok(respond(found.into()))
}

/// Get a profile by handle (case-insensitive).
#[utoipa::path(
    get, path = "/v1/profiles/by-handle/{handle}", tag = "profiles",
    params(
        ("handle" = String, Path, description = "The profile's handle"),
        ("X-Min-Position" = Option<u64>, Header, description = MIN_POSITION_HEADER_DOC),
        ("min_position" = Option<u64>, Query, description = MIN_POSITION_PARAM_DOC),
    ),
    responses(
        (status = 200, body = ProfileView, description = "The profile; `ETag` is its version"),
        (status = 400, description = "Not a valid handle, or invalid X-Min-Position"),
        (status = 404, description = "No profile has this handle"),
        (status = 503, description = "Not yet projected up to X-Min-Position"),
    )
)]
pub async fn by_handle(
    State(reads): State<Reads>,
    Path(handle): Path<String>,
    MinPosition(min): MinPosition,
) -> Result<Response, ApiError> {
    let handle = input::handle(&handle, "handle")?;
    let found = reads.profile_by_handle(&handle, min).await.map_err(failed)?;
    Ok(respond(found.into()))
}

/// List profiles in id order (oldest first), one page at a time.
#[utoipa::path(
    get, path = "/v1/profiles", tag = "profiles",
    params(
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 500 (default 50)"),
        ("after" = Option<String>, Query, description = "`next_after` of the previous page"),
        ("X-Min-Position" = Option<u64>, Header, description = MIN_POSITION_HEADER_DOC),
        ("min_position" = Option<u64>, Query, description = MIN_POSITION_PARAM_DOC),
    ),
    responses(
        (status = 200, body = ListProfilesView),
        (status = 400, description = "Invalid limit, after or X-Min-Position (problem+json naming it)"),
        (status = 503, description = "Not yet projected up to X-Min-Position"),
    )
)]
pub async fn list(
    State(reads): State<Reads>,
    ListQuery(page): ListQuery,
    MinPosition(min): MinPosition,
) -> Result<Json<ListProfilesView>, ApiError> {
    let page = reads.profiles(page, min).await.map_err(failed)?;
    Ok(Json(page.into()))
}
