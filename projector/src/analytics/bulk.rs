//! The analytics rebuild's set-based writes into a version nobody else writes yet
//! ([`super::fill`] decides what and when): rows by binary `COPY`, rollup counters merged by
//! one `INSERT … ON CONFLICT` from a staging table when the table already has some, and
//! visitor-days taken back out of the table when an evicted one is needed again.

use std::{collections::BTreeMap, pin::pin};

use chrono::NaiveDate;
use deadpool_postgres::Transaction;
use tally_domain::sessions::{Session, VisitorDay};
use tally_platform::causes::Causes;
use tokio_postgres::{
    binary_copy::BinaryCopyInWriter,
    types::{Json, ToSql, Type},
};
use uuid::Uuid;

use crate::analytics::{
    fold::{Counters, Day, DayKey, EventRow, RollupKey, Values},
    schema::AnalyticsTables,
    state,
    store::{COUNTERS, EVENT_COLUMNS, SESSION_COLUMNS},
};

// The rollup writes send one column per counter name: the fold's array and the names must agree.
const _: () = assert!(COUNTERS.len() == std::mem::size_of::<Counters>() / std::mem::size_of::<i64>());

const EVENT_TYPES: [Type; 10] = [
    Type::UUID,
    Type::DATE,
    Type::INT8,
    Type::INT2,
    Type::TIMESTAMPTZ,
    Type::TEXT,
    Type::INT4,
    Type::TEXT,
    Type::TEXT,
    Type::JSONB,
];
const SESSION_TYPES: [Type; 24] = [
    Type::UUID,
    Type::DATE,
    Type::TEXT,
    Type::INT4,
    Type::INT2,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMPTZ,
    Type::INT4,
    Type::INT4,
    Type::BOOL,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
];
const DAY_TYPES: [Type; 5] = [Type::UUID, Type::DATE, Type::TEXT, Type::BYTEA, Type::INT8];

/// The SQL of one version's bulk writes.
#[derive(Debug, Clone)]
pub struct Bulk {
    copy_events: String,
    copy_sessions: String,
    copy_days: String,
    copy_rollup: String,
    stage_rollup: String,
    copy_staged_rollup: String,
    merge_rollup: String,
    take_days: String,
    delete_sessions: String,
    rollup_types: Vec<Type>,
}

impl Bulk {
    pub fn new(t: &AnalyticsTables) -> Self {
        let (r, d, s, e) = (&t.rollup, &t.visitor_days, &t.sessions, &t.events);
        let rollup_columns = format!("site_id, dim, local_date, hour, value, {}", COUNTERS.join(", "));
        let staged = format!("{r}_staged");
        let adds = COUNTERS.iter().map(|c| format!("{c} = {r}.{c} + EXCLUDED.{c}")).collect::<Vec<_>>().join(", ");
        let mut rollup_types = vec![Type::UUID, Type::TEXT, Type::DATE, Type::INT2, Type::TEXT];
        rollup_types.extend(COUNTERS.iter().map(|_| Type::INT8));
        Bulk {
            copy_events: format!("COPY {e} ({EVENT_COLUMNS}) FROM STDIN BINARY"),
            copy_sessions: format!("COPY {s} ({SESSION_COLUMNS}) FROM STDIN BINARY"),
            copy_days: format!("COPY {d} (site_id, local_date, visitor_id, state, last_position) FROM STDIN BINARY"),
            copy_rollup: format!("COPY {r} ({rollup_columns}) FROM STDIN BINARY"),
            stage_rollup: format!("CREATE TEMP TABLE {staged} (LIKE {r}) ON COMMIT DROP"),
            copy_staged_rollup: format!("COPY {staged} ({rollup_columns}) FROM STDIN BINARY"),
            merge_rollup: format!(
                "INSERT INTO {r} ({rollup_columns}) SELECT {rollup_columns} FROM {staged} \
                 ON CONFLICT (site_id, dim, local_date, hour, value) DO UPDATE SET {adds}"
            ),
            take_days: format!(
                "DELETE FROM {d} d USING unnest($1::uuid[], $2::date[], $3::text[]) AS k(site_id, local_date, visitor_id) \
                 WHERE (d.site_id, d.local_date, d.visitor_id) = (k.site_id, k.local_date, k.visitor_id) \
                 RETURNING d.site_id, d.local_date, d.visitor_id, d.state, d.last_position"
            ),
            delete_sessions: format!(
                "DELETE FROM {s} s USING unnest($1::uuid[], $2::date[], $3::text[], $4::int4[]) \
                   AS k(site_id, local_date, visitor_id, seq) \
                 WHERE (s.site_id, s.local_date, s.visitor_id, s.seq) = (k.site_id, k.local_date, k.visitor_id, k.seq)"
            ),
            rollup_types,
        }
    }

    /// One row per applied event; they never change afterwards.
    pub async fn events(&self, tx: &Transaction<'_>, rows: &[EventRow<'_>]) -> Result<(), tokio_postgres::Error> {
        if rows.is_empty() {
            return Ok(());
        }
        let sink = tx.copy_in(&self.copy_events).await?;
        let mut writer = pin!(BinaryCopyInWriter::new(sink, &EVENT_TYPES));
        for r in rows {
            let e = r.event;
            let hour = i16::from(e.hit.bucket().hour);
            let props: Json<&BTreeMap<String, String>> = Json(&e.props);
            let row: [&(dyn ToSql + Sync); 10] = [
                &e.site_id,
                &e.hit.local_date,
                &e.position,
                &hour,
                &e.hit.at,
                &e.visitor_id,
                &r.seq,
                &e.hit.name(),
                &e.hit.pathname,
                &props,
            ];
            writer.as_mut().write(&row).await?;
        }
        writer.finish().await?;
        Ok(())
    }

    /// Sessions as they stand: closed ones (final) and, when a visitor-day leaves memory, its
    /// current one (taken back out by [`Self::take_days`] if the visitor-day returns).
    pub async fn sessions(
        &self,
        tx: &Transaction<'_>,
        sessions: &[(&DayKey, &Session)],
    ) -> Result<(), tokio_postgres::Error> {
        if sessions.is_empty() {
            return Ok(());
        }
        let sink = tx.copy_in(&self.copy_sessions).await?;
        let mut writer = pin!(BinaryCopyInWriter::new(sink, &SESSION_TYPES));
        for ((site, date, visitor), s) in sessions.iter().copied() {
            let (seq, hour, pageviews, events) =
                (s.seq as i32, i16::from(s.start.hour), s.pageviews as i32, s.events as i32);
            let (bounce, duration) = (s.is_bounce(), s.duration_ms());
            let dims = s.attributes.dims();
            let mut row: Vec<&(dyn ToSql + Sync)> = vec![
                site,
                date,
                visitor,
                &seq,
                &hour,
                &s.started_at,
                &s.last_at,
                &pageviews,
                &events,
                &bounce,
                &duration,
                &s.entry_page,
                &s.exit_page,
            ];
            row.extend(dims.iter().map(|(_, v)| v as &(dyn ToSql + Sync)));
            writer.as_mut().write(&row).await?;
        }
        writer.finish().await?;
        Ok(())
    }

    /// Visitor-day states, for the live path to continue from after the switch.
    pub async fn days(&self, tx: &Transaction<'_>, days: &[(&DayKey, &Day)]) -> Result<(), tokio_postgres::Error> {
        if days.is_empty() {
            return Ok(());
        }
        let sink = tx.copy_in(&self.copy_days).await?;
        let mut writer = pin!(BinaryCopyInWriter::new(sink, &DAY_TYPES));
        for ((site, date, visitor), day) in days {
            let state = state::encode(&day.state);
            let row: [&(dyn ToSql + Sync); 5] = [site, date, visitor, &state, &day.last_position];
            writer.as_mut().write(&row).await?;
        }
        writer.finish().await?;
        Ok(())
    }

    /// Writes summed rollup deltas: copied straight in while the table is still empty,
    /// otherwise added to the rows an earlier write left.
    pub async fn rollup(
        &self,
        tx: &Transaction<'_>,
        rollup: &[(&RollupKey, &Counters)],
        values: &Values,
        table_empty: bool,
    ) -> Result<(), tokio_postgres::Error> {
        if rollup.is_empty() {
            return Ok(());
        }
        if !table_empty {
            tx.batch_execute(&self.stage_rollup).await?;
        }
        let copy = if table_empty { &self.copy_rollup } else { &self.copy_staged_rollup };
        let sink = tx.copy_in(copy).await?;
        let mut writer = pin!(BinaryCopyInWriter::new(sink, &self.rollup_types));
        for ((site, dim, date, hour, value), counters) in rollup {
            let (dim, value) = (dim.as_str(), values.get(*value));
            let mut row: Vec<&(dyn ToSql + Sync)> = vec![site, &dim, date, hour, &value];
            row.extend(counters.iter().map(|c| c as &(dyn ToSql + Sync)));
            writer.as_mut().write(&row).await?;
        }
        writer.finish().await?;
        if !table_empty {
            tx.batch_execute(&self.merge_rollup).await?;
        }
        Ok(())
    }

    /// Takes the stored visitor-days of `keys` out of the tables (their state row and their
    /// current session's row), so that memory is again the only copy of them.
    pub async fn take_days(
        &self,
        tx: &Transaction<'_>,
        keys: &[DayKey],
    ) -> Result<Vec<(DayKey, Day)>, tokio_postgres::Error> {
        let sites: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let dates: Vec<NaiveDate> = keys.iter().map(|k| k.1).collect();
        let visitors: Vec<&str> = keys.iter().map(|k| k.2.as_str()).collect();
        let rows = tx.query(&self.take_days, &[&sites, &dates, &visitors]).await?;
        let mut days = Vec::with_capacity(rows.len());
        for row in rows {
            // As the live path's load: a state this release cannot read starts afresh.
            let state = state::decode(row.get(3)).unwrap_or_else(|e| {
                tracing::warn!(error = %Causes(&e), "starting a visitor-day afresh: its stored state does not read");
                VisitorDay::default()
            });
            let day = Day { state, last_position: row.get(4), dirty: true };
            days.push(((row.get(0), row.get(1), row.get(2)), day));
        }
        let current: Vec<(&DayKey, i32)> =
            days.iter().filter_map(|(k, d)| d.state.session.as_ref().map(|s| (k, s.seq as i32))).collect();
        if !current.is_empty() {
            let sites: Vec<Uuid> = current.iter().map(|(k, _)| k.0).collect();
            let dates: Vec<NaiveDate> = current.iter().map(|(k, _)| k.1).collect();
            let visitors: Vec<&str> = current.iter().map(|(k, _)| k.2.as_str()).collect();
            let seqs: Vec<i32> = current.iter().map(|(_, s)| *s).collect();
            tx.execute(&self.delete_sessions, &[&sites, &dates, &visitors, &seqs]).await?;
        }
        Ok(days)
    }
}
