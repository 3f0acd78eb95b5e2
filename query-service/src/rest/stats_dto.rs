//! REST bodies of the statistics API (the gRPC messages in snake_case).

use serde::Serialize;
use utoipa::ToSchema;

use crate::stats::{DateRange, Metrics};

/// Metrics; `bounce_rate` is a whole percent and `conversion_rate` has two
/// decimals in REST (gRPC carries them unrounded).
#[derive(Debug, Serialize, ToSchema)]
pub struct MetricsView {
    pub visitors: u64,
    pub visits: u64,
    pub pageviews: u64,
    pub views_per_visit: f64,
    pub bounce_rate: f64,
    /// Seconds.
    pub visit_duration: f64,
    pub events: u64,
    pub conversion_rate: f64,
}

impl From<Metrics> for MetricsView {
    fn from(m: Metrics) -> Self {
        MetricsView {
            visitors: m.visitors,
            visits: m.visits,
            pageviews: m.pageviews,
            views_per_visit: m.views_per_visit,
            bounce_rate: m.bounce_rate.round(),
            visit_duration: m.visit_duration,
            events: m.events,
            conversion_rate: (m.conversion_rate * 100.0).round() / 100.0,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DateRangeView {
    pub start_date: String,
    pub end_date: String,
}

impl From<DateRange> for DateRangeView {
    fn from(r: DateRange) -> Self {
        DateRangeView {
            start_date: r.start.format("%Y-%m-%d").to_string(),
            end_date: r.end.format("%Y-%m-%d").to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AggregateView {
    pub metrics: MetricsView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<MetricsView>,
    pub date_range: DateRangeView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_date_range: Option<DateRangeView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PointView {
    /// `YYYY-MM-DD`, or `YYYY-MM-DDTHH:00` for hours (site-local).
    pub bucket: String,
    pub metrics: MetricsView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimeseriesView {
    pub points: Vec<PointView>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub previous_points: Vec<PointView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BreakdownRowView {
    pub value: String,
    pub metrics: MetricsView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<MetricsView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BreakdownView {
    pub rows: Vec<BreakdownRowView>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next_after: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RealtimeView {
    /// Distinct visitors with an event in the 5 minutes before `as_of`.
    pub visitors: u64,
    pub as_of: chrono::DateTime<chrono::Utc>,
}
