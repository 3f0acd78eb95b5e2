//! The OpenAPI document of the REST API, served at `/openapi.json`.

use axum::Json;
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use super::{dto, event_stream, event_view, events, ingest, ingest_dto, profiles, read_keys, sites};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tally command API",
        description = "Writes: profiles, sites and analytics events; reads of the event store (`/v1/events`). Errors are RFC 9457 problem+json with `errors[].field` for validation failures.",
        license(name = "Apache-2.0")
    ),
    paths(
        profiles::create,
        profiles::update,
        profiles::delete,
        sites::create,
        sites::update,
        sites::delete,
        read_keys::issue,
        read_keys::revoke,
        events::list,
        events::read_stream,
        event_stream::stream,
        ingest::record,
        ingest::plausible,
        ingest::import
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
        read_keys::ReadKeyFields,
        read_keys::IssuedKeyView,
        read_keys::RevokedKeyView,
        event_view::EventView,
        event_view::MetadataView,
        event_view::EventPage,
        event_view::StreamEventPage,
        event_view::CaughtUpView,
        ingest_dto::RecordEventsBody,
        ingest_dto::EventFields,
        ingest_dto::RevenueFields,
        ingest_dto::RecordEventsView,
        ingest_dto::EventOutcomeView,
        ingest_dto::ViolationView,
        ingest_dto::PlausibleEvent,
        ingest_dto::ImportBody,
        ingest_dto::ImportLine
    )),
    modifiers(&AdminTokenScheme),
    tags((name = "profiles"), (name = "sites"), (name = "events", description = "The event store, for consumers: pages and live streams"), (name = "analytics", description = "Analytics ingest: batches, Plausible-compatible single events, backfill"))
)]
pub struct ApiDoc;

/// The `admin_token` scheme the operator-only paths (read keys, backfill) name in `security`.
/// A scheme rather than an `Authorization` header parameter: OpenAPI tools ignore header
/// parameters of that name, so a generated client would never send it.
struct AdminTokenScheme;

impl Modify for AdminTokenScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "The command-service's admin token (`ingest.admin_token`, `TALLY_INGEST__ADMIN_TOKEN`): \
                 `Authorization: Bearer <token>`. Without one configured these paths answer 403.",
            ))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("admin_token", SecurityScheme::Http(scheme));
    }
}

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
