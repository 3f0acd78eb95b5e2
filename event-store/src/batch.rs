//! One batch transaction in two round trips: lock the head and read what the
//! plan needs, then write what it decided and commit. The command appender
//! first tries one round trip on presumptions (`presumed.rs`) and comes here
//! when they are refuted or do not apply; analytics ingest always comes here.
//!
//! Why two round trips and not one statement per table: the append lock is
//! held from the first round trip until commit, so every round trip inside it
//! is time no other batch (of any pod) can append. Under load each one costs a
//! wake-up of the backend and of this task — the statements themselves are a
//! small share of a batch's time (see docs/benchmarks.md). So the statements
//! of each phase are *pipelined* (sent back to back, answers awaited
//! together), and the writes are a single statement of data-modifying CTEs.

use deadpool_postgres::Client;
use futures::future::{try_join, try_join3};
use tokio_postgres::Row;

use crate::{
    AppendError, AppendRequest, AppendResult, NOTIFY_CHANNEL,
    plan::{Plan, Snapshot, StoredResult, StreamHead, plan},
};

/// Whether [`execute`] opens the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    Begin,
    /// The caller already ran `BEGIN` (and its own statements, e.g. the analytics
    /// dedupe, which must be in the same transaction).
    InTransaction,
}

/// Whether [`execute`] ends the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finish {
    Commit,
    /// Leave the transaction (and the append lock) open: the caller commits
    /// after its own checks (analytics), or holds the lock (tests).
    LeaveOpen,
}

/// Runs one batch on `client`. `Err` means nothing of the batch was written;
/// the caller rolls back whatever is left open (`ROLLBACK` outside a
/// transaction is only a warning).
pub(crate) async fn execute(
    client: &Client,
    requests: &[AppendRequest],
    start: Start,
    finish: Finish,
) -> Result<Vec<Result<AppendResult, AppendError>>, tokio_postgres::Error> {
    // Prepared before anything is sent: a statement that still needed preparing
    // would send its Parse after later statements of the pipeline.
    let lock = client.prepare_cached(LOCK_HEAD).await?;
    let read = client.prepare_cached(READ_SNAPSHOT).await?;
    let write = client.prepare_cached(WRITE_BATCH).await?;

    let snapshot = read_snapshot(client, &lock, &read, requests, start).await?;
    let plan = plan(requests, snapshot);
    let commit = async {
        match finish {
            Finish::Commit => client.batch_execute("COMMIT").await,
            Finish::LeaveOpen => Ok(()),
        }
    };
    if plan.is_write_free() {
        commit.await?;
    } else {
        // A failed write aborts the transaction, and the pipelined COMMIT then
        // rolls back: the error of the write is what `try_join` reports.
        try_join(write_batch(client, &write, requests, &plan), commit).await?;
    }
    Ok(plan.outcomes)
}

/// Opens the transaction (one simple query) and takes the append lock, then —
/// pipelined behind it, so with a snapshot taken after the lock was granted —
/// reads the idempotency records, stream heads and key owners the plan needs.
/// The lock is a prepared statement too: as text it was parsed and planned on
/// every batch (`plans` ≈ `calls` in `--pg-stat-statements`).
///
/// The row lock on the head serialises appenders across every command pod
/// until commit: that is what makes positions follow commit order.
const LOCK_HEAD: &str =
    "SELECT last_position, (extract(epoch FROM now()) * 1000000)::bigint FROM event_head WHERE id = 1 FOR UPDATE";

/// One statement for the three reads; `kind` says which table a row is from.
const READ_SNAPSHOT: &str = "\
    SELECT 1 AS kind, command_id AS a, stream_id AS b, NULL::text AS c, fingerprint AS f, \
           stream_version AS v, global_position AS p, events_appended::bigint AS n, recorded_at AS t \
      FROM command_results WHERE command_id = ANY($1::text[]) \
    UNION ALL \
    SELECT 2, stream_id, NULL, NULL, NULL, version, last_position, NULL, NULL \
      FROM streams WHERE stream_id = ANY($2::text[]) \
    UNION ALL \
    SELECT 3, k.scope, k.key, k.stream_id, NULL, NULL, NULL, NULL, NULL \
      FROM unique_keys k JOIN unnest($3::text[], $4::text[]) AS w(scope, key) USING (scope, key)";

async fn read_snapshot(
    client: &Client,
    lock: &tokio_postgres::Statement,
    read: &tokio_postgres::Statement,
    requests: &[AppendRequest],
    start: Start,
) -> Result<Snapshot, tokio_postgres::Error> {
    let ids: Vec<&str> = requests.iter().filter_map(|r| r.command_id.as_deref()).collect();
    let streams: Vec<&str> = requests.iter().map(|r| r.stream_id.as_str()).collect();
    let (scopes, keys): (Vec<&str>, Vec<&str>) =
        requests.iter().flat_map(|r| &r.claims).map(|c| (c.scope.as_str(), c.key.as_str())).unzip();

    // Generic plans for the batch's prepared statements: by default Postgres
    // keeps re-planning statements over `unnest` arrays and partitioned tables
    // ("custom plans"), and a `perf` profile of a loaded run showed planning as a
    // quarter of the backend's time — all of it under the append lock.
    let open = match start {
        Start::Begin => "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan",
        Start::InTransaction => "SET LOCAL plan_cache_mode = force_generic_plan",
    };
    let ((), head, rows) = try_join3(
        client.batch_execute(open),
        client.query_one(lock, &[]),
        client.query(read, &[&ids, &streams, &scopes, &keys]),
    )
    .await?;
    let now = chrono::DateTime::from_timestamp_micros(head.get(1)).expect("now() is a valid timestamp");
    let head = head.get::<_, i64>(0) as u64;

    let mut snapshot = Snapshot { head, now, ..Snapshot::default() };
    for row in rows {
        absorb(&mut snapshot, &row);
    }
    Ok(snapshot)
}

fn absorb(snapshot: &mut Snapshot, row: &Row) {
    let text = |i: usize| -> String { row.get(i) };
    match row.get::<_, i32>("kind") {
        1 => {
            let result = AppendResult {
                stream_id: text(2),
                stream_version: row.get::<_, i64>(5) as u64,
                global_position: row.get::<_, i64>(6) as u64,
                events_appended: row.get::<_, i64>(7) as u32,
                replayed: true,
                recorded_at: row.get(8),
            };
            snapshot.results.insert(text(1), StoredResult { fingerprint: row.get(4), result });
        }
        2 => {
            let head = StreamHead { version: row.get::<_, i64>(5) as u64, last_position: row.get::<_, i64>(6) as u64 };
            snapshot.streams.insert(text(1), head);
        }
        _ => {
            snapshot.keys.insert((text(1), text(2)), text(3));
        }
    }
}

/// Every write of a batch in one statement. Data-modifying CTEs all run, once,
/// against the same snapshot; none of them touches a row another one touches
/// (streams and keys are distinct per batch), so their order does not matter.
/// Empty arrays make a CTE a no-op. `now()` is the transaction's time, so a
/// batch shares one `recorded_at`.
const WRITE_BATCH: &str = "\
    WITH ev AS ( \
        INSERT INTO events (global_position, event_id, stream_id, category, stream_version, \
                            event_type, schema_version, payload, metadata, recorded_at) \
        SELECT p, i, s, c, v, t, sv, pl, m, now() \
          FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::bigint[], \
                      $6::text[], $7::int[], $8::bytea[], $9::jsonb[]) AS x(p, i, s, c, v, t, sv, pl, m) \
    ), st AS ( \
        INSERT INTO streams (stream_id, category, version, last_position) \
        SELECT * FROM unnest($10::text[], $11::text[], $12::bigint[], $13::bigint[]) \
        ON CONFLICT (stream_id) DO UPDATE \
        SET version = excluded.version, last_position = excluded.last_position, updated_at = now() \
    ), cr AS ( \
        INSERT INTO command_results \
            (command_id, fingerprint, stream_id, stream_version, global_position, events_appended, recorded_at) \
        SELECT *, now() FROM unnest($14::text[], $15::bytea[], $16::text[], $17::bigint[], $18::bigint[], $19::int[]) \
    ), kd AS ( \
        DELETE FROM unique_keys k USING unnest($20::text[], $21::text[]) AS d(scope, key) \
         WHERE k.scope = d.scope AND k.key = d.key \
    ), ki AS ( \
        INSERT INTO unique_keys (scope, key, stream_id) \
        SELECT * FROM unnest($22::text[], $23::text[], $24::text[]) \
        ON CONFLICT (scope, key) DO UPDATE SET stream_id = excluded.stream_id, claimed_at = now() \
    ), hd AS ( \
        UPDATE event_head SET last_position = $25::bigint WHERE id = 1 \
    ) \
    SELECT pg_notify($26::text, $25::bigint::text) WHERE cardinality($1::bigint[]) > 0";

async fn write_batch(
    client: &Client,
    write: &tokio_postgres::Statement,
    requests: &[AppendRequest],
    plan: &Plan,
) -> Result<(), tokio_postgres::Error> {
    let n = plan.rows.len();
    let (mut positions, mut ids, mut streams, mut cats, mut versions) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut types, mut schemas, mut payloads, mut metas) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for row in &plan.rows {
        let req = &requests[row.request];
        let ev = &req.events[row.event];
        positions.push(row.global_position as i64);
        ids.push(ev.event_id);
        streams.push(req.stream_id.as_str());
        cats.push(req.category.as_str());
        versions.push(row.stream_version as i64);
        types.push(ev.event_type.as_str());
        schemas.push(ev.schema_version as i32);
        payloads.push(ev.payload.as_slice());
        metas.push(serde_json::to_value(&ev.metadata).expect("metadata is plain strings"));
    }

    let (mut s_ids, mut s_cats, mut s_versions, mut s_positions) = (vec![], vec![], vec![], vec![]);
    for (id, (cat, head)) in &plan.streams {
        s_ids.push(id.as_str());
        s_cats.push(cat.as_str());
        s_versions.push(head.version as i64);
        s_positions.push(head.last_position as i64);
    }

    let r = &plan.results;
    let r_ids: Vec<&str> = r.iter().map(|r| r.0.as_str()).collect();
    let r_prints: Vec<&[u8]> = r.iter().map(|r| r.1.as_slice()).collect();
    let r_streams: Vec<&str> = r.iter().map(|r| r.2.as_str()).collect();
    let r_versions: Vec<i64> = r.iter().map(|r| r.3.stream_version as i64).collect();
    let r_positions: Vec<i64> = r.iter().map(|r| r.3.global_position as i64).collect();
    let r_counts: Vec<i32> = r.iter().map(|r| r.3.events_appended as i32).collect();

    let (mut del_scope, mut del_key) = (vec![], vec![]);
    let (mut put_scope, mut put_key, mut put_owner) = (vec![], vec![], vec![]);
    for ((scope, key), owner) in &plan.keys {
        match owner {
            None => {
                del_scope.push(scope.as_str());
                del_key.push(key.as_str());
            }
            Some(owner) => {
                put_scope.push(scope.as_str());
                put_key.push(key.as_str());
                put_owner.push(owner.as_str());
            }
        }
    }

    let head = plan.head as i64;
    client
        .query(
            write,
            &[
                &positions,
                &ids,
                &streams,
                &cats,
                &versions,
                &types,
                &schemas,
                &payloads,
                &metas,
                &s_ids,
                &s_cats,
                &s_versions,
                &s_positions,
                &r_ids,
                &r_prints,
                &r_streams,
                &r_versions,
                &r_positions,
                &r_counts,
                &del_scope,
                &del_key,
                &put_scope,
                &put_key,
                &put_owner,
                &head,
                &NOTIFY_CHANNEL,
            ],
        )
        .await?;
    Ok(())
}
