//! The exact path: one statement over the per-session and per-event rows
//! that answers any combination of filters, grouped by nothing (aggregate),
//! by time bucket or by a dimension's value (docs/analytics-read.md).
//!
//! Semantics, in SQL terms: `s` = the sessions of the range that pass the
//! session-level filters; `e` = their events that pass the event-level
//! filters. Visitors, pageviews and events count `e`; visits, bounces and
//! durations count the sessions with at least one row in `e`, in the bucket
//! where they started. Bounce rate is over the sessions that entered on a
//! filtered page (or on the row's page in a page breakdown).

use chrono::NaiveDate;
use tally_domain::sessions::cover_open;
use tokio_postgres::types::{ToSql, Type};

use super::model::{Dimension, Filter, Goal, Interval, Operator, Order};

/// A statement parameter and its Postgres type: statements are sent with their parameters'
/// types (`query_typed`), so one round trip parses, plans and runs them.
pub type Param = (Box<dyn ToSql + Sync + Send>, Type);

/// How rows are grouped.
#[derive(Debug, Clone)]
pub enum Grouping {
    None,
    Time(Interval),
    Value(Dimension),
}

/// Builds statements with numbered parameters; `$1` site, `$2`/`$3` dates.
struct Builder {
    params: Vec<Param>,
}

impl Builder {
    fn push(&mut self, value: impl ToSql + Sync + Send + 'static, ty: Type) -> String {
        self.params.push((Box::new(value), ty));
        format!("${}", self.params.len() + 3)
    }

    /// The SQL value of `dim` for an event row (`e`) in a session (`s`);
    /// NULL where the event has none (custom events have no page).
    fn value(&mut self, dim: &Dimension) -> String {
        match dim {
            Dimension::Page => "(CASE WHEN e.name = 'pageview' THEN e.pathname END)".into(),
            Dimension::EventName => "e.name".into(),
            Dimension::Prop(key) => {
                let p = self.push(key.clone(), Type::TEXT);
                format!("(e.props ->> {p}::text)")
            }
            other => format!("s.{}", other.session_column().expect("session dimensions have a column")),
        }
    }

    fn condition(&mut self, value: &str, f: &Filter) -> String {
        let values: Vec<String> = f
            .values
            .iter()
            .map(|v| {
                if v == f.dimension.empty_label() && f.dimension != Dimension::Page { String::new() } else { v.clone() }
            })
            .collect();
        let p = self.push(values, Type::TEXT_ARRAY);
        match f.operator {
            Operator::Is => format!("{value} = ANY({p}::text[])"),
            Operator::IsNot => format!("({value} IS NULL OR {value} <> ALL({p}::text[]))"),
            Operator::Contains => format!("EXISTS (SELECT 1 FROM unnest({p}::text[]) v WHERE strpos({value}, v) > 0)"),
        }
    }
}

fn label(interval: Interval, date: &str, hour: &str) -> String {
    match interval {
        Interval::Hour => format!("to_char({date}, 'YYYY-MM-DD') || 'T' || lpad({hour}::text, 2, '0') || ':00'"),
        Interval::Day => format!("to_char({date}, 'YYYY-MM-DD')"),
        Interval::Week => format!("to_char(GREATEST(date_trunc('week', {date})::date, $2::date), 'YYYY-MM-DD')"),
        Interval::Month => format!("to_char(GREATEST(date_trunc('month', {date})::date, $2::date), 'YYYY-MM-DD')"),
    }
}

/// The statement and its parameters after `$1..$3`. Each result row:
/// key (text), visitors, visits, pageviews, events, bounce_visits, bounces,
/// duration_ms, converted (all int8).
pub fn exact(filters: &[Filter], goal: Option<&Goal>, grouping: &Grouping) -> (String, Vec<Param>) {
    let mut b = Builder { params: Vec::new() };
    let mut session_where = vec!["s.site_id = $1".to_owned(), "s.local_date BETWEEN $2 AND $3".to_owned()];
    let mut event_where = Vec::new();
    let mut bounce_ok = Vec::new();
    for f in filters {
        if f.dimension.session_column().is_some() {
            let v = b.value(&f.dimension);
            session_where.push(b.condition(&v, f));
        } else {
            let v = b.value(&f.dimension);
            event_where.push(b.condition(&v, f));
            if f.dimension == Dimension::Page {
                bounce_ok.push(b.condition("s.entry_page", f));
            }
        }
    }
    let (ekey, skey) = match grouping {
        Grouping::None => ("''".to_owned(), "''".to_owned()),
        Grouping::Time(i) => (label(*i, "e.local_date", "e.hour"), label(*i, "s.local_date", "s.hour")),
        Grouping::Value(d) => {
            let v = b.value(d);
            if *d == Dimension::Page {
                bounce_ok.push(format!("s.entry_page = {v}"));
            }
            (v.clone(), v)
        }
    };
    let goal_cond = match goal {
        None => "false".to_owned(),
        Some(Goal::Page(p)) => format!("e.name = 'pageview' AND e.pathname = {}::text", b.push(p.clone(), Type::TEXT)),
        Some(Goal::Event(n)) => format!("e.name = {}::text", b.push(n.clone(), Type::TEXT)),
    };
    let and = |v: &[String]| if v.is_empty() { "true".to_owned() } else { v.join(" AND ") };
    let join = "analytics_events e JOIN s ON s.site_id = e.site_id AND s.local_date = e.local_date \
                AND s.visitor_id = e.visitor_id AND s.seq = e.seq";
    let sql = format!(
        "WITH s AS (SELECT * FROM analytics_sessions s WHERE {sw}), \
         e AS (SELECT e.local_date, e.visitor_id, e.seq, e.name, {ekey} AS k, {skey} AS sk, s.bounce, s.duration_ms, \
                      ({bo}) AS bounce_ok \
               FROM {join} WHERE e.site_id = $1 AND e.local_date BETWEEN $2 AND $3 AND {ew}), \
         g AS (SELECT DISTINCT e.local_date, e.visitor_id FROM {join} \
               WHERE e.site_id = $1 AND e.local_date BETWEEN $2 AND $3 AND {goal_cond}), \
         ev AS (SELECT e.k, count(DISTINCT (e.local_date, e.visitor_id)) AS visitors, \
                       count(*) FILTER (WHERE e.name = 'pageview') AS pageviews, count(*) AS events, \
                       count(DISTINCT (e.local_date, e.visitor_id)) FILTER (WHERE g.visitor_id IS NOT NULL) AS converted \
                FROM e LEFT JOIN g ON g.local_date = e.local_date AND g.visitor_id = e.visitor_id \
                WHERE e.k IS NOT NULL GROUP BY e.k), \
         vs AS (SELECT x.sk AS k, count(*) AS visits, count(*) FILTER (WHERE x.bounce_ok) AS bounce_visits, \
                       count(*) FILTER (WHERE x.bounce AND x.bounce_ok) AS bounces, sum(x.duration_ms)::int8 AS duration_ms \
                FROM (SELECT DISTINCT local_date, visitor_id, seq, sk, bounce, duration_ms, bounce_ok FROM e \
                      WHERE sk IS NOT NULL) x GROUP BY x.sk) \
         SELECT COALESCE(ev.k, vs.k) AS k, COALESCE(ev.visitors, 0)::int8, COALESCE(vs.visits, 0)::int8, \
                COALESCE(ev.pageviews, 0)::int8, COALESCE(ev.events, 0)::int8, COALESCE(vs.bounce_visits, 0)::int8, \
                COALESCE(vs.bounces, 0)::int8, COALESCE(vs.duration_ms, 0)::int8, COALESCE(ev.converted, 0)::int8 \
         FROM ev FULL JOIN vs ON ev.k = vs.k",
        sw = session_where.join(" AND "),
        ew = and(&event_where),
        bo = and(&bounce_ok),
    );
    (sql, b.params)
}

/// The fast path for unfiltered aggregates and time series: the total rows
/// of the signed-delta rollups. Hourly buckets use the hour's own distinct
/// visitors; longer buckets sum each day's (visitors are counted in the hour
/// a visitor was first seen that day). Row shape as [`exact`] (converted 0).
pub fn rollup(interval: Option<Interval>) -> String {
    let (key, visitors) = match interval {
        None => ("''".to_owned(), "visitors"),
        Some(Interval::Hour) => (label(Interval::Hour, "local_date", "hour"), "hour_visitors"),
        Some(i) => (label(i, "local_date", "hour"), "visitors"),
    };
    format!(
        "SELECT {key} AS k, sum({visitors})::int8, sum(visits)::int8, sum(pageviews)::int8, sum(events)::int8, \
                sum(visits)::int8, sum(bounces)::int8, sum(duration_ms)::int8, 0::int8 \
         FROM analytics_rollup WHERE site_id = $1 AND dim = '' AND local_date BETWEEN $2 AND $3 GROUP BY 1"
    )
}

/// Which groups of a rollup breakdown a statement returns.
#[derive(Debug, Clone, Copy)]
pub enum Pick {
    /// Every value with a non-zero count.
    All,
    /// The first `$7` values in this order (`$6` = the empty value's label).
    Top(Order),
    /// The values in `$6` (`text[]`), where they have a non-zero count.
    Values,
}

/// The fast path for unfiltered breakdowns by a session attribute, a page or
/// an event name (`$5` = the rollup dimension): those rows carry exactly
/// what the exact path computes — visitors first seen per (day, value), the
/// visits (that started with / contained the value), their bounces,
/// durations, pageviews and events. The bounce rate's denominator is the
/// visits that entered on the page for pages (the page rows' `entries`), else
/// the visits themselves.
///
/// The range is read as whole spans ([`tally_domain::sessions::cover_open`]): `$2`
/// the spans' codes (the rows' `hour`), `$3` their first days, `$4` their signs.
/// A 30-day range is at most 10 spans, so the statement groups at most 10 rows
/// per value instead of 30 (and the twelve-month period at most 20).
///
/// [`Pick::Top`] ranks in SQL and sums the chosen values only: the order
/// [`super::Reads::breakdown`] sorts by — the key descending, then the shown
/// value in byte order (`COLLATE "C"`, as Rust compares strings) — so the page
/// it cuts is the same, and a breakdown over thousands of values sends a page
/// of them rather than all. Ranking needs the order's key and the zero test
/// for every value, not all seven sums: summing those for 3,000 pages × 6 spans
/// was half of a 30-day page breakdown's time (`tally-bench analytics-reads`).
/// The ranking sums in `float8` because Postgres sums `bigint` through a
/// `numeric` state per group (a third slower here); every count is far below
/// 2^53, where integers and their sums are exact in `float8`, so the ranking
/// is the exact one. The returned figures are summed as `bigint`.
pub fn rollup_breakdown(pick: Pick) -> String {
    const SPANS: &str = "unnest($2::int2[], $3::date[], $4::int8[]) AS t(hour, local_date, w)";
    const ROWS: &str = "analytics_rollup r ON r.site_id = $1 AND r.dim = $5 AND r.local_date = t.local_date \
                        AND r.hour = t.hour";
    let sum = |c: &str| format!("sum(r.{c} * t.w)");
    let rank = |c: &str| format!("sum((r.{c} * t.w)::float8)");
    let nonzero =
        |s: &dyn Fn(&str) -> String| format!("{} <> 0 OR {} <> 0 OR {} <> 0", s("visitors"), s("visits"), s("events"));
    let columns = format!(
        "r.value, {visitors}::int8, {visits}::int8, {pageviews}::int8, {events}::int8, \
         (CASE WHEN $5 = 'page' THEN {entries} ELSE {visits} END)::int8, {bounces}::int8, {duration}::int8, 0::int8",
        visitors = sum("visitors"),
        visits = sum("visits"),
        pageviews = sum("pageviews"),
        events = sum("events"),
        entries = sum("entries"),
        bounces = sum("bounces"),
        duration = sum("duration_ms"),
    );
    match pick {
        Pick::All => format!("SELECT {columns} FROM {SPANS} JOIN {ROWS} GROUP BY r.value HAVING {}", nonzero(&sum)),
        Pick::Values => format!(
            "SELECT {columns} FROM {SPANS} JOIN {ROWS} AND r.value = ANY($6::text[]) GROUP BY r.value HAVING {}",
            nonzero(&sum)
        ),
        Pick::Top(order) => {
            let key = match order {
                Order::Visitors => Some("visitors"),
                Order::Visits => Some("visits"),
                Order::Pageviews => Some("pageviews"),
                Order::Events => Some("events"),
                Order::Value => None,
            };
            let key = key.map(|k| format!("{} DESC, ", rank(k))).unwrap_or_default();
            format!(
                "WITH t AS (SELECT * FROM {SPANS}), \
                 top AS (SELECT r.value FROM t JOIN {ROWS} GROUP BY r.value HAVING {nonzero} \
                         ORDER BY {key}(CASE WHEN r.value = '' THEN $6::text ELSE r.value END) COLLATE \"C\" \
                         LIMIT $7::int8) \
                 SELECT {columns} FROM top CROSS JOIN t JOIN {ROWS} AND r.value = top.value GROUP BY r.value",
                nonzero = nonzero(&rank),
            )
        }
    }
}

/// [`rollup_breakdown`]'s `$2..$4` for a range of a site whose days from `open_from` on are
/// open.
pub fn spans(start: NaiveDate, end: NaiveDate, open_from: Option<NaiveDate>) -> (Vec<i16>, Vec<NaiveDate>, Vec<i64>) {
    let terms = cover_open(start, end, open_from);
    (
        terms.iter().map(|t| t.span.code()).collect(),
        terms.iter().map(|t| t.start).collect(),
        terms.iter().map(|t| i64::from(t.sign)).collect(),
    )
}

/// Visitors of the range who reached `goal`, from the rollups' page and
/// event-name day rows (`$4` = dimension, `$5` = value; `hour = -1` is
/// `Span::Day`'s code).
pub const ROLLUP_CONVERTED: &str = "SELECT COALESCE(sum(visitors), 0)::int8 FROM analytics_rollup \
     WHERE site_id = $1 AND dim = $4 AND value = $5 AND hour = -1 AND local_date BETWEEN $2 AND $3";

/// Distinct visitor ids with an event in the 5 minutes up to `$2`.
pub const REALTIME: &str = "SELECT count(DISTINCT visitor_id)::int8 FROM analytics_events \
     WHERE site_id = $1 AND at > $2::timestamptz - interval '5 minutes' AND at <= $2::timestamptz";

#[cfg(test)]
mod tests {
    use tally_domain::sessions::Span;

    use super::*;

    #[test]
    fn conversions_read_day_rows_only() {
        assert!(ROLLUP_CONVERTED.contains(&format!("hour = {}", Span::Day.code())));
    }

    #[test]
    fn a_range_becomes_parallel_arrays_of_its_spans() {
        let d = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        let (codes, starts, signs) = spans(d(10, 1), d(10, 30), None);
        assert_eq!(codes, vec![Span::Month.code(), Span::Day.code()]);
        assert_eq!(starts, vec![d(10, 1), d(10, 31)]);
        assert_eq!(signs, vec![1, -1]);
        // From the 30th on the days are open: October's row holds the 1st to the 29th.
        let (codes, starts, signs) = spans(d(10, 1), d(10, 30), Some(d(10, 30)));
        assert_eq!(codes, vec![Span::Month.code(), Span::Day.code()]);
        assert_eq!(starts, vec![d(10, 1), d(10, 30)]);
        assert_eq!(signs, vec![1, 1]);
    }
}
