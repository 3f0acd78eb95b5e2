//! `projector rebuild profiles`: rebuild the projection from the event store
//! into a new version while the old one keeps serving, verify it, and switch
//! atomically (docs/read-side.md, "Rebuild").
//!
//! 1. Create `…_v{N+1}` from the same DDL template as V1 (unlogged, secondary
//!    indexes deferred); replay the event store into it with a progress bar,
//!    folding pages in memory and writing rows in bulk ([`fill`], [`bulk`]).
//! 2. Verify counts and per-column sums against an independent in-memory
//!    recomputation ([`verify`]).
//! 3. Switch in one transaction ([`switch`]).
//! 4. Ctrl-C / SIGTERM before the switch commits drops the new tables and
//!    fails; the old version is never touched.

pub mod bulk;
pub mod fill;
pub mod replay;
pub mod switch;
pub mod verify;

use std::{fmt, time::Instant};

use deadpool_postgres::Pool;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tally_event_store::reader;
use tokio_util::sync::CancellationToken;

use crate::{
    ProjectorError, migrate,
    schema::{PROFILES, VersionTables},
    settings::Settings,
    store::Statements,
};

/// Identifies "a rebuild is running" among advisory locks on the read DB.
pub(crate) const REBUILD_LOCK: i64 = 0x7A11_0002;

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub page: usize,
    /// About how many bytes of rows a rebuild may hold in memory before it writes them out
    /// and forgets them (see `fill`). A read model that fits is written once, at the end.
    pub memory_budget: usize,
    pub drop_old: bool,
    pub progress: bool,
}

/// The default [`Options::memory_budget`]: 512 MiB holds about a million profiles, and stays
/// well under the projector pod's limit in `deploy/k8s` (a rebuild runs in that pod).
pub const DEFAULT_MEMORY_BUDGET: usize = 512 * 1024 * 1024;

impl Default for Options {
    fn default() -> Self {
        Options { page: 5000, memory_budget: DEFAULT_MEMORY_BUDGET, drop_old: false, progress: false }
    }
}

/// What a finished rebuild reports.
#[derive(Debug, Clone)]
pub struct Report {
    pub old_version: i32,
    pub new_version: i32,
    pub events: u64,
    pub dead_lettered: u64,
    /// Bulk writes it took: 1 when the read model fit the memory budget.
    pub rounds: u64,
    pub seconds: f64,
    pub switched: switch::Switched,
    pub old_dropped: bool,
    pub figures: Vec<(&'static str, i128)>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rate = if self.seconds > 0.0 { self.events as f64 / self.seconds } else { 0.0 };
        writeln!(
            f,
            "rebuilt profiles v{} -> v{}: {} events in {:.1}s ({:.0} events/s), {} dead-lettered, \
             written in {} round(s)",
            self.old_version, self.new_version, self.events, self.seconds, rate, self.dead_lettered, self.rounds
        )?;
        writeln!(f, "verified against the event store:")?;
        for (name, value) in &self.figures {
            writeln!(f, "  {name} = {value}")?;
        }
        writeln!(
            f,
            "switched: caught up {} events to position {}; applied_through = {}",
            self.switched.caught_up, self.switched.live_position, self.switched.applied_through
        )?;
        let old = VersionTables::new(self.old_version);
        if self.old_dropped {
            write!(f, "dropped the old tables {}", old.all().join(", "))
        } else {
            write!(f, "kept the old tables {} (drop them with --drop-old next time, or by hand)", old.all().join(", "))
        }
    }
}

/// Rebuilds the profiles projection. Returns an error (and leaves no new
/// tables behind) if verification fails or `shutdown` fires before the switch.
#[tracing::instrument(skip_all, fields(page = options.page))]
pub async fn profiles(
    settings: &Settings,
    options: Options,
    shutdown: CancellationToken,
) -> Result<Report, ProjectorError> {
    with_rebuild_lock(settings, async |read, store| run(read, store, options, &shutdown).await).await
}

/// Opens the read-model and event-store pools a rebuild needs and runs `body` while holding
/// the read model's rebuild lock (one rebuild at a time, of any projection).
pub(crate) async fn with_rebuild_lock<T>(
    settings: &Settings,
    body: impl AsyncFnOnce(&Pool, &Pool) -> Result<T, ProjectorError>,
) -> Result<T, ProjectorError> {
    // Long aggregate queries are expected here; the service's timeout is not.
    let mut read_settings = settings.read_database.clone();
    read_settings.statement_timeout = std::time::Duration::ZERO;
    read_settings.pool_size = read_settings.pool_size.max(3);
    let mut store_settings = settings.event_store.clone();
    store_settings.statement_timeout = std::time::Duration::ZERO;
    let read = tally_platform::db::pool(&read_settings)?;
    let store = tally_platform::db::pool(&store_settings)?;
    migrate::run(&tally_platform::db::pg_config(&read_settings)?).await?;

    // Held for the whole rebuild on its own session.
    let guard = read.get().await?;
    let locked: bool = guard.query_one("SELECT pg_try_advisory_lock($1)", &[&REBUILD_LOCK]).await?.get(0);
    if !locked {
        return Err(ProjectorError::Rebuild("another rebuild of the read model is running".into()));
    }
    let result = body(&read, &store).await;
    let _ = guard.execute("SELECT pg_advisory_unlock($1)", &[&REBUILD_LOCK]).await;
    result
}

async fn run(
    read: &Pool,
    store: &Pool,
    options: Options,
    shutdown: &CancellationToken,
) -> Result<Report, ProjectorError> {
    let started = Instant::now();
    let old_version: i32 = {
        let client = read.get().await?;
        client
            .query_opt("SELECT active_version FROM projections WHERE name = $1", &[&PROFILES])
            .await?
            .ok_or(ProjectorError::NoProjection(PROFILES))?
            .get(0)
    };
    let new = VersionTables::new(old_version + 1);
    {
        let client = read.get().await?;
        // Left by a rebuild that was killed outright; never the active version.
        client.batch_execute(&new.drop_ddl()).await?;
        client.batch_execute(&new.rebuild_ddl().0).await?;
    }
    tracing::info!(old_version, new_version = new.version, "rebuilding profiles");

    let outcome = fill_verify_switch(read, store, old_version, &new, options, shutdown).await;
    let (events, dead_lettered, rounds, figures, switched) = match outcome {
        Ok(done) => done,
        Err(e) => {
            // Whatever failed (Ctrl-C, verification, an error), the new
            // tables go and the old version serves on.
            match read.get().await {
                Ok(client) => {
                    if let Err(drop) = client.batch_execute(&new.drop_ddl()).await {
                        tracing::error!(error = %drop, "could not drop the unfinished tables");
                    }
                }
                Err(pool) => tracing::error!(error = %pool, "could not drop the unfinished tables"),
            }
            return Err(e);
        }
    };

    let old_dropped = if options.drop_old {
        let client = read.get().await?;
        client.batch_execute(&VersionTables::new(old_version).drop_ddl()).await?;
        true
    } else {
        false
    };
    Ok(Report {
        old_version,
        new_version: new.version,
        events,
        dead_lettered,
        rounds,
        seconds: started.elapsed().as_secs_f64(),
        switched,
        old_dropped,
        figures,
    })
}

type Filled = (u64, u64, u64, Vec<(&'static str, i128)>, switch::Switched);

async fn fill_verify_switch(
    read: &Pool,
    store: &Pool,
    old_version: i32,
    new: &VersionTables,
    options: Options,
    shutdown: &CancellationToken,
) -> Result<Filled, ProjectorError> {
    let interrupted = || {
        ProjectorError::Rebuild(format!(
            "interrupted: dropped the unfinished v{}; v{old_version} still serves",
            new.version
        ))
    };
    let statements = Statements::new(new.version);
    let head = {
        let client = store.get().await.map_err(|e| ProjectorError::EventStore(e.into()))?;
        reader::head_position(&client).await?
    };
    // The bar runs over the global order's positions, which are dense: exact progress and
    // ETA without counting the store's profile events first (a scan of its own at 10 M).
    let bar = progress_bar(head, options.progress);

    // A few pages of read-ahead: the writer pauses the fold for each bulk flush, and the
    // reader keeps the event store busy meanwhile.
    let (mut pages, reader_task) = replay::spawn_reader::<crate::decode::Event, _>(
        store.clone(),
        replay::filter(),
        (0, head),
        options.page,
        8,
        verify::Model::default(),
    );
    let mut filler = fill::Filler::new(read, store, &statements, new.rebuild_ddl().1, &options);
    let mut events = 0u64;
    loop {
        let page = tokio::select! {
            _ = shutdown.cancelled() => { reader_task.abort(); return Err(interrupted()); }
            page = pages.recv() => page,
        };
        let Some(page) = page else { break };
        events += filler.absorb(page?).await?;
        bar.set_position(filler.through);
    }
    let model = reader_task.await.map_err(|e| ProjectorError::Rebuild(format!("the reader task failed: {e}")))?;
    bar.finish_and_clear();
    if shutdown.is_cancelled() {
        return Err(interrupted());
    }
    filler.finish().await?;
    let (dead_lettered, rounds, through) = (filler.dead_lettered, filler.rounds, filler.through);
    tracing::info!(events, through, "replay finished; verifying");

    let expected = model.figures();
    let actual = {
        let client = read.get().await?;
        tokio::select! {
            _ = shutdown.cancelled() => return Err(interrupted()),
            measured = verify::measure(&**client, new) => measured?,
        }
    };
    let mismatches = verify::compare(&expected, &actual);
    if !mismatches.is_empty() {
        return Err(ProjectorError::Rebuild(format!(
            "verification failed; dropped v{} and kept v{old_version}:\n  {}",
            new.version,
            mismatches.join("\n  ")
        )));
    }
    if shutdown.is_cancelled() {
        return Err(interrupted());
    }

    let mut client = read.get().await?;
    let prepared = tokio::select! {
        _ = shutdown.cancelled() => return Err(interrupted()),
        prepared = switch::prepare(&mut client, store, old_version, &statements, through, options.page) => prepared?,
    };
    let (tx, switched) = prepared;
    if shutdown.is_cancelled() {
        drop(tx);
        return Err(interrupted());
    }
    tx.commit().await?;
    tracing::info!(new_version = new.version, ?switched, "switched to the rebuilt version");
    Ok((events, dead_lettered, rounds, expected, switched))
}

pub(crate) fn progress_bar(total: u64, visible: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(total),
        if visible { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
    );
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} events  {per_sec}  ETA {eta}",
        )
        .expect("the template is valid"),
    );
    bar
}
