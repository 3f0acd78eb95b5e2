//! Baseline (a): one row per pageview in a plain table of the read Postgres, and the naive
//! GROUP BY statements that answer the benchmark's questions from it.

use std::pin::Pin;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio_postgres::Client;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use super::answer::{Answer, Range, Timed, TopPage, Totals};
use super::dataset::Pageview;
use super::dims;

/// The table; a hand-rolled design would index it by site and time, so it is.
pub const DDL: &str = "CREATE TABLE pageviews_raw (site_id int4 NOT NULL, ts timestamptz NOT NULL, \
    visitor_id int8 NOT NULL, session_id int8 NOT NULL, pathname text NOT NULL, source text NOT NULL, \
    referrer text NOT NULL, device text NOT NULL, browser text NOT NULL, os text NOT NULL, country text NOT NULL)";
pub const INDEX: &str = "CREATE INDEX ON pageviews_raw (site_id, ts); ANALYZE pageviews_raw";
pub const COPY: &str = "COPY pageviews_raw FROM STDIN BINARY";
pub const COLUMNS: [Type; 11] = [
    Type::INT4,
    Type::TIMESTAMPTZ,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
];

/// For the DuckDB export: the same columns, times as UTC text.
pub const EXPORT: &str = "COPY (SELECT site_id, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') AS ts, \
    visitor_id, session_id, pathname, source, referrer, device, browser, os, country FROM pageviews_raw) \
    TO STDOUT (FORMAT csv, HEADER)";

pub async fn write(writer: Pin<&mut BinaryCopyInWriter>, p: &Pageview) -> anyhow::Result<()> {
    let (source, referrer, _) = dims::SOURCES[usize::from(p.source)];
    let (device, browser, os, _) = dims::DEVICES[usize::from(p.device)];
    let values: [&(dyn ToSql + Sync); 11] = [
        &(p.site as i32),
        &p.at,
        &(p.visitor as i64),
        &(p.session as i64),
        &dims::path(p.site, p.page),
        &source,
        &referrer,
        &device,
        &browser,
        &os,
        &dims::COUNTRIES[usize::from(p.country)],
    ];
    writer.write(&values).await.context("writing a raw row")
}

/// Visitors (distinct daily ids), visits (sessions), pageviews, bounces and total duration.
const AGGREGATE: &str = "WITH s AS (SELECT session_id, count(*) AS pv, max(ts) - min(ts) AS span \
      FROM pageviews_raw WHERE site_id = $1 AND ts >= $2 AND ts < $3 GROUP BY session_id) \
    SELECT (SELECT count(DISTINCT visitor_id) FROM pageviews_raw WHERE site_id = $1 AND ts >= $2 AND ts < $3)::int8, \
      count(*)::int8, COALESCE(sum(pv), 0)::int8, count(*) FILTER (WHERE pv = 1)::int8, \
      COALESCE(sum(extract(epoch FROM span)), 0)::float8 FROM s";

/// The top pages by visitors (ties by path, byte order as Tally sorts).
const BREAKDOWN: &str = "SELECT pathname, count(DISTINCT visitor_id)::int8 AS visitors, count(*)::int8 AS pageviews \
    FROM pageviews_raw WHERE site_id = $1 AND ts >= $2 AND ts < $3 \
    GROUP BY pathname ORDER BY visitors DESC, pathname COLLATE \"C\" LIMIT $4";

/// Runs both statements `warmup + reps` times; the last answer and the timed latencies.
pub async fn measure(db: &Client, range: &Range, limit: u32, warmup: u32, reps: u32) -> anyhow::Result<Timed> {
    let (from, to): (DateTime<Utc>, DateTime<Utc>) = (range.from(), range.to());
    let (aggregate, breakdown) = (db.prepare(AGGREGATE).await?, db.prepare(BREAKDOWN).await?);
    let site = 0i32;
    let limit = i64::from(limit);
    let mut timed = Timed::default();
    for i in 0..warmup + reps {
        let started = Instant::now();
        let row = db.query_one(&aggregate, &[&site, &from, &to]).await.context("naive aggregate")?;
        let a = started.elapsed();
        let started = Instant::now();
        let rows = db.query(&breakdown, &[&site, &from, &to, &limit]).await.context("naive breakdown")?;
        let b = started.elapsed();
        if i >= warmup {
            timed.aggregate.push(a);
            timed.breakdown.push(b);
        }
        let g = |i| row.get::<_, i64>(i) as u64;
        let totals = Totals::from_sums(g(0), g(1), g(2), g(3), row.get::<_, f64>(4));
        let pages = rows
            .iter()
            .map(|r| TopPage {
                page: r.get(0),
                visitors: r.get::<_, i64>(1) as u64,
                pageviews: r.get::<_, i64>(2) as u64,
            })
            .collect();
        timed.answer = Some(Answer { totals, pages });
    }
    Ok(timed)
}
