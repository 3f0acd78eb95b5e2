//! Closing days: once a site's local day is over, its rollup day rows are added
//! to their week's and month's rows in one statement (docs/analytics-read.md,
//! "Open days").
//!
//! Why: a live batch's events are mostly of today, and adding each day row to
//! its week and month as it is written made a batch upsert three rows per
//! dimension value instead of one — the largest share of the read DB's work
//! per event (docs/benchmarks.md, ingest). Closing writes the spans once per
//! value per day instead of once per value per batch.
//!
//! Exactness rests on one lock. Every batch takes [`SHARE`] before it reads
//! its sites' open days and holds it until it commits; a closing round takes
//! it exclusively. So a batch either wrote a day as open before the round (its
//! rows are then among the day rows the round sums) or reads the day as
//! closed after it, and adds its rows to the spans itself. A site's first
//! open day is its today: the rows it already has from then on are taken out
//! of their spans in the same round, and added back as their days close.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::Pool;
use tally_domain::{TimeZone, sessions::Dim};
use tally_platform::causes::Causes;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    ProjectorError,
    analytics::{
        schema::{ANALYTICS, span_sums_of},
        store::{COUNTERS, add_counters},
    },
};

/// The advisory lock between batches and closing rounds: class 0x7A13 (the owner locks'
/// is 0x7A12, `store.rs`), key 0. Taken by every analytics batch before it reads the open
/// days.
pub(crate) const SHARE: &str = "SELECT pg_advisory_xact_lock_shared(31251, 0)";
const EXCLUSIVE: &str = "SELECT pg_advisory_xact_lock(31251, 0)";

/// When and how often days are closed (`[analytics]` settings).
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// How often to look for days to close (a look that finds none takes no lock).
    pub every: Duration,
    /// How long after a site's local midnight its day is closed. Only for economy:
    /// an event of a closed day that arrives later still lands in its spans.
    pub after: Duration,
}

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Closed {
    /// Sites given their first open day.
    pub opened: usize,
    /// Sites whose days were closed.
    pub sites: usize,
    /// Site-days closed.
    pub days: i64,
}

/// Closes days every `schedule.every` (the first round one interval after start) until
/// `shutdown`. A failed round is logged and retried at the next tick: nothing is lost by
/// closing a day late.
pub async fn run(pool: Pool, schedule: Schedule, shutdown: CancellationToken) {
    let every = schedule.every.max(Duration::from_millis(100));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let after = chrono::Duration::from_std(schedule.after).unwrap_or(chrono::Duration::zero());
        match close(&pool, Utc::now() - after).await {
            Ok(closed) if closed != Closed::default() => {
                tracing::info!(
                    opened = closed.opened,
                    sites = closed.sites,
                    days = closed.days,
                    "closed analytics days"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %Causes(&e), "closing analytics days failed; retrying at the next tick"),
        }
    }
}

/// One round: every site whose local date at `as_of` is past its first open day has the
/// days before that date closed, and every site without open days gets its first.
pub async fn close(pool: &Pool, as_of: DateTime<Utc>) -> Result<Closed, ProjectorError> {
    let mut client = pool.get().await?;
    let version = active_version(&**client, "").await?;
    let open = format!("analytics_open_v{version}");
    // Looked at without the lock, so a round with nothing to do never stalls a batch.
    let sql = format!("SELECT s.id, s.time_zone, o.open_from FROM sites s LEFT JOIN {open} o ON o.site_id = s.id");
    let (fresh, due) = plan(&client.query(&sql, &[]).await?, as_of);
    if fresh.is_empty() && due.is_empty() {
        return Ok(Closed::default());
    }

    let tx = client.transaction().await?;
    if active_version(&*tx, " FOR SHARE").await? != version {
        return Ok(Closed::default()); // a rebuild switched versions: the next round looks again
    }
    tx.execute(EXCLUSIVE, &[]).await?;
    let rollup = format!("analytics_rollup_v{version}");
    let (sites, today): (Vec<Uuid>, Vec<NaiveDate>) = fresh.into_iter().unzip();
    // Open from today: the rows the site already has from today on leave their spans, and
    // are added back as their days close.
    let dims: Vec<&str> = Dim::ALL.iter().filter(|d| **d != Dim::Total).map(|d| d.as_str()).collect();
    let opened = tx
        .query(
            &format!(
                "INSERT INTO {open} (site_id, open_from) SELECT * FROM unnest($1::uuid[], $2::date[]) \
                 ON CONFLICT (site_id) DO NOTHING RETURNING site_id, open_from"
            ),
            &[&sites, &today],
        )
        .await?;
    if !opened.is_empty() {
        let sites: Vec<Uuid> = opened.iter().map(|r| r.get(0)).collect();
        let first: Vec<NaiveDate> = opened.iter().map(|r| r.get(1)).collect();
        let last = vec![NaiveDate::MAX; sites.len()];
        tx.execute(&spans_sql(&rollup, -1), &[&sites, &first, &last, &dims]).await?;
    }

    // Re-read under the lock: another projector may have closed some of them meanwhile.
    let (sites, today): (Vec<Uuid>, Vec<NaiveDate>) = due.into_iter().unzip();
    let rows = tx
        .query(
            &format!(
                "SELECT t.site_id, o.open_from, t.today - 1 FROM unnest($1::uuid[], $2::date[]) AS t(site_id, today) \
                 JOIN {open} o USING (site_id) WHERE o.open_from < t.today ORDER BY 1"
            ),
            &[&sites, &today],
        )
        .await?;
    let sites: Vec<Uuid> = rows.iter().map(|r| r.get(0)).collect();
    let first: Vec<NaiveDate> = rows.iter().map(|r| r.get(1)).collect();
    let last: Vec<NaiveDate> = rows.iter().map(|r| r.get(2)).collect();
    let days: i64 = first.iter().zip(&last).map(|(f, l)| (*l - *f).num_days() + 1).sum();
    if !sites.is_empty() {
        tx.execute(&spans_sql(&rollup, 1), &[&sites, &first, &last, &dims]).await?;
        tx.execute(
            &format!(
                "UPDATE {open} o SET open_from = t.last + 1 FROM unnest($1::uuid[], $2::date[]) AS t(site_id, last) \
                 WHERE o.site_id = t.site_id"
            ),
            &[&sites, &last],
        )
        .await?;
    }
    tx.commit().await?;
    metrics::counter!("projector_analytics_days_closed_total").increment(days.max(0) as u64);
    Ok(Closed { opened: opened.len(), sites: sites.len(), days })
}

async fn active_version(client: &impl tokio_postgres::GenericClient, lock: &str) -> Result<i32, ProjectorError> {
    let sql = format!("SELECT active_version FROM projections WHERE name = $1{lock}");
    let row = client.query_opt(&sql, &[&ANALYTICS]).await?.ok_or(ProjectorError::NoProjection(ANALYTICS))?;
    Ok(row.get(0))
}

/// From `(site, time zone, open_from)` rows: the sites without open days, with their
/// date at `as_of`, and the sites with days to close, likewise.
type Plan = (Vec<(Uuid, NaiveDate)>, Vec<(Uuid, NaiveDate)>);

fn plan(rows: &[tokio_postgres::Row], as_of: DateTime<Utc>) -> Plan {
    let (mut fresh, mut due) = (Vec::new(), Vec::new());
    for row in rows {
        let (site, zone, open_from): (Uuid, &str, Option<NaiveDate>) = (row.get(0), row.get(1), row.get(2));
        let Ok(zone) = TimeZone::parse(zone) else {
            tracing::warn!(%site, zone, "a site's time zone does not parse; its days stay open");
            continue;
        };
        let today = as_of.with_timezone(&zone.tz()).date_naive();
        match open_from {
            None => fresh.push((site, today)),
            Some(open_from) if open_from < today => due.push((site, today)),
            Some(_) => {}
        }
    }
    (fresh, due)
}

/// Adds (`sign` 1) or subtracts (−1) the day rows of `$1` sites from `$2` to `$3`
/// (dimensions `$4`) to or from their weeks' and months' rows: the sums the verification and
/// migration V4 compute ([`span_sums_of`]), of these days only.
fn spans_sql(rollup: &str, sign: i8) -> String {
    let from =
        format!("unnest($1::uuid[], $2::date[], $3::date[]) AS t(site_id, first, last) JOIN {rollup} USING (site_id)");
    let sums = span_sums_of(rollup, &from, " AND dim = ANY($4::text[]) AND local_date BETWEEN t.first AND t.last");
    format!(
        "INSERT INTO {rollup} (site_id, dim, local_date, hour, value, {cols}) \
         SELECT site_id, dim, local_date, hour, value, {signed} FROM ({sums}) s WHERE {nonzero} \
         ORDER BY 1, 2, 3, 4, 5 \
         ON CONFLICT (site_id, dim, local_date, hour, value) DO UPDATE SET {adds}",
        cols = COUNTERS.join(", "),
        signed = COUNTERS.map(|c| format!("{sign} * {c}")).join(", "),
        nonzero = COUNTERS.map(|c| format!("{c} <> 0")).join(" OR "),
        adds = add_counters(rollup),
    )
}
