//! Verification of a rebuilt analytics version: counts and sums of the new tables against a
//! recomputation from the raw payloads, independent of the projector's decoding and
//! sessionisation (fed page by page by the rebuild's reader).

use std::collections::HashMap;

use prost::Message as _;
use tally_domain::sessions::Span;
use tally_event_store::RecordedEvent;
use tally_proto::{convert::event_types::ANALYTICS_EVENT_RECORDED, v1};
use tokio_postgres::GenericClient;

use crate::analytics::{
    schema::{AnalyticsTables, closed_span_sums},
    store::COUNTERS,
};

/// Figures recomputed from the raw payloads, independently of the
/// projector's decoding and sessionisation.
#[derive(Debug, Default)]
pub struct Expected {
    events: i64,
    pageviews: i64,
    /// Events per visitor-day, so taking one event out can take its visitor-day out.
    visitor_days: HashMap<(String, String, String), u32>,
}

type Counted = ((String, String, String), bool);

fn counted(e: &RecordedEvent) -> Option<Counted> {
    if e.event_type != ANALYTICS_EVENT_RECORDED || e.schema_version != 1 {
        return None;
    }
    let p = v1::AnalyticsEventRecorded::decode(e.payload.as_slice()).ok()?;
    if p.visitor_id.is_empty() || p.timestamp.is_none() || p.name.is_empty() {
        return None;
    }
    let pageview = p.name == "pageview";
    Some(((p.site_id, p.local_date, p.visitor_id), pageview))
}

impl Expected {
    pub fn observe(&mut self, e: &RecordedEvent) {
        let Some((day, pageview)) = counted(e) else { return };
        self.events += 1;
        self.pageviews += i64::from(pageview);
        *self.visitor_days.entry(day).or_default() += 1;
    }

    /// Takes out an observed event the rebuild dead-lettered (the read DB refused it, or the
    /// projector could not place it): the tables rightly lack it, as a live projector's would.
    pub fn forget(&mut self, e: &RecordedEvent) {
        let Some((day, pageview)) = counted(e) else { return };
        let Some(n) = self.visitor_days.get_mut(&day) else { return };
        self.events -= 1;
        self.pageviews -= i64::from(pageview);
        *n -= 1;
        if *n == 0 {
            self.visitor_days.remove(&day);
        }
    }
}

const FIGURES: [&str; 11] = [
    "events rows",
    "pageview rows",
    "distinct visitor-days in events",
    "rollup Σ events",
    "rollup Σ pageviews",
    "rollup Σ visitors",
    "rollup Σ visits − sessions rows",
    "rollup Σ bounces − bouncing sessions",
    "rollup Σ duration_ms − sessions Σ duration_ms",
    "rollup Σ page entries − sessions with an entry page",
    "week and month rows unequal to the sums of their days",
];

/// The figures measured on the new tables by SQL.
pub async fn measure(
    client: &impl GenericClient,
    t: &AnalyticsTables,
) -> Result<Vec<(&'static str, i64)>, tokio_postgres::Error> {
    let sql = format!(
        "WITH e AS (SELECT count(*) AS n, count(*) FILTER (WHERE name = 'pageview') AS pv, \
                      count(DISTINCT (site_id, local_date, visitor_id)) AS vd FROM {e}), \
              s AS (SELECT count(*) AS n, count(*) FILTER (WHERE bounce) AS b, COALESCE(sum(duration_ms), 0) AS d, \
                      count(entry_page) AS en FROM {s}), \
              p AS (SELECT COALESCE(sum(entries), 0) AS en FROM {r} WHERE dim = 'page' AND hour = {day}), \
              sp AS (SELECT count(*) AS bad FROM \
                      (SELECT site_id, dim, local_date, hour, value, ARRAY[{cols}] AS c FROM ({spans}) w) want \
                      FULL JOIN (SELECT site_id, dim, local_date, hour, value, ARRAY[{cols}] AS c FROM {r} \
                                  WHERE hour IN ({week}, {month})) got USING (site_id, dim, local_date, hour, value) \
                      WHERE COALESCE(want.c, {zeros}) <> COALESCE(got.c, {zeros})), \
              r AS (SELECT COALESCE(sum(events), 0) AS ev, COALESCE(sum(pageviews), 0) AS pv, \
                      COALESCE(sum(visitors), 0) AS vi, COALESCE(sum(visits), 0) AS vs, \
                      COALESCE(sum(bounces), 0) AS b, COALESCE(sum(duration_ms), 0) AS d FROM {r} WHERE dim = '') \
         SELECT e.n, e.pv, e.vd, r.ev::int8, r.pv::int8, r.vi::int8, (r.vs - s.n)::int8, (r.b - s.b)::int8, \
                (r.d - s.d)::int8, (p.en - s.en)::int8, sp.bad FROM e, s, r, p, sp",
        e = t.events,
        s = t.sessions,
        r = t.rollup,
        spans = closed_span_sums(&t.rollup, &t.open),
        cols = COUNTERS.join(", "),
        day = Span::Day.code(),
        week = Span::Week.code(),
        month = Span::Month.code(),
        zeros = format!("'{{{}}}'::int8[]", ["0"; COUNTERS.len()].join(",")),
    );
    let row = client.query_one(&sql, &[]).await?;
    Ok(FIGURES.iter().enumerate().map(|(i, name)| (*name, row.get::<_, i64>(i))).collect())
}

pub fn compare(expected: &Expected, measured: &[(&'static str, i64)]) -> Vec<String> {
    let want = [
        expected.events,
        expected.pageviews,
        expected.visitor_days.len() as i64,
        expected.events,
        expected.pageviews,
        expected.visitor_days.len() as i64,
        0,
        0,
        0,
        0,
        0,
    ];
    measured
        .iter()
        .zip(want)
        .filter(|((_, got), want)| got != want)
        .map(|((name, got), want)| format!("{name}: tables have {got}, expected {want}"))
        .collect()
}
