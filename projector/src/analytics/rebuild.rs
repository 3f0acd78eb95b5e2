//! `projector rebuild analytics`: re-derive every session, rollup and event
//! row from the event store into a new version (with the configured session
//! timeout), verify it, and switch atomically — the same machinery and
//! guarantees as `rebuild profiles` (docs/read-side.md, "Rebuild"): the tables are filled in
//! bulk ([`super::fill`]), indexed, verified
//! ([`super::verify`]), and switched to in one transaction that first catches up with the
//! live projector. A write the read DB refuses makes the rebuild start over through the live
//! path, page by page, which dead-letters exactly the events at fault.

use std::{fmt, time::Instant};

use deadpool_postgres::Pool;
use tally_domain::sessions::Rules;
use tally_event_store::reader;
use tally_platform::causes::Causes;
use tokio_util::sync::CancellationToken;

use crate::{
    ProjectorError,
    analytics::{
        AnalyticsStatements,
        bulk::Bulk,
        fill::{Failure, Filler},
        pages::{Fill, Page, apply_page, live_fill, read_one, read_page, spawn_reader},
        schema::{ANALYTICS, AnalyticsTables},
        verify::{Expected, compare, measure},
    },
    rebuild::{Options, progress_bar, with_rebuild_lock},
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
    /// The read DB refused a bulk write, so the tables were filled through the live path.
    pub page_by_page: bool,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "rebuilt analytics v{} -> v{}: {} events in {:.1}s, {} dead-lettered",
            self.old_version, self.new_version, self.events, self.seconds, self.dead_lettered
        )?;
        if self.page_by_page {
            writeln!(f, "the read DB refused a bulk write: replayed page by page through the live path")?;
        }
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
        // Left by a rebuild that was killed outright; never the active version.
        client.batch_execute(&new.drop_ddl()).await?;
        client.batch_execute(&new.rebuild_ddl().0).await?;
    }
    let statements = AnalyticsStatements::new(new.version);
    match fill_verify_switch(read, store, rules, &statements, old_version, options, shutdown).await {
        Ok(filled) => {
            if options.drop_old {
                read.get().await?.batch_execute(&AnalyticsTables::new(old_version).drop_ddl()).await?;
            }
            Ok(Report {
                old_version,
                new_version: new.version,
                events: filled.events,
                dead_lettered: filled.dead_lettered,
                seconds: started.elapsed().as_secs_f64(),
                caught_up: filled.caught_up,
                applied_through: filled.applied_through,
                figures: filled.figures,
                old_dropped: options.drop_old,
                page_by_page: filled.page_by_page,
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

/// What filling, verifying and switching did.
struct Filled {
    events: u64,
    dead_lettered: u64,
    figures: Vec<(&'static str, i64)>,
    caught_up: u64,
    applied_through: i64,
    page_by_page: bool,
}

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
        reader::head_position(&client).await?
    };
    let tables = &statements.tables;
    let bulk = bulk_fill(read, store, rules, tables, head, options, shutdown).await;
    let ((events, dead_lettered, through, mut expected, letters), page_by_page) = match bulk {
        Ok(filled) => (filled, false),
        Err(Failure::Failed(e)) => return Err(e),
        Err(Failure::Refused(e, written)) => {
            tracing::warn!(
                error = %Causes(&e),
                "the read DB refused a bulk write; rebuilding page by page through the live path to find the culprits"
            );
            {
                let client = read.get().await?;
                client.batch_execute(&tables.drop_ddl()).await?;
                client.batch_execute(&tables.create_ddl()).await?;
            }
            let (events, dead_lettered, through, expected, letters) =
                live_fill(read, store, rules, statements, head, options, shutdown).await?;
            ((events, written + dead_lettered, through, expected, letters), true)
        }
    };
    if shutdown.is_cancelled() {
        return Err(interrupted());
    }
    // The tables rightly lack the events the rebuild dead-lettered, as a live projector's do.
    for position in letters {
        if let Some(e) = read_one(store, position).await? {
            expected.forget(&e);
        }
    }

    let figures = measure(&**read.get().await?, tables).await?;
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
    let (mut caught_up, mut through) = (0, through);
    while (through as i64) < live {
        let page: Vec<_> = read_page(store, through, options.page)
            .await?
            .into_iter()
            .take_while(|e| e.global_position as i64 <= live)
            .collect();
        let Some(last) = page.last().map(|e| e.global_position) else { break };
        let applied = apply_page(&tx, statements, rules, Page::new(page)).await?;
        (caught_up, through) = (caught_up + applied.events, last);
    }
    let applied_through = live.max(through as i64);
    tx.execute(
        "UPDATE projections SET active_version = $2, applied_through = $3, switched_at = now() WHERE name = $1",
        &[&ANALYTICS, &statements.version(), &applied_through],
    )
    .await?;
    tx.batch_execute(&tables.point_views_ddl()).await?;
    if shutdown.is_cancelled() {
        return Err(interrupted());
    }
    tx.commit().await?;
    tracing::info!(new_version = statements.version(), caught_up, "switched analytics to the rebuilt version");
    Ok(Filled { events, dead_lettered, figures, caught_up, applied_through, page_by_page })
}

/// The bulk fill ([`Filler`]), then what it deferred: the secondary index and fresh planner
/// statistics. Afterwards the tables are what the live path would have
/// made, ready to verify and switch to.
async fn bulk_fill(
    read: &Pool,
    store: &Pool,
    rules: &Rules,
    tables: &AnalyticsTables,
    head: u64,
    options: Options,
    shutdown: &CancellationToken,
) -> Result<Fill, Failure> {
    let interrupted =
        || Failure::Failed(ProjectorError::Rebuild(format!("interrupted: dropped the unfinished v{}", tables.version)));
    // The bar runs over the global order's positions, which are dense: exact progress and
    // ETA without counting the store's analytics events first (a scan of its own at 10 M).
    let bar = progress_bar(head, options.progress);
    let started = Instant::now();
    let (mut pages, reader) = spawn_reader(store.clone(), 0, head, options.page, Expected::default());
    let mut filler = Filler::new(read, rules, Bulk::new(tables), &options);
    let (mut events, mut through) = (0u64, 0u64);
    loop {
        let page = tokio::select! {
            _ = shutdown.cancelled() => { reader.abort(); return Err(interrupted()); }
            page = pages.recv() => page,
        };
        let Some(page) = page else { break };
        let page = page.map_err(Failure::Failed)?;
        through = through.max(page.through);
        let absorbed = filler.absorb(page).await;
        let n = match absorbed {
            Ok(n) => n,
            Err(e) => {
                reader.abort();
                return Err(e);
            }
        };
        events += n;
        bar.set_position(through.min(head));
    }
    let expected =
        reader.await.map_err(|e| Failure::Failed(ProjectorError::Rebuild(format!("the reader task failed: {e}"))))?;
    bar.finish_and_clear();
    if shutdown.is_cancelled() {
        return Err(interrupted());
    }
    let replayed = started.elapsed().as_secs_f64();
    filler.finish().await?;
    let finished = started.elapsed().as_secs_f64();
    let client = read.get().await?;
    client.batch_execute(&tables.rebuild_ddl().1).await?;
    // VACUUM as well as ANALYZE: rows written by COPY carry no hint bits and no
    // visibility map, so otherwise the first queries set them (writing pages) and
    // autovacuum later scans every new table while it serves reads.
    client
        .batch_execute(&format!(
            "VACUUM (ANALYZE) {}, {}, {}, {}",
            tables.rollup, tables.visitor_days, tables.sessions, tables.events
        ))
        .await?;
    tracing::info!(
        events,
        replayed,
        finished,
        indexed_vacuumed_analyzed = started.elapsed().as_secs_f64(),
        "bulk fill done (seconds since its start)"
    );
    Ok((events, filler.dead_lettered, through, expected, filler.letters))
}
