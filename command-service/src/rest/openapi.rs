//! The OpenAPI document of the REST API, served at `/openapi.json`.

use axum::Json;
use utoipa::OpenApi;

use super::{dto, profiles, sites};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tally command API",
        description = "Writes: profiles and sites. Errors are RFC 9457 problem+json with `errors[].field` for validation failures.",
        license(name = "Apache-2.0")
    ),
    paths(profiles::create, profiles::update, profiles::delete, sites::create, sites::update, sites::delete),
    components(schemas(
        dto::ProfileFields,
        dto::SiteFields,
        dto::ProfileView,
        dto::SiteView,
        dto::CommandResultView,
        dto::ProfileCommandResponse,
        dto::SiteCommandResponse,
        dto::DeleteResponse
    )),
    tags((name = "profiles"), (name = "sites"))
)]
pub struct ApiDoc;

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
