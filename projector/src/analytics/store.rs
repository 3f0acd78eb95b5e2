//! SQL for one version of the analytics projection: load the visitor-days a
//! batch touches, write back states, sessions, events and summed rollup
//! deltas — a fixed handful of statements per batch, arrays in, keys sorted.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::Transaction;
use tally_domain::sessions::{Session, VisitorDay};
use tally_platform::causes::Causes;
use tokio_postgres::types::{Json, ToSql};
use uuid::Uuid;

use crate::analytics::{
    closing::SHARE,
    fold::{AnalyticsFold, Day, DayKey},
    schema::AnalyticsTables,
    state,
};
use crate::store::run_if;

/// The rollup's counter columns, in the order of the fold's [`Counters`](super::fold::Counters).
pub(crate) const COUNTERS: [&str; 8] =
    ["visitors", "hour_visitors", "visits", "bounces", "duration_ms", "pageviews", "events", "entries"];
/// The columns of a sessions row, in the order both the live upsert and the rebuild's `COPY`
/// send them.
pub(crate) const SESSION_COLUMNS: &str = "site_id, local_date, visitor_id, seq, hour, started_at, last_at, pageviews, \
    events, bounce, duration_ms, entry_page, exit_page, source, referrer, utm_source, utm_medium, utm_campaign, \
    utm_content, utm_term, device, browser, os, country";
/// The columns of an events row, likewise.
pub(crate) const EVENT_COLUMNS: &str =
    "site_id, local_date, position, hour, at, visitor_id, seq, name, pathname, props";

/// `SET` clause of an upsert into rollup table `table` that adds each counter of the
/// excluded row to the stored one (signed deltas).
pub(crate) fn add_counters(table: &str) -> String {
    COUNTERS.map(|c| format!("{c} = {table}.{c} + EXCLUDED.{c}")).join(", ")
}

/// The SQL of one version, formatted once.
#[derive(Debug, Clone)]
pub struct AnalyticsStatements {
    pub tables: AnalyticsTables,
    load_days: String,
    load_days_for_update: String,
    load_open: String,
    upsert_days: String,
    upsert_sessions: String,
    insert_events: String,
    upsert_rollup: String,
}

impl AnalyticsStatements {
    pub fn new(version: i32) -> Self {
        let tables = AnalyticsTables::new(version);
        let (r, d, s, e, o) = (&tables.rollup, &tables.visitor_days, &tables.sessions, &tables.events, &tables.open);
        let load_days = format!(
            "SELECT d.site_id, d.local_date, d.visitor_id, d.state, d.last_position FROM {d} d \
             JOIN unnest($1::uuid[], $2::date[], $3::text[]) AS k(site_id, local_date, visitor_id) \
               USING (site_id, local_date, visitor_id)"
        );
        AnalyticsStatements {
            load_days_for_update: format!("{load_days} ORDER BY 1, 2, 3 FOR UPDATE OF d"),
            load_days,
            load_open: format!("SELECT site_id, open_from FROM {o} WHERE site_id = ANY($1)"),
            upsert_days: format!(
                "INSERT INTO {d} (site_id, local_date, visitor_id, state, last_position) \
                 SELECT * FROM unnest($1::uuid[], $2::date[], $3::text[], $4::bytea[], $5::int8[]) \
                 ON CONFLICT (site_id, local_date, visitor_id) \
                 DO UPDATE SET state = EXCLUDED.state, last_position = EXCLUDED.last_position"
            ),
            upsert_sessions: format!(
                "INSERT INTO {s} ({SESSION_COLUMNS}) \
                 SELECT * FROM unnest($1::uuid[], $2::date[], $3::text[], $4::int4[], $5::int2[], $6::timestamptz[], \
                   $7::timestamptz[], $8::int4[], $9::int4[], $10::bool[], $11::int8[], $12::text[], $13::text[], \
                   $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], \
                   $21::text[], $22::text[], $23::text[], $24::text[]) \
                 ON CONFLICT (site_id, local_date, visitor_id, seq) DO UPDATE SET \
                   last_at = EXCLUDED.last_at, pageviews = EXCLUDED.pageviews, events = EXCLUDED.events, \
                   bounce = EXCLUDED.bounce, duration_ms = EXCLUDED.duration_ms, entry_page = EXCLUDED.entry_page, \
                   exit_page = EXCLUDED.exit_page"
            ),
            insert_events: format!(
                "INSERT INTO {e} ({EVENT_COLUMNS}) \
                 SELECT * FROM unnest($1::uuid[], $2::date[], $3::int8[], $4::int2[], $5::timestamptz[], $6::text[], \
                   $7::int4[], $8::text[], $9::text[], $10::jsonb[]) \
                 ON CONFLICT DO NOTHING"
            ),
            // The input arrives sorted by the primary key, so concurrent
            // projectors lock rollup rows in the same order and cannot deadlock.
            upsert_rollup: format!(
                "INSERT INTO {r} (site_id, dim, local_date, hour, value, {cols}) \
                 SELECT * FROM unnest($1::uuid[], $2::text[], $3::date[], $4::int2[], $5::text[], $6::int8[], \
                   $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[], $12::int8[], $13::int8[]) \
                 ON CONFLICT (site_id, dim, local_date, hour, value) DO UPDATE SET {adds}",
                cols = COUNTERS.join(", "),
                adds = add_counters(r)
            ),
            tables,
        }
    }

    pub fn version(&self) -> i32 {
        self.tables.version
    }

    /// Loads the visitor-days of `keys` (sorted, distinct) and their sites' open days into a
    /// fresh fold, holding the closing lock until the transaction ends (`closing`).
    pub async fn load(
        &self,
        tx: &Transaction<'_>,
        keys: &[DayKey],
        for_update: bool,
    ) -> Result<AnalyticsFold<'static>, tokio_postgres::Error> {
        let sql = if for_update { &self.load_days_for_update } else { &self.load_days };
        let (lock, open, stmt) =
            futures::try_join!(tx.prepare_cached(SHARE), tx.prepare_cached(&self.load_open), tx.prepare_cached(sql))?;
        let sites: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let dates: Vec<NaiveDate> = keys.iter().map(|k| k.1).collect();
        let visitors: Vec<&str> = keys.iter().map(|k| k.2.as_str()).collect();
        let mut distinct = sites.clone();
        distinct.dedup();
        // One round trip, sent in this order: the open days are read by a statement that
        // starts once the lock is held, so after any closing round that held it.
        let (open_p, days_p): ([&(dyn ToSql + Sync); 1], [&(dyn ToSql + Sync); 3]) =
            ([&distinct], [&sites, &dates, &visitors]);
        let (_, open, rows) =
            futures::try_join!(tx.execute(&lock, &[]), tx.query(&open, &open_p), tx.query(&stmt, &days_p))?;
        let mut fold = AnalyticsFold::default();
        fold.open_from.extend(open.iter().map(|row| (row.get::<_, Uuid>(0), row.get::<_, NaiveDate>(1))));
        for row in rows {
            // A state this release cannot read is rebuilt from nothing rather
            // than failing every later event of the visitor-day.
            let state = state::decode(row.get(3)).unwrap_or_else(|e| {
                tracing::warn!(error = %Causes(&e), "starting a visitor-day afresh: its stored state does not read");
                VisitorDay::default()
            });
            fold.days
                .insert((row.get(0), row.get(1), row.get(2)), Day { state, last_position: row.get(4), dirty: false });
        }
        Ok(fold)
    }

    /// Writes everything the fold changed.
    pub async fn write(&self, tx: &Transaction<'_>, fold: &AnalyticsFold<'_>) -> Result<(), tokio_postgres::Error> {
        let (s_d, s_s, s_e, s_r) = futures::try_join!(
            tx.prepare_cached(&self.upsert_days),
            tx.prepare_cached(&self.upsert_sessions),
            tx.prepare_cached(&self.insert_events),
            tx.prepare_cached(&self.upsert_rollup),
        )?;

        let mut days: Vec<(&DayKey, &Day)> = fold.days.iter().filter(|(_, d)| d.dirty).collect();
        days.sort_by(|a, b| a.0.cmp(b.0));
        let d_site: Vec<Uuid> = days.iter().map(|(k, _)| k.0).collect();
        let d_date: Vec<NaiveDate> = days.iter().map(|(k, _)| k.1).collect();
        let d_visitor: Vec<&str> = days.iter().map(|(k, _)| k.2.as_str()).collect();
        let d_state: Vec<Vec<u8>> = days.iter().map(|(_, d)| state::encode(&d.state)).collect();
        let d_pos: Vec<i64> = days.iter().map(|(_, d)| d.last_position).collect();

        let mut sessions: Vec<(&DayKey, &Session)> = fold.closed.iter().map(|(k, s)| (k, s)).collect();
        sessions.extend(days.iter().filter_map(|(k, d)| d.state.session.as_ref().map(|s| (*k, s))));
        sessions.sort_by(|a, b| a.0.cmp(b.0).then(a.1.seq.cmp(&b.1.seq)));
        let mut s = SessionColumns::default();
        for ((site, date, visitor), session) in sessions {
            s.push(*site, *date, visitor, session.seq, session);
        }

        let ev = &fold.events;
        let e_site: Vec<Uuid> = ev.iter().map(|r| r.event.site_id).collect();
        let e_date: Vec<NaiveDate> = ev.iter().map(|r| r.event.hit.local_date).collect();
        let e_pos: Vec<i64> = ev.iter().map(|r| r.event.position).collect();
        let e_hour: Vec<i16> = ev.iter().map(|r| i16::from(r.event.hit.bucket().hour)).collect();
        let e_at: Vec<DateTime<Utc>> = ev.iter().map(|r| r.event.hit.at).collect();
        let e_visitor: Vec<&str> = ev.iter().map(|r| r.event.visitor_id.as_str()).collect();
        let e_seq: Vec<i32> = ev.iter().map(|r| r.seq).collect();
        let e_name: Vec<&str> = ev.iter().map(|r| r.event.hit.name()).collect();
        let e_path: Vec<&str> = ev.iter().map(|r| r.event.hit.pathname.as_str()).collect();
        let e_props: Vec<Json<&BTreeMap<String, String>>> = ev.iter().map(|r| Json(&r.event.props)).collect();

        // Sorted by the primary key, so concurrent projectors lock shared
        // rollup rows in the same order (see `upsert_rollup`).
        let values = &fold.values;
        let mut rows: Vec<_> = fold
            .rollup
            .iter()
            .map(|((site, dim, date, hour, value), c)| ((*site, dim.as_str(), *date, *hour, values.get(*value)), c))
            .collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let r_site: Vec<Uuid> = rows.iter().map(|(k, _)| k.0).collect();
        let r_dim: Vec<&str> = rows.iter().map(|(k, _)| k.1).collect();
        let r_date: Vec<NaiveDate> = rows.iter().map(|(k, _)| k.2).collect();
        let r_hour: Vec<i16> = rows.iter().map(|(k, _)| k.3).collect();
        let r_value: Vec<&str> = rows.iter().map(|(k, _)| k.4).collect();
        let mut counters: [Vec<i64>; 8] = Default::default();
        for (_, c) in &rows {
            for (i, v) in c.iter().enumerate() {
                counters[i].push(*v);
            }
        }

        let days_p: [&(dyn ToSql + Sync); 5] = [&d_site, &d_date, &d_visitor, &d_state, &d_pos];
        let sessions_p = s.params();
        let events_p: [&(dyn ToSql + Sync); 10] =
            [&e_site, &e_date, &e_pos, &e_hour, &e_at, &e_visitor, &e_seq, &e_name, &e_path, &e_props];
        let [c0, c1, c2, c3, c4, c5, c6, c7] = &counters;
        let rollup_p: [&(dyn ToSql + Sync); 13] =
            [&r_site, &r_dim, &r_date, &r_hour, &r_value, c0, c1, c2, c3, c4, c5, c6, c7];
        futures::try_join!(
            run_if(!d_site.is_empty(), tx.execute(&s_d, &days_p)),
            run_if(!s.site.is_empty(), tx.execute(&s_s, &sessions_p)),
            run_if(!e_site.is_empty(), tx.execute(&s_e, &events_p)),
            run_if(!r_site.is_empty(), tx.execute(&s_r, &rollup_p)),
        )?;
        Ok(())
    }
}

#[derive(Default)]
struct SessionColumns {
    site: Vec<Uuid>,
    date: Vec<NaiveDate>,
    visitor: Vec<String>,
    seq: Vec<i32>,
    hour: Vec<i16>,
    started_at: Vec<DateTime<Utc>>,
    last_at: Vec<DateTime<Utc>>,
    pageviews: Vec<i32>,
    events: Vec<i32>,
    bounce: Vec<bool>,
    duration_ms: Vec<i64>,
    entry: Vec<Option<String>>,
    exit: Vec<Option<String>>,
    attrs: [Vec<String>; 11],
}

impl SessionColumns {
    fn push(&mut self, site: Uuid, date: NaiveDate, visitor: &str, seq: u32, s: &Session) {
        self.site.push(site);
        self.date.push(date);
        self.visitor.push(visitor.to_owned());
        self.seq.push(seq as i32);
        self.hour.push(i16::from(s.start.hour));
        self.started_at.push(s.started_at);
        self.last_at.push(s.last_at);
        self.pageviews.push(s.pageviews as i32);
        self.events.push(s.events as i32);
        self.bounce.push(s.is_bounce());
        self.duration_ms.push(s.duration_ms());
        self.entry.push(s.entry_page.clone());
        self.exit.push(s.exit_page.clone());
        for (i, (_, v)) in s.attributes.dims().iter().enumerate() {
            self.attrs[i].push((*v).to_owned());
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 24] {
        let a = &self.attrs;
        [
            &self.site,
            &self.date,
            &self.visitor,
            &self.seq,
            &self.hour,
            &self.started_at,
            &self.last_at,
            &self.pageviews,
            &self.events,
            &self.bounce,
            &self.duration_ms,
            &self.entry,
            &self.exit,
            &a[0],
            &a[1],
            &a[2],
            &a[3],
            &a[4],
            &a[5],
            &a[6],
            &a[7],
            &a[8],
            &a[9],
            &a[10],
        ]
    }
}
