//! The one-round-trip append: decide a batch against what its commands
//! presume, and let the write itself check the presumptions.
//!
//! Why: the read-then-write batch (`batch.rs`) holds the append lock across two
//! round trips, and the pod's appender is serial, so every round trip is time in
//! which no command of any pod commits. But a command-service almost always
//! knows what that first round trip would read: its expected version comes from
//! the aggregate it has cached, a new stream does not exist, a command id has
//! not been used, a handle it claims is free. So the batch is planned against
//! those presumptions (the same pure [`plan`] as always) and written in one
//! statement that also checks them:
//!
//! - a stream presumed at version `v` is updated `WHERE version = v`; under READ
//!   COMMITTED the update re-checks the newest committed row, so a write of
//!   another pod that committed while this statement waited for the lock is
//!   seen. The number of rows updated must be the number presumed;
//! - a stream presumed new, a command id presumed unused and a key presumed free
//!   are plain inserts: their unique indexes refuse them if that is wrong;
//! - a key presumed owned by the releasing stream is deleted only if it still is,
//!   and again the count must match;
//! - positions are assigned in the statement, after the head row is locked, so
//!   they stay dense and in commit order.
//!
//! A refuted presumption fails the statement, so nothing is written and the
//! caller runs the read-then-write batch, which decides from what is stored
//! (and answers the conflicts). Batches that presume nothing useful —
//! `ExpectedVersion::Any`, a command without events, a key claimed twice — go
//! there directly.

use std::collections::{HashMap, HashSet, hash_map::Entry};

use deadpool_postgres::Client;
use futures::future::join3;
use tokio_postgres::error::SqlState;

use crate::{
    AppendError, AppendRequest, AppendResult, ClaimAction, ExpectedVersion, NOTIFY_CHANNEL,
    plan::{Plan, Snapshot, StreamHead, plan},
};

/// What became of a batch on this path.
#[derive(Debug)]
pub(crate) enum Presumed {
    /// Committed; each request's outcome, in order.
    Committed(Vec<Result<AppendResult, AppendError>>),
    /// The database refuted a presumption; nothing was written.
    Refuted,
    /// The batch presumes too little to be decided without reading first.
    NotApplicable,
}

/// The custom SQLSTATE of `tally_presumption_holds` (migration V4).
const REFUTED: &str = "TA001";

/// What the batch's requests take for granted.
#[derive(Debug, Default)]
struct Presumptions {
    snapshot: Snapshot,
    /// Streams presumed to exist, with the version presumed.
    existing: HashMap<String, u64>,
}

/// The presumptions of `requests`, or `None` if they do not determine a plan.
fn presume(requests: &[AppendRequest]) -> Option<Presumptions> {
    let mut p = Presumptions::default();
    let mut versions: HashMap<&str, u64> = HashMap::new();
    let mut keys: HashSet<(&str, &str)> = HashSet::new();
    for req in requests {
        if req.events.is_empty() {
            return None;
        }
        let version = match req.expected {
            ExpectedVersion::Any => return None,
            ExpectedVersion::NoStream => 0,
            ExpectedVersion::Exact(v) => v,
        };
        // Only a stream's first request says what is stored; later ones in the
        // batch are decided against the first one's outcome, as always.
        versions.entry(&req.stream_id).or_insert(version);
        for claim in &req.claims {
            // A key changing hands inside one batch is rare; reading is simpler.
            if !keys.insert((&claim.scope, &claim.key)) {
                return None;
            }
            if claim.action == ClaimAction::Release {
                p.snapshot.keys.insert((claim.scope.clone(), claim.key.clone()), req.stream_id.clone());
            }
        }
    }
    for (stream, version) in versions {
        if version > 0 {
            // `last_position` is unknown, but only a request without events
            // answers with it, and those are not presumed.
            p.snapshot.streams.insert(stream.to_owned(), StreamHead { version, last_position: 0 });
            p.existing.insert(stream.to_owned(), version);
        }
    }
    Some(p)
}

/// Tries the batch on the one-round-trip path. `Err` is a failure other than a
/// refuted presumption; as with [`crate::batch::execute`], nothing was written
/// and the caller rolls back whatever is left open.
pub(crate) async fn execute(client: &Client, requests: &[AppendRequest]) -> Result<Presumed, tokio_postgres::Error> {
    let Some(presumed) = presume(requests) else {
        return Ok(Presumed::NotApplicable);
    };
    // Positions are planned from 0 and offset by the head the statement locks.
    let plan = plan(requests, presumed.snapshot);
    if plan.outcomes.iter().any(Result::is_err) {
        // The batch contradicts itself (e.g. two writers of one stream with the
        // same expected version); the read-then-write path words the answers.
        return Ok(Presumed::NotApplicable);
    }
    let write = client.prepare_cached(WRITE_PRESUMED).await?;
    let params = Params::new(requests, &plan, &presumed.existing);
    // Every reply is awaited, not only up to the first error: on a failed write the
    // transaction is aborted and it is the COMMIT that ends it (as a rollback), so the
    // connection must not be used again before that reply is in.
    let (begun, written, committed) = join3(
        client.batch_execute("BEGIN; SET LOCAL plan_cache_mode = force_generic_plan"),
        params.query(client, &write),
        client.batch_execute("COMMIT"),
    )
    .await;
    let row = match begun.and(written).and_then(|row| committed.map(|()| row)) {
        Ok(row) => row,
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) || e.code().map(SqlState::code) == Some(REFUTED) => {
            return Ok(Presumed::Refuted);
        }
        Err(e) => return Err(e),
    };
    let base = row.get::<_, i64>(0) as u64;
    let now = chrono::DateTime::from_timestamp_micros(row.get(1)).expect("now() is a valid timestamp");
    let mut outcomes = plan.outcomes;
    for result in outcomes.iter_mut().flatten() {
        result.global_position += base;
        result.recorded_at = now;
    }
    Ok(Presumed::Committed(outcomes))
}

/// The statement: lock the head and take the batch's positions from it, write
/// everything, check the counts, notify tailers. One round trip, with the lock
/// held only from its first step to the commit pipelined behind it.
const WRITE_PRESUMED: &str = "\
    WITH hd AS ( \
        UPDATE event_head SET last_position = last_position + cardinality($1::bigint[]) WHERE id = 1 \
        RETURNING last_position - cardinality($1::bigint[]) AS base \
    ), ev AS ( \
        INSERT INTO events (global_position, event_id, stream_id, category, stream_version, \
                            event_type, schema_version, payload, metadata, recorded_at) \
        SELECT hd.base + x.p, x.i, x.s, x.c, x.v, x.t, x.sv, x.pl, x.m, now() \
          FROM hd, unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::bigint[], \
                          $6::text[], $7::int[], $8::bytea[], $9::jsonb[]) AS x(p, i, s, c, v, t, sv, pl, m) \
    ), su AS ( \
        UPDATE streams SET version = u.v, last_position = hd.base + u.p, updated_at = now() \
          FROM hd, unnest($10::text[], $11::bigint[], $12::bigint[], $13::bigint[]) AS u(id, was, v, p) \
         WHERE streams.stream_id = u.id AND streams.version = u.was \
        RETURNING 1 \
    ), si AS ( \
        INSERT INTO streams (stream_id, category, version, last_position) \
        SELECT n.id, n.c, n.v, hd.base + n.p \
          FROM hd, unnest($14::text[], $15::text[], $16::bigint[], $17::bigint[]) AS n(id, c, v, p) \
    ), cr AS ( \
        INSERT INTO command_results \
            (command_id, fingerprint, stream_id, stream_version, global_position, events_appended, recorded_at) \
        SELECT r.id, r.f, r.s, r.v, hd.base + r.p, r.n, now() \
          FROM hd, unnest($18::text[], $19::bytea[], $20::text[], $21::bigint[], $22::bigint[], $23::int[]) \
               AS r(id, f, s, v, p, n) \
    ), kd AS ( \
        DELETE FROM unique_keys k USING unnest($24::text[], $25::text[], $26::text[]) AS d(scope, key, owner) \
         WHERE k.scope = d.scope AND k.key = d.key AND k.stream_id = d.owner \
        RETURNING 1 \
    ), ki AS ( \
        INSERT INTO unique_keys (scope, key, stream_id) SELECT * FROM unnest($27::text[], $28::text[], $29::text[]) \
    ) \
    SELECT hd.base, (extract(epoch FROM now()) * 1000000)::bigint, \
           tally_presumption_holds((SELECT count(*) FROM su) = cardinality($10::text[]) \
                               AND (SELECT count(*) FROM kd) = cardinality($24::text[])), \
           pg_notify($30::text, (hd.base + cardinality($1::bigint[]))::text) \
      FROM hd";

/// The statement's parameters, column by column.
struct Params<'a> {
    positions: Vec<i64>,
    ids: Vec<uuid::Uuid>,
    streams: Vec<&'a str>,
    cats: Vec<&'a str>,
    versions: Vec<i64>,
    types: Vec<&'a str>,
    schemas: Vec<i32>,
    payloads: Vec<&'a [u8]>,
    metas: Vec<serde_json::Value>,
    /// Streams presumed to exist (`was` is the version presumed) and new ones.
    updated: StreamColumns<'a>,
    inserted: StreamColumns<'a>,
    results: ResultColumns<'a>,
    released: KeyColumns<'a>,
    acquired: KeyColumns<'a>,
}

#[derive(Default)]
struct StreamColumns<'a> {
    ids: Vec<&'a str>,
    cats: Vec<&'a str>,
    was: Vec<i64>,
    versions: Vec<i64>,
    positions: Vec<i64>,
}

#[derive(Default)]
struct ResultColumns<'a> {
    ids: Vec<&'a str>,
    prints: Vec<&'a [u8]>,
    streams: Vec<&'a str>,
    versions: Vec<i64>,
    positions: Vec<i64>,
    counts: Vec<i32>,
}

#[derive(Default)]
struct KeyColumns<'a> {
    scopes: Vec<&'a str>,
    keys: Vec<&'a str>,
    owners: Vec<&'a str>,
}

impl<'a> Params<'a> {
    fn new(requests: &'a [AppendRequest], plan: &'a Plan, existing: &HashMap<String, u64>) -> Self {
        let n = plan.rows.len();
        let mut p = Params {
            positions: Vec::with_capacity(n),
            ids: Vec::with_capacity(n),
            streams: Vec::with_capacity(n),
            cats: Vec::with_capacity(n),
            versions: Vec::with_capacity(n),
            types: Vec::with_capacity(n),
            schemas: Vec::with_capacity(n),
            payloads: Vec::with_capacity(n),
            metas: Vec::with_capacity(n),
            updated: Default::default(),
            inserted: Default::default(),
            results: Default::default(),
            released: Default::default(),
            acquired: Default::default(),
        };
        for row in &plan.rows {
            let req = &requests[row.request];
            let ev = &req.events[row.event];
            p.positions.push(row.global_position as i64);
            p.ids.push(ev.event_id);
            p.streams.push(&req.stream_id);
            p.cats.push(&req.category);
            p.versions.push(row.stream_version as i64);
            p.types.push(&ev.event_type);
            p.schemas.push(ev.schema_version as i32);
            p.payloads.push(&ev.payload);
            p.metas.push(serde_json::to_value(&ev.metadata).expect("metadata is plain strings"));
        }
        for (id, (cat, head)) in &plan.streams {
            match existing.get(id) {
                Some(&was) => {
                    p.updated.ids.push(id);
                    p.updated.was.push(was as i64);
                    p.updated.versions.push(head.version as i64);
                    p.updated.positions.push(head.last_position as i64);
                }
                None => {
                    p.inserted.ids.push(id);
                    p.inserted.cats.push(cat);
                    p.inserted.versions.push(head.version as i64);
                    p.inserted.positions.push(head.last_position as i64);
                }
            }
        }
        for (id, print, stream, result) in &plan.results {
            p.results.ids.push(id);
            p.results.prints.push(print);
            p.results.streams.push(stream);
            p.results.versions.push(result.stream_version as i64);
            p.results.positions.push(result.global_position as i64);
            p.results.counts.push(result.events_appended as i32);
        }
        // Each key is claimed once per presumed batch, so its final owner says
        // what happened: `None` released by the stream presumed to own it.
        let mut owners: HashMap<(&str, &str), &str> = HashMap::new();
        for req in requests {
            for claim in &req.claims {
                if let Entry::Vacant(slot) = owners.entry((&claim.scope, &claim.key)) {
                    slot.insert(&req.stream_id);
                }
            }
        }
        for ((scope, key), owner) in &plan.keys {
            match owner {
                None => {
                    p.released.scopes.push(scope);
                    p.released.keys.push(key);
                    p.released.owners.push(owners[&(scope.as_str(), key.as_str())]);
                }
                Some(owner) => {
                    p.acquired.scopes.push(scope);
                    p.acquired.keys.push(key);
                    p.acquired.owners.push(owner);
                }
            }
        }
        p
    }

    async fn query(
        &self,
        client: &Client,
        write: &tokio_postgres::Statement,
    ) -> Result<tokio_postgres::Row, tokio_postgres::Error> {
        let (u, i, r, d, a) = (&self.updated, &self.inserted, &self.results, &self.released, &self.acquired);
        client
            .query_one(
                write,
                &[
                    &self.positions,
                    &self.ids,
                    &self.streams,
                    &self.cats,
                    &self.versions,
                    &self.types,
                    &self.schemas,
                    &self.payloads,
                    &self.metas,
                    &u.ids,
                    &u.was,
                    &u.versions,
                    &u.positions,
                    &i.ids,
                    &i.cats,
                    &i.versions,
                    &i.positions,
                    &r.ids,
                    &r.prints,
                    &r.streams,
                    &r.versions,
                    &r.positions,
                    &r.counts,
                    &d.scopes,
                    &d.keys,
                    &d.owners,
                    &a.scopes,
                    &a.keys,
                    &a.owners,
                    &NOTIFY_CHANNEL,
                ],
            )
            .await
    }
}
