//! `GET /v1/sites/{id}/aggregate|timeseries|breakdown|realtime` and the
//! realtime SSE stream `GET /v1/sites/{id}/realtime/stream`.

use std::{collections::HashMap, convert::Infallible};

use axum::{
    Json,
    extract::{FromRequestParts, Path, State},
    http::request::Parts,
    response::sse::{Event, KeepAlive, Sse},
};
use futures::{Stream, StreamExt};
use tally_platform::error::ApiError;

use super::{
    extract::{MIN_POSITION_HEADER_DOC, MIN_POSITION_PARAM, MIN_POSITION_PARAM_DOC, MinPosition, ReadKey},
    failed,
    stats_dto::{AggregateView, BreakdownRowView, BreakdownView, PointView, RealtimeView, TimeseriesView},
    stats_params::{BreakdownParams, IntervalParams, RangeParams},
};
use crate::{
    input,
    read::{ReadError, Reads},
    stats::{
        Scope, input as si,
        realtime::{HEARTBEAT, updates as realtime_updates},
    },
};

/// The query string, parsed by hand so unknown or repeated parameters are
/// reported by name (`filter` may repeat).
pub struct StatsQuery {
    single: HashMap<String, String>,
    filters: Vec<String>,
}

/// Every parameter some statistics endpoint takes, in the order an error lists them.
fn known() -> impl Iterator<Item = &'static str> {
    SHARED.into_iter().chain(TIMESERIES).chain(BREAKDOWN).chain(["filter", MIN_POSITION_PARAM])
}

impl<S: Send + Sync> FromRequestParts<S> for StatsQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let mut q = StatsQuery { single: HashMap::new(), filters: Vec::new() };
        for (k, v) in url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()) {
            if !known().any(|known| known == k) {
                let known: Vec<&str> = known().collect();
                return Err(ApiError::field(
                    k,
                    format!("is not a parameter of the statistics API; expected one of {}", known.join(", ")),
                ));
            }
            if k == MIN_POSITION_PARAM {
                continue; // read, and checked, by `MinPosition`
            }
            if k == "filter" {
                q.filters.push(v.into_owned());
            } else if q.single.insert(k.clone().into_owned(), v.into_owned()).is_some() {
                return Err(ApiError::field(k, "must be given at most once"));
            }
        }
        Ok(q)
    }
}

/// Parameters every endpoint with a period takes (and `filter`, and `min_position`, which
/// [`MinPosition`] reads).
const SHARED: [&str; 5] = ["period", "start_date", "end_date", "goal", "compare_previous"];
const TIMESERIES: [&str; 1] = ["interval"];
const BREAKDOWN: [&str; 5] = ["dimension", "prop_key", "limit", "after", "order"];

impl StatsQuery {
    fn get(&self, k: &str) -> Option<&str> {
        self.single.get(k).map(String::as_str)
    }

    /// Only the parameters `allowed` (besides the shared ones) may appear.
    fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self.single.keys().find(|k| !SHARED.contains(&k.as_str()) && !allowed.contains(&k.as_str())) {
            Some(k) => Err(ApiError::field(k.clone(), "is not a parameter of this endpoint")),
            None => Ok(()),
        }
    }

    fn scope(&self, id: &str, min_position: Option<u64>) -> Result<Scope, ApiError> {
        let compare_previous = match self.get("compare_previous") {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(ApiError::field("compare_previous", "must be true or false")),
        };
        Ok(Scope {
            site: input::id(id, "id")?,
            period: si::rest_period(self.get("period"), self.get("start_date"), self.get("end_date"))?,
            filters: si::rest_filters(&self.filters)?,
            goal: si::rest_goal(self.get("goal"))?,
            compare_previous,
            min_position,
        })
    }
}

const UNAUTHORIZED: &str = "No read key (`Authorization: Bearer <key_id>.<secret>`), a malformed one, or one that \
                            is not valid for this site (unknown, revoked, another site's, or the site does not exist: \
                            one answer for all); with `WWW-Authenticate: Bearer`";

/// Metrics over the whole range.
#[utoipa::path(
    get, path = "/v1/sites/{id}/aggregate", tag = "stats",
    params(
        ("id" = String, Path, description = "Site id (UUID)"),
        RangeParams,
        ("X-Min-Position" = Option<u64>, Header, description = MIN_POSITION_HEADER_DOC),
    ),
    security(("read_key" = [])),
    responses(
        (status = 200, body = AggregateView),
        (status = 400, description = "A bad parameter (problem+json naming it)"),
        (status = 401, description = UNAUTHORIZED),
    )
)]
pub async fn aggregate(
    State(reads): State<Reads>,
    Path(id): Path<String>,
    MinPosition(min): MinPosition,
    ReadKey(key): ReadKey,
    q: StatsQuery,
) -> Result<Json<AggregateView>, ApiError> {
    q.only(&[])?;
    let scope = q.scope(&id, min)?;
    let access = reads.authorize(scope.site, scope.min_position, &key).await.map_err(failed)?;
    let (ranges, current, previous) = reads.aggregate(&scope, &access).await.map_err(failed)?;
    Ok(Json(AggregateView {
        metrics: current.into(),
        previous: previous.map(Into::into),
        date_range: ranges.current.into(),
        previous_date_range: ranges.previous.map(Into::into),
    }))
}

/// Metrics per local time bucket (`interval`: hour|day|week|month).
#[utoipa::path(
    get, path = "/v1/sites/{id}/timeseries", tag = "stats",
    params(
        ("id" = String, Path, description = "Site id (UUID)"),
        RangeParams, IntervalParams,
        ("X-Min-Position" = Option<u64>, Header, description = MIN_POSITION_HEADER_DOC),
    ),
    security(("read_key" = [])),
    responses((status = 200, body = TimeseriesView), (status = 400), (status = 401, description = UNAUTHORIZED))
)]
pub async fn timeseries(
    State(reads): State<Reads>,
    Path(id): Path<String>,
    MinPosition(min): MinPosition,
    ReadKey(key): ReadKey,
    q: StatsQuery,
) -> Result<Json<TimeseriesView>, ApiError> {
    q.only(&TIMESERIES)?;
    let scope = q.scope(&id, min)?;
    let interval = si::interval(si::rest_interval(q.get("interval"))?, scope.period, "interval")?;
    let access = reads.authorize(scope.site, scope.min_position, &key).await.map_err(failed)?;
    let (_, series) = reads.timeseries(&scope, &access, interval).await.map_err(failed)?;
    let points = |p: Vec<(String, crate::stats::Metrics)>| {
        p.into_iter().map(|(bucket, m)| PointView { bucket, metrics: m.into() }).collect()
    };
    Ok(Json(TimeseriesView { points: points(series.points), previous_points: points(series.previous) }))
}

/// Metrics per value of `dimension` (`prop` with `prop_key`), sorted by
/// `order` (visitors|visits|pageviews|events|value), `limit` rows after `after`.
#[utoipa::path(
    get, path = "/v1/sites/{id}/breakdown", tag = "stats",
    params(
        ("id" = String, Path, description = "Site id (UUID)"),
        RangeParams, BreakdownParams,
        ("X-Min-Position" = Option<u64>, Header, description = MIN_POSITION_HEADER_DOC),
    ),
    security(("read_key" = [])),
    responses((status = 200, body = BreakdownView), (status = 400), (status = 401, description = UNAUTHORIZED))
)]
pub async fn breakdown(
    State(reads): State<Reads>,
    Path(id): Path<String>,
    MinPosition(min): MinPosition,
    ReadKey(key): ReadKey,
    q: StatsQuery,
) -> Result<Json<BreakdownView>, ApiError> {
    q.only(&BREAKDOWN)?;
    let dimension = match q.get("dimension") {
        None => return Err(ApiError::field("dimension", "is required")),
        Some(d) => si::rest_dimension(d, q.get("prop_key"), "dimension")?,
    };
    let size = si::rest_rows(q.get("limit"))?;
    let offset = si::decode_offset(q.get("after").unwrap_or(""), "after")?;
    let order = si::rest_order(q.get("order"))?;
    let scope = q.scope(&id, min)?;
    let access = reads.authorize(scope.site, scope.min_position, &key).await.map_err(failed)?;
    let (_, page) = reads.breakdown(&scope, &access, &dimension, order, offset, size).await.map_err(failed)?;
    Ok(Json(BreakdownView {
        rows: page
            .rows
            .into_iter()
            .map(|r| BreakdownRowView {
                value: r.value,
                metrics: r.metrics.into(),
                previous: r.previous.map(Into::into),
            })
            .collect(),
        next_after: page.next.map(si::encode_offset),
    }))
}

/// Visitors in the last 5 minutes.
#[utoipa::path(
    get, path = "/v1/sites/{id}/realtime", tag = "stats",
    params(
        ("id" = String, Path, description = "Site id (UUID)"),
        ("min_position" = Option<u64>, Query, description = MIN_POSITION_PARAM_DOC),
        ("X-Min-Position" = Option<u64>, Header, description = MIN_POSITION_HEADER_DOC),
    ),
    security(("read_key" = [])),
    responses((status = 200, body = RealtimeView), (status = 400), (status = 401, description = UNAUTHORIZED))
)]
pub async fn realtime(
    State(reads): State<Reads>,
    Path(id): Path<String>,
    MinPosition(min): MinPosition,
    ReadKey(key): ReadKey,
) -> Result<Json<RealtimeView>, ApiError> {
    let site = input::id(&id, "id")?;
    let access = reads.authorize(site, min, &key).await.map_err(failed)?;
    let (visitors, as_of) = reads.realtime(&access).await.map_err(failed)?;
    Ok(Json(RealtimeView { visitors, as_of }))
}

/// Server-sent events: a `realtime` event with a [`RealtimeView`] now, on
/// every change, and at least every 30 seconds. The key is checked again before every count;
/// once it is no longer valid, an `error` event (a problem+json body) ends the stream.
#[utoipa::path(
    get, path = "/v1/sites/{id}/realtime/stream", tag = "stats",
    params(("id" = String, Path, description = "Site id (UUID)")),
    security(("read_key" = [])),
    responses(
        (status = 200, content_type = "text/event-stream", description = "`realtime` events; an `error` event ends \
                                                                           the stream when the key stops being valid"),
        (status = 400),
        (status = 401, description = UNAUTHORIZED),
    )
)]
pub async fn realtime_stream(
    State(reads): State<Reads>,
    Path(id): Path<String>,
    ReadKey(key): ReadKey,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let site = input::id(&id, "id")?;
    let access = reads.authorize(site, None, &key).await.map_err(failed)?;
    let events = realtime_updates(reads, access, key).filter_map(|u| async move {
        match u {
            Ok((visitors, as_of)) => {
                Event::default().event("realtime").json_data(RealtimeView { visitors, as_of }).ok()
            }
            Err(e @ ReadError::Unauthenticated(_)) => {
                Event::default().event("error").json_data(ApiError::from(e).problem()).ok()
            }
            Err(e) => {
                e.log_if_internal();
                None
            }
        }
        .map(Ok)
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(HEARTBEAT)))
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    use super::*;

    /// A generated client only gets the parameters the document lists.
    #[test]
    fn the_openapi_document_lists_each_endpoints_query_parameters() {
        let doc = serde_json::to_value(super::super::openapi::ApiDoc::openapi()).unwrap();
        for (path, own) in [("aggregate", &[][..]), ("timeseries", &TIMESERIES[..]), ("breakdown", &BREAKDOWN[..])] {
            let params = doc["paths"][format!("/v1/sites/{{id}}/{path}")]["get"]["parameters"].as_array().unwrap();
            let mut listed: Vec<&str> =
                params.iter().filter(|p| p["in"] == "query").map(|p| p["name"].as_str().unwrap()).collect();
            listed.sort_unstable();
            let mut taken: Vec<&str> =
                SHARED.iter().chain(own).copied().chain(["filter", MIN_POSITION_PARAM]).collect();
            taken.sort_unstable();
            assert_eq!(listed, taken, "{path}");
        }
    }
}
