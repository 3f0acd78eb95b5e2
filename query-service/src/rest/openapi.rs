//! The OpenAPI document of the REST API, served at `/openapi.json`.

use axum::Json;
use utoipa::OpenApi;

use super::{dto, profiles, sites};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tally query API",
        description = "Reads: profiles and sites from the read model. Pass `X-Min-Position` (a command's \
                       `global_position`) to read your own writes. Errors are RFC 9457 problem+json with \
                       `errors[].field` for validation failures.",
        license(name = "Apache-2.0")
    ),
    paths(profiles::get, profiles::by_handle, profiles::list, sites::get),
    components(schemas(dto::ProfileView, dto::SiteSummaryView, dto::SiteView, dto::ListProfilesView)),
    tags((name = "profiles"), (name = "sites"))
)]
pub struct ApiDoc;

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
