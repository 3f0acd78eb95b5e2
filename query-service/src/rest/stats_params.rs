//! The statistics endpoints' query parameters as the OpenAPI document lists them, so a
//! generated client gets them as arguments. [`super::stats::StatsQuery`] parses the query by
//! hand (to name an unknown or repeated parameter); these types only describe it.
#![allow(dead_code)] // read by utoipa's derive alone

use utoipa::IntoParams;

/// Shared by `aggregate`, `timeseries` and `breakdown`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeParams {
    /// `day`, `7d`, `30d`, `month`, `6mo`, `12mo` or `custom` (default `30d`), ending today
    /// in the site's time zone.
    period: Option<String>,
    /// First day (`YYYY-MM-DD`) of a `custom` period.
    start_date: Option<String>,
    /// Last day (`YYYY-MM-DD`, inclusive) of a `custom` period; at most 3,660 days in all.
    end_date: Option<String>,
    /// Repeatable, all must hold: `<dimension>:<is|is_not|contains>:<value>[|<value>…]` (any
    /// of the values); `prop.<key>` filters on a custom property. At most 20.
    filter: Option<Vec<String>>,
    /// `page:<path>` or `event:<name>`: `conversion_rate` is the share of visitors who
    /// reached it.
    goal: Option<String>,
    /// `true` adds the figures of the period just before, of the same length.
    compare_previous: Option<bool>,
    /// Answer no older than this global position (read-your-writes); the same as the
    /// `X-Min-Position` header, give one of the two.
    min_position: Option<u64>,
}

/// `timeseries` only.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IntervalParams {
    /// `hour`, `day`, `week` or `month`; by default `hour` for one day, `month` from 180
    /// days, `day` otherwise.
    interval: Option<String>,
}

/// `breakdown` only.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BreakdownParams {
    /// `page`, `entry_page`, `exit_page`, `source`, `referrer`, `utm_source`, `utm_medium`,
    /// `utm_campaign`, `utm_content`, `utm_term`, `device`, `browser`, `os`, `country`,
    /// `event_name`, or `prop` (with `prop_key`).
    dimension: String,
    /// The custom property of `dimension=prop`.
    prop_key: Option<String>,
    /// Rows per page, 1 to 1,000 (default 100).
    limit: Option<u32>,
    /// `next_after` of the previous page.
    after: Option<String>,
    /// `visitors` (default), `visits`, `pageviews`, `events` (each descending) or `value`.
    order: Option<String>,
}
