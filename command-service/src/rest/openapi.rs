//! The OpenAPI document of the REST API, served at `/openapi.json`.

use axum::Json;
use utoipa::OpenApi;

use super::{dto, event_stream, event_view, events, profiles, sites};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tally command API",
        description = "Writes: profiles and sites; reads of the event store (`/v1/events`). Errors are RFC 9457 problem+json with `errors[].field` for validation failures.",
        license(name = "Apache-2.0")
    ),
    paths(
        profiles::create,
        profiles::update,
        profiles::delete,
        sites::create,
        sites::update,
        sites::delete,
        events::list,
        events::read_stream,
        event_stream::stream
    ),
    components(schemas(
        dto::ProfileFields,
        dto::SiteFields,
        dto::ProfileView,
        dto::SiteView,
        dto::CommandResultView,
        dto::ProfileCommandResponse,
        dto::SiteCommandResponse,
        dto::DeleteResponse,
        event_view::EventView,
        event_view::MetadataView,
        event_view::EventPage,
        event_view::StreamEventPage,
        event_view::CaughtUpView
    )),
    tags((name = "profiles"), (name = "sites"), (name = "events", description = "The event store, for consumers: pages and live streams"))
)]
pub struct ApiDoc;

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
