//! One batch transaction: lock the head, read what the plan needs, write
//! what it decided, notify tailers, commit.

use std::collections::HashMap;

use deadpool_postgres::Transaction;
use tokio_postgres::types::Type;

use crate::{
    AppendError, AppendRequest, AppendResult, NOTIFY_CHANNEL,
    plan::{Plan, Snapshot, StoredResult, StreamHead, plan},
};

/// Runs one batch. `Err` means the transaction failed and nothing of the
/// batch was written.
pub(crate) async fn run(
    tx: &Transaction<'_>,
    requests: &[AppendRequest],
) -> Result<Vec<Result<AppendResult, AppendError>>, tokio_postgres::Error> {
    let snapshot = read_snapshot(tx, requests).await?;
    let plan = plan(requests, snapshot);
    if !plan.is_write_free() {
        write(tx, requests, &plan).await?;
    }
    Ok(plan.outcomes)
}

async fn read_snapshot(tx: &Transaction<'_>, requests: &[AppendRequest]) -> Result<Snapshot, tokio_postgres::Error> {
    // The row lock on the head serialises appenders across every command pod
    // until commit: that is what makes positions follow commit order.
    let lock = tx.prepare_cached("SELECT last_position, now() FROM event_head WHERE id = 1 FOR UPDATE").await?;
    let head_row = tx.query_one(&lock, &[]).await?;
    let (head, now): (i64, chrono::DateTime<chrono::Utc>) = (head_row.get(0), head_row.get(1));

    let ids: Vec<&str> = requests.iter().filter_map(|r| r.command_id.as_deref()).collect();
    let mut results = HashMap::new();
    if !ids.is_empty() {
        let stmt = tx
            .prepare_cached(
                "SELECT command_id, fingerprint, stream_version, global_position, events_appended, recorded_at, \
                        stream_id FROM command_results WHERE command_id = ANY($1)",
            )
            .await?;
        for row in tx.query(&stmt, &[&ids]).await? {
            let result = AppendResult {
                stream_id: row.get(6),
                stream_version: row.get::<_, i64>(2) as u64,
                global_position: row.get::<_, i64>(3) as u64,
                events_appended: row.get::<_, i32>(4) as u32,
                replayed: true,
                recorded_at: row.get(5),
            };
            results.insert(row.get(0), StoredResult { fingerprint: row.get(1), result });
        }
    }

    let streams: Vec<&str> = requests.iter().map(|r| r.stream_id.as_str()).collect();
    let stmt =
        tx.prepare_cached("SELECT stream_id, version, last_position FROM streams WHERE stream_id = ANY($1)").await?;
    let streams = tx
        .query(&stmt, &[&streams])
        .await?
        .into_iter()
        .map(|row| {
            let head = StreamHead { version: row.get::<_, i64>(1) as u64, last_position: row.get::<_, i64>(2) as u64 };
            (row.get(0), head)
        })
        .collect();

    let (scopes, keys): (Vec<&str>, Vec<&str>) =
        requests.iter().flat_map(|r| &r.claims).map(|c| (c.scope.as_str(), c.key.as_str())).unzip();
    let mut owners = HashMap::new();
    if !scopes.is_empty() {
        let stmt = tx
            .prepare_cached(
                "SELECT k.scope, k.key, k.stream_id FROM unique_keys k \
                 JOIN unnest($1::text[], $2::text[]) AS w(scope, key) USING (scope, key)",
            )
            .await?;
        for row in tx.query(&stmt, &[&scopes, &keys]).await? {
            owners.insert((row.get(0), row.get(1)), row.get(2));
        }
    }
    Ok(Snapshot { head: head as u64, now, results, streams, keys: owners })
}

async fn write(tx: &Transaction<'_>, requests: &[AppendRequest], plan: &Plan) -> Result<(), tokio_postgres::Error> {
    insert_events(tx, requests, plan).await?;

    if !plan.streams.is_empty() {
        let (mut ids, mut cats, mut versions, mut positions) = (vec![], vec![], vec![], vec![]);
        for (id, (cat, head)) in &plan.streams {
            ids.push(id.as_str());
            cats.push(cat.as_str());
            versions.push(head.version as i64);
            positions.push(head.last_position as i64);
        }
        let stmt = tx
            .prepare_cached(
                "INSERT INTO streams (stream_id, category, version, last_position) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) \
                 ON CONFLICT (stream_id) DO UPDATE \
                 SET version = excluded.version, last_position = excluded.last_position, updated_at = now()",
            )
            .await?;
        tx.execute(&stmt, &[&ids, &cats, &versions, &positions]).await?;
    }

    if !plan.results.is_empty() {
        let stmt = tx
            .prepare_cached(
                "INSERT INTO command_results \
                 (command_id, fingerprint, stream_id, stream_version, global_position, events_appended, recorded_at) \
                 SELECT *, now() FROM unnest($1::text[], $2::bytea[], $3::text[], $4::bigint[], $5::bigint[], $6::int[])",
            )
            .await?;
        let ids: Vec<&str> = plan.results.iter().map(|r| r.0.as_str()).collect();
        let prints: Vec<&[u8]> = plan.results.iter().map(|r| r.1.as_slice()).collect();
        let streams: Vec<&str> = plan.results.iter().map(|r| r.2.as_str()).collect();
        let versions: Vec<i64> = plan.results.iter().map(|r| r.3.stream_version as i64).collect();
        let positions: Vec<i64> = plan.results.iter().map(|r| r.3.global_position as i64).collect();
        let counts: Vec<i32> = plan.results.iter().map(|r| r.3.events_appended as i32).collect();
        tx.execute(&stmt, &[&ids, &prints, &streams, &versions, &positions, &counts]).await?;
    }

    write_keys(tx, plan).await?;

    let stmt = tx.prepare_cached("UPDATE event_head SET last_position = $1 WHERE id = 1").await?;
    tx.execute(&stmt, &[&(plan.head as i64)]).await?;
    if !plan.rows.is_empty() {
        let stmt = tx.prepare_cached("SELECT pg_notify($1, $2)").await?;
        tx.execute(&stmt, &[&NOTIFY_CHANNEL, &plan.head.to_string()]).await?;
    }
    Ok(())
}

async fn insert_events(
    tx: &Transaction<'_>,
    requests: &[AppendRequest],
    plan: &Plan,
) -> Result<(), tokio_postgres::Error> {
    if plan.rows.is_empty() {
        return Ok(());
    }
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
    // One statement for the whole batch; `now()` is the transaction's time,
    // so a batch shares one recorded_at.
    let stmt = tx
        .prepare_typed_cached(
            "INSERT INTO events (global_position, event_id, stream_id, category, stream_version, \
                                 event_type, schema_version, payload, metadata, recorded_at) \
             SELECT p, i, s, c, v, t, sv, pl, m, now() \
             FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::bigint[], \
                         $6::text[], $7::int[], $8::bytea[], $9::jsonb[]) AS x(p, i, s, c, v, t, sv, pl, m)",
            &[
                Type::INT8_ARRAY,
                Type::UUID_ARRAY,
                Type::TEXT_ARRAY,
                Type::TEXT_ARRAY,
                Type::INT8_ARRAY,
                Type::TEXT_ARRAY,
                Type::INT4_ARRAY,
                Type::BYTEA_ARRAY,
                Type::JSONB_ARRAY,
            ],
        )
        .await?;
    tx.execute(&stmt, &[&positions, &ids, &streams, &cats, &versions, &types, &schemas, &payloads, &metas]).await?;
    Ok(())
}

async fn write_keys(tx: &Transaction<'_>, plan: &Plan) -> Result<(), tokio_postgres::Error> {
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
    if !del_scope.is_empty() {
        let stmt = tx
            .prepare_cached(
                "DELETE FROM unique_keys k USING unnest($1::text[], $2::text[]) AS d(scope, key) \
                 WHERE k.scope = d.scope AND k.key = d.key",
            )
            .await?;
        tx.execute(&stmt, &[&del_scope, &del_key]).await?;
    }
    if !put_scope.is_empty() {
        let stmt = tx
            .prepare_cached(
                "INSERT INTO unique_keys (scope, key, stream_id) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) \
                 ON CONFLICT (scope, key) DO UPDATE SET stream_id = excluded.stream_id, claimed_at = now()",
            )
            .await?;
        tx.execute(&stmt, &[&put_scope, &put_key, &put_owner]).await?;
    }
    Ok(())
}
