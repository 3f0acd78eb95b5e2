//! Website statistics over the analytics read model: aggregate, time series,
//! breakdown and realtime (docs/analytics-read.md).
//!
//! Unfiltered aggregates, time series and breakdowns (except entry/exit
//! page and props) read the signed-delta rollups (the fast path); anything
//! filtered, and those breakdowns, run the exact path over per-session and
//! per-event rows. Both give the same numbers; the
//! end-to-end tests check them against a hand-computed log.

pub mod access;
pub mod input;
pub mod model;
mod period;
pub mod realtime;
mod sql;

/// The unfiltered breakdown's statement and its parameters for a range (`tally-bench
/// analytics-reads` shows its plan).
pub use sql::{Pick, rollup_breakdown, spans};

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use tally_domain::TimeZone;
use tokio_postgres::types::{ToSql, Type};

pub use model::*;
pub use period::resolve;

use crate::read::{ReadError, Reads};
use access::Access;
use sql::Grouping;

/// A statement parameter with its Postgres type, for `query_typed`.
type Typed<'a> = (&'a (dyn ToSql + Sync), Type);

/// `$1` the site, `$2`/`$3` the range's dates, then `extra`.
fn ranged<'a>(site: &'a uuid::Uuid, range: &'a DateRange, extra: &'a [sql::Param]) -> Vec<Typed<'a>> {
    let mut params: Vec<Typed<'a>> = vec![(site, Type::UUID), (&range.start, Type::DATE), (&range.end, Type::DATE)];
    params.extend(extra.iter().map(|(v, t)| (v.as_ref() as &(dyn ToSql + Sync), t.clone())));
    params
}

/// Which groups [`Reads::grouped`] needs.
#[derive(Debug, Clone, Copy)]
enum Wanted<'a> {
    All,
    /// The first `n` in this order.
    Top(Order, usize),
    /// These values (raw, `""` for none).
    Values(&'a [String]),
}

/// A resolved range with its previous one.
#[derive(Debug, Clone, Copy)]
pub struct Ranges {
    pub current: DateRange,
    pub previous: Option<DateRange>,
}

/// One breakdown row.
#[derive(Debug, Clone)]
pub struct Row {
    pub value: String,
    pub metrics: Metrics,
    pub previous: Option<Metrics>,
    counts: Counts,
}

/// A page of breakdown rows.
#[derive(Debug, Clone)]
pub struct BreakdownPage {
    pub rows: Vec<Row>,
    /// The offset of the next page, when there is one.
    pub next: Option<usize>,
}

/// A time series.
#[derive(Debug, Clone)]
pub struct Series {
    pub points: Vec<(String, Metrics)>,
    pub previous: Vec<(String, Metrics)>,
}

fn counts(row: &tokio_postgres::Row) -> Result<(String, Counts), ReadError> {
    let g = |i| row.try_get::<_, i64>(i);
    Ok((
        row.try_get::<_, Option<String>>(0)?.unwrap_or_default(),
        Counts {
            visitors: g(1)?,
            visits: g(2)?,
            pageviews: g(3)?,
            events: g(4)?,
            bounce_visits: g(5)?,
            bounces: g(6)?,
            duration_ms: g(7)?,
            converted: g(8)?,
        },
    ))
}

/// The rollup dimension whose rows answer an unfiltered breakdown by `d`;
/// `None` where only the exact path can (entry/exit pages, whose rows lack
/// events; custom props).
fn rollup_rows(d: &Dimension) -> Option<&'static str> {
    match d {
        Dimension::Page => Some("page"),
        Dimension::EventName => Some("event_name"),
        Dimension::EntryPage | Dimension::ExitPage | Dimension::Prop(_) => None,
        other => other.session_column(),
    }
}

impl Reads {
    /// Resolves the scope's period in the site's time zone: today is the site's today.
    fn ranges(scope: &Scope, access: &Access) -> Ranges {
        debug_assert_eq!(scope.site, access.site(), "a scope is read with its own site's access");
        let current = resolve(scope.period, today_in(access.zone()));
        Ranges { current, previous: scope.compare_previous.then(|| current.previous()) }
    }

    /// Every statement here is sent with its parameters' types (`query_typed`): Postgres parses,
    /// plans and runs it in one round trip, planned for its actual site and dates. A cached
    /// prepared statement would switch to a generic plan after five executions, and for a
    /// range of a site's rollup rows the generic estimate is a single row: at 10 M pageviews
    /// it chose an index scan and an on-disk sort for a page breakdown over 90,000 rows
    /// (`tally-bench analytics-reads` prints the plan). Planning costs a fraction of a
    /// millisecond; these statements run for milliseconds.
    ///
    /// `wanted` lets a breakdown over the rollups return just the groups it shows; other
    /// paths return every group.
    async fn grouped(
        &self,
        scope: &Scope,
        range: DateRange,
        open_from: Option<NaiveDate>,
        grouping: &Grouping,
        wanted: Wanted<'_>,
    ) -> Result<HashMap<String, Counts>, ReadError> {
        let client = self.pool().get().await?;
        if let Grouping::Value(d) = grouping
            && let Some(dim) = rollup_rows(d)
            && scope.filters.is_empty()
            && scope.goal.is_none()
        {
            let (codes, starts, signs) = sql::spans(range.start, range.end, open_from);
            let spans: [Typed<'_>; 5] = [
                (&scope.site, Type::UUID),
                (&codes, Type::INT2_ARRAY),
                (&starts, Type::DATE_ARRAY),
                (&signs, Type::INT8_ARRAY),
                (&dim, Type::TEXT),
            ];
            let rows = match wanted {
                Wanted::Top(order, n) => {
                    let n = i64::try_from(n).unwrap_or(i64::MAX);
                    let sql = sql::rollup_breakdown(Pick::Top(order));
                    let label = d.empty_label();
                    let params = [&spans[..], &[(&label, Type::TEXT), (&n, Type::INT8)]].concat();
                    client.query_typed(&sql, &params).await?
                }
                Wanted::Values(values) => {
                    let sql = sql::rollup_breakdown(Pick::Values);
                    let params = [&spans[..], &[(&values, Type::TEXT_ARRAY)]].concat();
                    client.query_typed(&sql, &params).await?
                }
                Wanted::All => client.query_typed(&sql::rollup_breakdown(Pick::All), &spans).await?,
            };
            let mut out = HashMap::new();
            for row in rows {
                let (k, c) = counts(&row)?;
                out.insert(k, c);
            }
            return Ok(out);
        }
        let fast = scope.filters.is_empty() && !matches!(grouping, Grouping::Value(_));
        let (sql, extra) = if fast {
            let interval = match grouping {
                Grouping::Time(i) => Some(*i),
                _ => None,
            };
            (sql::rollup(interval), Vec::new())
        } else {
            sql::exact(&scope.filters, scope.goal.as_ref(), grouping)
        };
        let with_range = |extra| ranged(&scope.site, &range, extra);
        let mut out = HashMap::new();
        for row in client.query_typed(&sql, &with_range(&extra)).await? {
            let (k, c) = counts(&row)?;
            out.insert(k, c);
        }
        if fast && let Some(goal) = &scope.goal {
            let (dim, value) = match goal {
                Goal::Page(p) => ("page", p.as_str()),
                Goal::Event(n) => ("event_name", n.as_str()),
            };
            if let Grouping::None = grouping {
                let params = [&with_range(&[])[..], &[(&dim, Type::TEXT), (&value, Type::TEXT)]].concat();
                let row = client.query_typed_one(sql::ROLLUP_CONVERTED, &params).await?;
                out.entry(String::new()).or_default().converted = row.try_get(0)?;
            } else {
                // Per-bucket conversions need the exact path.
                let (sql, extra) = sql::exact(&[], Some(goal), grouping);
                for row in client.query_typed(&sql, &with_range(&extra)).await? {
                    let (k, c) = counts(&row)?;
                    out.entry(k).or_default().converted = c.converted;
                }
            }
        }
        Ok(out)
    }

    /// Metrics over the whole range (and the previous one).
    #[tracing::instrument(skip_all, fields(site = %scope.site))]
    pub async fn aggregate(
        &self,
        scope: &Scope,
        access: &Access,
    ) -> Result<(Ranges, Metrics, Option<Metrics>), ReadError> {
        let ranges = Self::ranges(scope, access);
        let total = |m: HashMap<String, Counts>| Metrics::from(m.get("").copied().unwrap_or_default());
        let current =
            total(self.grouped(scope, ranges.current, access.open_from(), &Grouping::None, Wanted::All).await?);
        let previous = match ranges.previous {
            Some(r) => Some(total(self.grouped(scope, r, access.open_from(), &Grouping::None, Wanted::All).await?)),
            None => None,
        };
        Ok((ranges, current, previous))
    }

    /// Metrics per bucket, every bucket of the range present.
    #[tracing::instrument(skip_all, fields(site = %scope.site))]
    pub async fn timeseries(
        &self,
        scope: &Scope,
        access: &Access,
        interval: Option<Interval>,
    ) -> Result<(Ranges, Series), ReadError> {
        let ranges = Self::ranges(scope, access);
        let interval = interval.unwrap_or_else(|| period::default_interval(ranges.current));
        let series = |range: DateRange, m: HashMap<String, Counts>| -> Vec<(String, Metrics)> {
            period::buckets(range, interval)
                .into_iter()
                .map(|b| {
                    let c = m.get(&b).copied().unwrap_or_default();
                    (b, Metrics::from(c))
                })
                .collect()
        };
        let grouping = Grouping::Time(interval);
        let points = series(
            ranges.current,
            self.grouped(scope, ranges.current, access.open_from(), &grouping, Wanted::All).await?,
        );
        let previous = match ranges.previous {
            Some(r) => series(r, self.grouped(scope, r, access.open_from(), &grouping, Wanted::All).await?),
            None => Vec::new(),
        };
        Ok((ranges, Series { points, previous }))
    }

    /// Metrics per value of `dimension`, sorted, one page from `offset`.
    #[tracing::instrument(skip_all, fields(site = %scope.site))]
    pub async fn breakdown(
        &self,
        scope: &Scope,
        access: &Access,
        dimension: &Dimension,
        order: Order,
        offset: usize,
        size: usize,
    ) -> Result<(Ranges, BreakdownPage), ReadError> {
        let ranges = Self::ranges(scope, access);
        let grouping = Grouping::Value(dimension.clone());
        // One row past the page says whether there is a next one. The previous range is
        // looked up by the current rows' values.
        let top = Wanted::Top(order, offset.saturating_add(size).saturating_add(1));
        let current = self.grouped(scope, ranges.current, access.open_from(), &grouping, top).await?;
        let previous = match ranges.previous {
            Some(r) => {
                let values: Vec<String> = current.keys().cloned().collect();
                Some(self.grouped(scope, r, access.open_from(), &grouping, Wanted::Values(&values)).await?)
            }
            None => None,
        };
        let mut rows: Vec<Row> = current
            .into_iter()
            .map(|(value, counts)| {
                let prev = previous.as_ref().map(|p| Metrics::from(p.get(&value).copied().unwrap_or_default()));
                let shown = if value.is_empty() { dimension.empty_label().to_owned() } else { value };
                Row { value: shown, metrics: Metrics::from(counts), previous: prev, counts }
            })
            .collect();
        let key = |r: &Row| match order {
            Order::Visitors => r.counts.visitors,
            Order::Visits => r.counts.visits,
            Order::Pageviews => r.counts.pageviews,
            Order::Events => r.counts.events,
            Order::Value => 0,
        };
        rows.sort_by(|a, b| key(b).cmp(&key(a)).then_with(|| a.value.cmp(&b.value)));
        let total = rows.len();
        let rows: Vec<Row> = rows.into_iter().skip(offset).take(size).collect();
        let next = (offset + rows.len() < total).then_some(offset + rows.len());
        Ok((ranges, BreakdownPage { rows, next }))
    }

    /// Distinct visitors with an event in the 5 minutes before `as_of`.
    pub async fn realtime(&self, access: &Access) -> Result<(u64, DateTime<Utc>), ReadError> {
        let as_of = Utc::now();
        let client = self.pool().get().await?;
        let n: i64 = client.query_one(sql::REALTIME, &[&access.site(), &as_of]).await?.try_get(0)?;
        Ok((u64::try_from(n).unwrap_or(0), as_of))
    }
}

/// Today's date in `zone` (exposed for tests).
pub fn today_in(zone: &TimeZone) -> NaiveDate {
    Utc::now().with_timezone(&zone.tz()).date_naive()
}
