//! The OpenAPI document of the REST API, served at `/openapi.json`.

use axum::Json;
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use super::{dto, profiles, sites, stats, stats_dto};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tally query API",
        description = "Reads: profiles, sites and website statistics from the read model. Pass `X-Min-Position` (a command's \
                       `global_position`) to read your own writes. Statistics need a read key of their site \
                       (`Authorization: Bearer <key_id>.<secret>`). Errors are RFC 9457 problem+json with \
                       `errors[].field` for validation failures.",
        license(name = "Apache-2.0")
    ),
    paths(
        profiles::get,
        profiles::by_handle,
        profiles::list,
        sites::get,
        stats::aggregate,
        stats::timeseries,
        stats::breakdown,
        stats::realtime,
        stats::realtime_stream
    ),
    components(schemas(
        dto::ProfileView,
        dto::SiteSummaryView,
        dto::SiteView,
        dto::ListProfilesView,
        stats_dto::MetricsView,
        stats_dto::DateRangeView,
        stats_dto::AggregateView,
        stats_dto::PointView,
        stats_dto::TimeseriesView,
        stats_dto::BreakdownRowView,
        stats_dto::BreakdownView,
        stats_dto::RealtimeView
    )),
    modifiers(&ReadKeyScheme),
    tags((name = "profiles"), (name = "sites"), (name = "stats"))
)]
pub struct ApiDoc;

/// The `read_key` scheme the statistics paths name in `security`.
struct ReadKeyScheme;

impl Modify for ReadKeyScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("<key_id>.<secret>")
            .description(Some(
                "A per-site read key issued by the command-service: `Authorization: Bearer <key_id>.<secret>` (16 \
                 lowercase hex digits, a dot, 43 base64url characters). A key reads its own site only.",
            ))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("read_key", SecurityScheme::Http(scheme));
    }
}

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
