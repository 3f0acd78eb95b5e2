//! The statistics RPCs: proto in, validated scope, proto out.

use std::pin::Pin;

use futures::Stream;
use tally_platform::error::ApiError;
use tally_proto::{convert::to_timestamp, v1};
use tonic::{Status, metadata::MetadataMap};

use crate::{
    input,
    read::Reads,
    stats::{
        DateRange, Metrics, Scope,
        access::{AUTHORIZATION, Presented},
        input as si,
        realtime::updates as realtime_updates,
    },
};

/// The read key of a call's `authorization` metadata.
pub fn read_key(metadata: &MetadataMap) -> Presented {
    Presented::parse(metadata.get(AUTHORIZATION).map(|v| v.as_encoded_bytes()))
}

pub type RealtimeStream = Pin<Box<dyn Stream<Item = Result<v1::RealtimeResponse, Status>> + Send>>;

fn bad(e: ApiError) -> Status {
    e.into()
}

#[allow(clippy::too_many_arguments)]
fn scope(
    site_id: &str,
    period: i32,
    date_range: Option<&v1::DateRange>,
    filters: Vec<v1::Filter>,
    compare_previous: bool,
    goal: Option<v1::Goal>,
    min_position: Option<u64>,
) -> Result<Scope, Status> {
    Ok(Scope {
        site: input::id(site_id, "site_id").map_err(bad)?,
        period: si::grpc_period(period, date_range).map_err(bad)?,
        filters: si::grpc_filters(filters).map_err(bad)?,
        goal: si::grpc_goal(goal).map_err(bad)?,
        compare_previous,
        min_position,
    })
}

pub fn metrics(m: Metrics) -> v1::Metrics {
    v1::Metrics {
        visitors: m.visitors,
        visits: m.visits,
        pageviews: m.pageviews,
        views_per_visit: m.views_per_visit,
        bounce_rate: m.bounce_rate,
        visit_duration: m.visit_duration,
        events: m.events,
        conversion_rate: m.conversion_rate,
    }
}

fn range(r: DateRange) -> v1::DateRange {
    v1::DateRange { start_date: r.start.format("%Y-%m-%d").to_string(), end_date: r.end.format("%Y-%m-%d").to_string() }
}

fn failed(e: crate::read::ReadError) -> Status {
    e.log_if_internal();
    ApiError::from(e).into()
}

pub async fn aggregate(
    reads: &Reads,
    key: Presented,
    r: v1::AggregateRequest,
) -> Result<v1::AggregateResponse, Status> {
    let scope =
        scope(&r.site_id, r.period, r.date_range.as_ref(), r.filters, r.compare_previous, r.goal, r.min_position)?;
    let access = reads.authorize(scope.site, scope.min_position, &key).await.map_err(failed)?;
    let (ranges, current, previous) = reads.aggregate(&scope, &access).await.map_err(failed)?;
    Ok(v1::AggregateResponse {
        metrics: Some(metrics(current)),
        previous: previous.map(metrics),
        date_range: Some(range(ranges.current)),
        previous_date_range: ranges.previous.map(range),
    })
}

pub async fn timeseries(
    reads: &Reads,
    key: Presented,
    r: v1::TimeseriesRequest,
) -> Result<v1::TimeseriesResponse, Status> {
    let scope =
        scope(&r.site_id, r.period, r.date_range.as_ref(), r.filters, r.compare_previous, r.goal, r.min_position)?;
    let interval = si::interval(si::grpc_interval(r.interval).map_err(bad)?, scope.period, "interval").map_err(bad)?;
    let access = reads.authorize(scope.site, scope.min_position, &key).await.map_err(failed)?;
    let (_, series) = reads.timeseries(&scope, &access, interval).await.map_err(failed)?;
    let points = |p: Vec<(String, Metrics)>| {
        p.into_iter().map(|(bucket, m)| v1::TimeseriesPoint { bucket, metrics: Some(metrics(m)) }).collect()
    };
    Ok(v1::TimeseriesResponse { points: points(series.points), previous_points: points(series.previous) })
}

pub async fn breakdown(
    reads: &Reads,
    key: Presented,
    r: v1::BreakdownRequest,
) -> Result<v1::BreakdownResponse, Status> {
    let dimension = si::grpc_dimension(r.dimension, &r.prop_key, "dimension", "prop_key").map_err(bad)?;
    let size = si::rows(r.page_size).map_err(bad)?;
    let offset = si::decode_offset(&r.page_token, "page_token").map_err(bad)?;
    let order = si::grpc_order(r.order).map_err(bad)?;
    let scope =
        scope(&r.site_id, r.period, r.date_range.as_ref(), r.filters, r.compare_previous, r.goal, r.min_position)?;
    let access = reads.authorize(scope.site, scope.min_position, &key).await.map_err(failed)?;
    let (_, page) = reads.breakdown(&scope, &access, &dimension, order, offset, size).await.map_err(failed)?;
    Ok(v1::BreakdownResponse {
        rows: page
            .rows
            .into_iter()
            .map(|row| v1::BreakdownRow {
                value: row.value,
                metrics: Some(metrics(row.metrics)),
                previous: row.previous.map(metrics),
            })
            .collect(),
        next_page_token: page.next.map(si::encode_offset).unwrap_or_default(),
    })
}

pub async fn realtime(reads: &Reads, key: Presented, r: v1::RealtimeRequest) -> Result<v1::RealtimeResponse, Status> {
    let site = input::id(&r.site_id, "site_id").map_err(bad)?;
    let access = reads.authorize(site, r.min_position, &key).await.map_err(failed)?;
    let (visitors, as_of) = reads.realtime(&access).await.map_err(failed)?;
    Ok(v1::RealtimeResponse { visitors, as_of: Some(to_timestamp(as_of)) })
}

/// The key is checked up front, and again before every count: a stream whose key is revoked
/// (or whose site is deleted) ends with UNAUTHENTICATED.
pub async fn stream_realtime(reads: &Reads, key: Presented, r: v1::RealtimeRequest) -> Result<RealtimeStream, Status> {
    // Checked up front, so a bad site, key or a stale read model fails the call
    // rather than the stream.
    let site = input::id(&r.site_id, "site_id").map_err(bad)?;
    let access = reads.authorize(site, r.min_position, &key).await.map_err(failed)?;
    let updates = futures::StreamExt::map(realtime_updates(reads.clone(), access, key), |u| match u {
        Ok((n, at)) => Ok(v1::RealtimeResponse { visitors: n, as_of: Some(to_timestamp(at)) }),
        Err(e) => Err(failed(e)),
    });
    Ok(Box::pin(updates))
}
