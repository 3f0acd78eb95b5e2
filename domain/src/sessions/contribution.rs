//! Signed deltas and a session's contribution to the rollup rows.

use std::collections::BTreeMap;

use super::model::{Bucket, Dim, Session};

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

type Row = (Bucket, Dim, String, Metric);

/// The counters a session contributes as it stands: visits 1, bounces 0/1
/// and its duration, to its start bucket, in every row it belongs to — the
/// total, its attributes, its entry and exit page, and every page and event
/// name it contains (a bounce has one page, its entry, so a page row's
/// bounces are those of the visits that entered there).
pub(super) fn session_rows(s: &Session) -> Vec<(Row, i64)> {
    let mut rows: Vec<(Dim, &str)> = vec![(Dim::Total, "")];
    rows.extend(s.attributes.dims());
    if let Some(entry) = &s.entry_page {
        rows.push((Dim::EntryPage, entry));
    }
    if let Some(exit) = &s.exit_page {
        rows.push((Dim::ExitPage, exit));
    }
    rows.extend(s.pages.iter().map(|p| (Dim::Page, p.as_str())));
    rows.extend(s.names.iter().map(|n| (Dim::EventName, n.as_str())));
    let (bounce, duration) = (i64::from(s.is_bounce()), s.duration_ms());
    rows.into_iter()
        .flat_map(|(dim, value)| {
            [(Metric::Visits, 1), (Metric::Bounces, bounce), (Metric::DurationMs, duration)]
                .map(|(m, v)| ((s.start, dim, value.to_owned(), m), v))
        })
        .collect()
}

/// `after − before`, without the zeros.
pub(super) fn diff(before: &[(Row, i64)], after: &[(Row, i64)]) -> Vec<Delta> {
    let mut sum: BTreeMap<&Row, i64> = BTreeMap::new();
    for (row, v) in after {
        *sum.entry(row).or_default() += v;
    }
    for (row, v) in before {
        *sum.entry(row).or_default() -= v;
    }
    sum.into_iter()
        .filter(|(_, v)| *v != 0)
        .map(|((bucket, dim, value, metric), amount)| Delta {
            bucket: *bucket,
            dim: *dim,
            value: value.clone(),
            metric: *metric,
            amount,
        })
        .collect()
}
