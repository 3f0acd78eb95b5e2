//! The OpenAPI document of the REST API, served at `/openapi.json`.

use axum::Json;
use utoipa::OpenApi;

use super::{dto, profiles, sites, stats, stats_dto};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tally query API",
        description = "Reads: profiles, sites and website statistics from the read model. Pass `X-Min-Position` (a command's \
                       `global_position`) to read your own writes. Errors are RFC 9457 problem+json with \
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
    tags((name = "profiles"), (name = "sites"), (name = "stats"))
)]
pub struct ApiDoc;

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
