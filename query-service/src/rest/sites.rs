//! `GET /v1/sites/{id}`.

use axum::{
    Json,
    extract::{Path, State},
    http::header,
    response::{IntoResponse, Response},
};
use tally_platform::{error::ApiError, http::etag};

use super::{
    dto::SiteView,
    extract::{MIN_POSITION_HEADER_DOC, MIN_POSITION_PARAM_DOC, MinPosition},
    failed,
};
use crate::{input, read::Reads};

/// Get a site by id.
#[utoipa::path(
    get, path = "/v1/sites/{id}", tag = "sites",
    params(
        ("id" = String, Path, description = "Site id (UUID)"),
        ("X-Min-Position" = Option<u64>, Header, description = MIN_POSITION_HEADER_DOC),
        ("min_position" = Option<u64>, Query, description = MIN_POSITION_PARAM_DOC),
    ),
    responses(
        (status = 200, body = SiteView, description = "The site; `ETag` is its version"),
        (status = 400, description = "Invalid id or X-Min-Position (problem+json naming it)"),
        (status = 404, description = "No such site"),
        (status = 503, description = "Not yet projected up to X-Min-Position"),
    )
)]
pub async fn get(
    State(reads): State<Reads>,
    Path(id): Path<String>,
    MinPosition(min): MinPosition,
) -> Result<Response, ApiError> {
    let id = input::id(&id, "id")?;
    let view = SiteView::from(reads.site(id, min).await.map_err(failed)?);
    let tag = etag(view.version);
    let mut response = Json(view).into_response();
    response.headers_mut().insert(header::ETAG, tag);
    Ok(response)
}
