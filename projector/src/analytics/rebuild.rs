//! `projector rebuild analytics`: re-derive every session, rollup and event
//! row from the event store into a new version (with the configured session
//! timeout), verify it, and switch atomically — the same machinery and
//! guarantees as `rebuild profiles` (docs/read-side.md, "Rebuild").

use std::{collections::HashSet, fmt, time::Instant};

use deadpool_postgres::{Pool, Transaction};
use prost::Message as _;
use tally_domain::sessions::Rules;
use tally_event_store::{RecordedEvent, reader};
use tally_proto::{convert::event_types::ANALYTICS_EVENT_RECORDED, v1};
use tokio_postgres::GenericClient;
use tokio_util::sync::CancellationToken;

use crate::{
    ProjectorError,
    analytics::{
        AnalyticsEvent, AnalyticsStatements, project_with_fallback,
        schema::{ANALYTICS, AnalyticsTables},
    },
    batch::{Triage, triage},
    dead_letters::{self, NewDeadLetter},
    fold::Verdict,
    message::Message,
    project::Sharing,
    rebuild::{Options, progress_bar, replay::CONSUMER, with_rebuild_lock},
    settings::Settings,
};

/// What a finished analytics rebuild reports.
#[derive(Debug, Clone)]
pub struct Report {
    pub old_version: i32,
    pub new_version: i32,
    pub events: u64,
    pub dead_lettered: u64,
    pub seconds: f64,
    pub caught_up: u64,
    pub applied_through: i64,
    pub figures: Vec<(&'static str, i64)>,
    pub old_dropped: bool,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "rebuilt analytics v{} -> v{}: {} events in {:.1}s, {} dead-lettered",
            self.old_version, self.new_version, self.events, self.seconds, self.dead_lettered
        )?;
        writeln!(f, "verified:")?;
        for (name, value) in &self.figures {
            writeln!(f, "  {name} = {value}")?;
        }
        writeln!(f, "switched: caught up {} events; applied_through = {}", self.caught_up, self.applied_through)?;
        let old = AnalyticsTables::new(self.old_version);
        if self.old_dropped {
            write!(f, "dropped the old tables ({}, …)", old.rollup)
        } else {
            write!(f, "kept the old tables ({}, …; drop them with --drop-old next time)", old.rollup)
        }
    }
}

fn filter() -> reader::Filter {
    reader::Filter { categories: vec!["analytics".to_owned()], event_types: vec![] }
}

/// Rebuilds the analytics projection with `settings.analytics`' rules.
#[tracing::instrument(skip_all, fields(page = options.page))]
pub async fn analytics(
    settings: &Settings,
    options: Options,
    shutdown: CancellationToken,
) -> Result<Report, ProjectorError> {
    let rules = settings.analytics.rules();
    with_rebuild_lock(settings, async |read, store| run(read, store, &rules, options, &shutdown).await).await
}

async fn run(
    read: &Pool,
    store: &Pool,
    rules: &Rules,
    options: Options,
    shutdown: &CancellationToken,
) -> Result<Report, ProjectorError> {
    let started = Instant::now();
    let old_version: i32 = read
        .get()
        .await?
        .query_opt("SELECT active_version FROM projections WHERE name = $1", &[&ANALYTICS])
        .await?
        .ok_or(ProjectorError::NoProjection(ANALYTICS))?
        .get(0);
    let new = AnalyticsTables::new(old_version + 1);
    {
        let client = read.get().await?;
        client.batch_execute(&new.drop_ddl()).await?;
        client.batch_execute(&new.create_ddl()).await?;
    }
    let statements = AnalyticsStatements::new(new.version);
    match fill_verify_switch(read, store, rules, &statements, old_version, options, shutdown).await {
        Ok((events, dead_lettered, figures, caught_up, applied_through)) => {
            if options.drop_old {
                read.get().await?.batch_execute(&AnalyticsTables::new(old_version).drop_ddl()).await?;
            }
            Ok(Report {
                old_version,
                new_version: new.version,
                events,
                dead_lettered,
                seconds: started.elapsed().as_secs_f64(),
                caught_up,
                applied_through,
                figures,
                old_dropped: options.drop_old,
            })
        }
        Err(e) => {
            if let Ok(client) = read.get().await
                && let Err(drop) = client.batch_execute(&new.drop_ddl()).await
            {
                tracing::error!(error = %drop, "could not drop the unfinished tables");
            }
            Err(e)
        }
    }
}

type Filled = (u64, u64, Vec<(&'static str, i64)>, u64, i64);

async fn fill_verify_switch(
    read: &Pool,
    store: &Pool,
    rules: &Rules,
    statements: &AnalyticsStatements,
    old_version: i32,
    options: Options,
    shutdown: &CancellationToken,
) -> Result<Filled, ProjectorError> {
    let interrupted = || {
        ProjectorError::Rebuild(format!(
            "interrupted: dropped the unfinished v{}; v{old_version} still serves",
            statements.version()
        ))
    };
    let head = {
        let client = store.get().await.map_err(|e| ProjectorError::EventStore(e.into()))?;
        reader::head_position(&**client).await?
    };
    let total: i64 = store
        .get()
        .await
        .map_err(|e| ProjectorError::EventStore(e.into()))?
        .query_one(
            "SELECT count(*) FROM events WHERE category = 'analytics' AND global_position <= $1",
            &[&(head as i64)],
        )
        .await?
        .get(0);
    let bar = progress_bar(total as u64, options.progress);
    let mut expected = Expected::default();
    let (mut events, mut dead_lettered, mut through) = (0u64, 0u64, 0u64);
    // The next page is read from the event store while this one is
    // projected, so the two databases work at the same time.
    let mut page = read_page(store, through, options.page).await?;
    while through < head {
        if shutdown.is_cancelled() {
            return Err(interrupted());
        }
        let Some(last) = page.last().map(|e| e.global_position) else { break };
        page.iter().for_each(|e| expected.observe(e));
        let apply = async {
            let mut client = read.get().await?;
            let tx = client.transaction().await?;
            tx.batch_execute("SET LOCAL synchronous_commit = off").await?;
            let applied = apply_page(&tx, statements, rules, page).await?;
            tx.commit().await?;
            Ok::<_, ProjectorError>(applied)
        };
        let (applied, next) = tokio::join!(apply, read_page(store, last, options.page));
        let (n, dead) = applied?;
        (events, dead_lettered, through) = (events + n, dead_lettered + dead, last);
        bar.inc(n);
        page = next?;
    }
    bar.finish_and_clear();

    let figures = measure(&**read.get().await?, &statements.tables).await?;
    let mismatches = compare(&expected, &figures);
    if !mismatches.is_empty() {
        return Err(ProjectorError::Rebuild(format!(
            "verification failed; dropped v{} and kept v{old_version}:\n  {}",
            statements.version(),
            mismatches.join("\n  ")
        )));
    }
    if shutdown.is_cancelled() {
        return Err(interrupted());
    }

    // The switch: wait for the live batch in flight, catch up to what the
    // live projector has applied, activate, re-point the views.
    let mut client = read.get().await?;
    let tx = client.transaction().await?;
    let active: i32 =
        tx.query_one("SELECT active_version FROM projections WHERE name = $1 FOR UPDATE", &[&ANALYTICS]).await?.get(0);
    if active != old_version {
        return Err(ProjectorError::Rebuild(format!(
            "the active version changed from {old_version} to {active} during the rebuild; nothing was switched"
        )));
    }
    let live: i64 = tx.query_one("SELECT COALESCE(max(position), 0) FROM projector_offsets", &[]).await?.get(0);
    let mut caught_up = 0;
    while (through as i64) < live {
        let page: Vec<_> = read_page(store, through, options.page)
            .await?
            .into_iter()
            .take_while(|e| e.global_position as i64 <= live)
            .collect();
        let Some(last) = page.last().map(|e| e.global_position) else { break };
        let (n, _) = apply_page(&tx, statements, rules, page).await?;
        (caught_up, through) = (caught_up + n, last);
    }
    let applied_through = live.max(through as i64);
    tx.execute(
        "UPDATE projections SET active_version = $2, applied_through = $3, switched_at = now() WHERE name = $1",
        &[&ANALYTICS, &statements.version(), &applied_through],
    )
    .await?;
    tx.batch_execute(&statements.tables.point_views_ddl()).await?;
    if shutdown.is_cancelled() {
        return Err(interrupted());
    }
    tx.commit().await?;
    tracing::info!(new_version = statements.version(), caught_up, "switched analytics to the rebuilt version");
    Ok((events, dead_lettered, figures, caught_up, applied_through))
}

async fn read_page(store: &Pool, after: u64, page: usize) -> Result<Vec<RecordedEvent>, ProjectorError> {
    let client = store.get().await.map_err(|e| ProjectorError::EventStore(e.into()))?;
    Ok(reader::read_all(&**client, after, page as i64, &filter()).await?)
}

async fn apply_page(
    tx: &Transaction<'_>,
    statements: &AnalyticsStatements,
    rules: &Rules,
    page: Vec<RecordedEvent>,
) -> Result<(u64, u64), ProjectorError> {
    let messages: Vec<Message> = page.into_iter().map(Message::from_recorded).collect();
    let mut letters = Vec::new();
    let mut events: Vec<(usize, AnalyticsEvent)> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        match triage(m, 0, 0) {
            Triage::Analytics(e) => events.push((i, *e)),
            Triage::DeadLetter(reason) => letters.push(NewDeadLetter::from_message(m, reason)),
            Triage::Project(_) | Triage::Skip | Triage::Ignore => {}
        }
    }
    let refs: Vec<&AnalyticsEvent> = events.iter().map(|(_, e)| e).collect();
    let verdicts = project_with_fallback(tx, statements, rules, &refs, Sharing::Exclusive).await?;
    for ((i, _), v) in events.iter().zip(verdicts) {
        if let Verdict::Rejected(reason) = v {
            letters.push(NewDeadLetter::from_message(&messages[*i], reason));
        }
    }
    let dead = dead_letters::insert(&**tx, CONSUMER, &letters, true).await?;
    Ok((messages.len() as u64, dead))
}

/// Figures recomputed from the raw payloads, independently of the
/// projector's decoding and sessionisation.
#[derive(Debug, Default)]
struct Expected {
    events: i64,
    pageviews: i64,
    visitor_days: HashSet<(String, String, String)>,
}

impl Expected {
    fn observe(&mut self, e: &RecordedEvent) {
        if e.event_type != ANALYTICS_EVENT_RECORDED || e.schema_version != 1 {
            return;
        }
        let Ok(p) = v1::AnalyticsEventRecorded::decode(e.payload.as_slice()) else { return };
        if p.visitor_id.is_empty() || p.timestamp.is_none() || p.name.is_empty() {
            return;
        }
        self.events += 1;
        self.pageviews += i64::from(p.name == "pageview");
        self.visitor_days.insert((p.site_id, p.local_date, p.visitor_id));
    }
}

const FIGURES: [&str; 10] = [
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
];

/// The figures measured on the new tables by SQL.
async fn measure(
    client: &impl GenericClient,
    t: &AnalyticsTables,
) -> Result<Vec<(&'static str, i64)>, tokio_postgres::Error> {
    let sql = format!(
        "WITH e AS (SELECT count(*) AS n, count(*) FILTER (WHERE name = 'pageview') AS pv, \
                      count(DISTINCT (site_id, local_date, visitor_id)) AS vd FROM {e}), \
              s AS (SELECT count(*) AS n, count(*) FILTER (WHERE bounce) AS b, COALESCE(sum(duration_ms), 0) AS d, \
                      count(entry_page) AS en FROM {s}), \
              p AS (SELECT COALESCE(sum(entries), 0) AS en FROM {r} WHERE dim = 'page'), \
              r AS (SELECT COALESCE(sum(events), 0) AS ev, COALESCE(sum(pageviews), 0) AS pv, \
                      COALESCE(sum(visitors), 0) AS vi, COALESCE(sum(visits), 0) AS vs, \
                      COALESCE(sum(bounces), 0) AS b, COALESCE(sum(duration_ms), 0) AS d FROM {r} WHERE dim = '') \
         SELECT e.n, e.pv, e.vd, r.ev::int8, r.pv::int8, r.vi::int8, (r.vs - s.n)::int8, (r.b - s.b)::int8, \
                (r.d - s.d)::int8, (p.en - s.en)::int8 FROM e, s, r, p",
        e = t.events,
        s = t.sessions,
        r = t.rollup
    );
    let row = client.query_one(&sql, &[]).await?;
    Ok(FIGURES.iter().enumerate().map(|(i, name)| (*name, row.get::<_, i64>(i))).collect())
}

fn compare(expected: &Expected, measured: &[(&'static str, i64)]) -> Vec<String> {
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
    ];
    measured
        .iter()
        .zip(want)
        .filter(|((_, got), want)| got != want)
        .map(|((name, got), want)| format!("{name}: tables have {got}, expected {want}"))
        .collect()
}
