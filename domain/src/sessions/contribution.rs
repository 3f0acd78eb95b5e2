//! Signed deltas and a session's contribution to the rollup rows.

use super::model::{Bucket, Dim};

/// A rollup counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    /// Distinct visitors of the row's day, counted in the hour first seen.
    Visitors,
    /// Distinct visitors of the row's hour (total row only).
    HourVisitors,
    /// Sessions that started in the bucket.
    Visits,
    /// Of those, sessions that are bounces right now.
    Bounces,
    /// Σ session duration in milliseconds, at the session's start bucket.
    DurationMs,
    /// Page views in the bucket.
    Pageviews,
    /// All events in the bucket.
    Events,
}

/// One signed change of one counter of one rollup row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Delta {
    /// The row's bucket.
    pub bucket: Bucket,
    /// The row's dimension.
    pub dim: Dim,
    /// The row's dimension value (`""` for the total row).
    pub value: String,
    /// The counter.
    pub metric: Metric,
    /// The signed change.
    pub amount: i64,
}

impl Delta {
    /// A delta of `amount` to `metric` of row (`bucket`, `dim`, `value`).
    pub fn new(bucket: Bucket, dim: Dim, value: &str, metric: Metric, amount: i64) -> Self {
        Delta { bucket, dim, value: value.to_owned(), metric, amount }
    }
}
