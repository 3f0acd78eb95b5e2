//! Profile events straight into the event store, fast: the input of the read benchmarks.
//!
//! Going through the command-service would take minutes per million events and measure the
//! write path again. Instead the events are written with `COPY` in one transaction that holds
//! the event-store head lock, exactly as the appender would have stored them: the same
//! protobuf payloads (`tally.v1.ProfileCreated` / `ProfileUpdated`), dense positions, stream
//! versions and `streams` rows. Handle claims (`unique_keys`) are not written: nothing in a
//! read benchmark creates a profile with a seeded handle.

use std::pin::pin;

use anyhow::Context;
use prost::Message;
use tally_proto::convert::{SCHEMA_VERSION, event_types};
use tally_proto::v1;
use tokio_postgres::Client;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

/// What was appended.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Seeded {
    pub profiles: u64,
    pub events: u64,
    /// The last position written.
    pub head: u64,
    pub seconds: f64,
}

/// The id of seeded profile `n` (1-based): the number itself as a UUID, so a load
/// generator and a pgbench script can pick a random existing profile without a lookup.
pub fn profile_id(n: u64) -> Uuid {
    Uuid::from_u128(u128::from(n))
}

/// The SQL form of [`profile_id`] for the pgbench script (`:n` is bound by pgbench).
pub const PROFILE_ID_SQL: &str = "lpad(to_hex(:n::bigint), 32, '0')::uuid";

/// Applies the event store's migrations to `url` (the command-service would do it on start).
pub async fn migrate(url: &str) -> anyhow::Result<()> {
    let config: tokio_postgres::Config = url.parse().context("event-store URL")?;
    tally_event_store::migrate::run(&config).await.context("migrating the event store")?;
    Ok(())
}

pub const EVENT_COLUMNS: [Type; 10] = [
    Type::INT8,
    Type::UUID,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::TEXT,
    Type::INT4,
    Type::BYTEA,
    Type::JSONB,
    Type::TIMESTAMPTZ,
];

/// Appends `profiles` ProfileCreated events, then `updates` rounds in which every profile
/// gets one ProfileUpdated (a new bio), so streams interleave as in service.
pub async fn profiles(db: &mut Client, profiles: u64, updates: u32) -> anyhow::Result<Seeded> {
    profiles_from(db, 1, profiles, updates).await
}

/// Like [`profiles`] for seeded profiles `first..first + profiles`, so a store can be grown
/// in steps whose ids stay dense (`1..=total`) for the readers.
pub async fn profiles_from(db: &mut Client, first_n: u64, profiles: u64, updates: u32) -> anyhow::Result<Seeded> {
    anyhow::ensure!(first_n >= 1, "seeded profile numbers start at 1");
    let started = std::time::Instant::now();
    let tx = db.transaction().await?;
    let head: i64 = tx.query_one("SELECT last_position FROM event_head WHERE id = 1 FOR UPDATE", &[]).await?.get(0);
    let first = u64::try_from(head)?;
    let now = chrono::Utc::now();
    let metadata = serde_json::json!({"actor": "tally-bench"});

    let sink = tx
        .copy_in(
            "COPY events (global_position, event_id, stream_id, category, stream_version, event_type, \
             schema_version, payload, metadata, recorded_at) FROM STDIN BINARY",
        )
        .await
        .context("COPY events")?;
    let mut writer = pin!(BinaryCopyInWriter::new(sink, &EVENT_COLUMNS));
    let mut position = first;
    for round in 0..=u64::from(updates) {
        for n in first_n..first_n + profiles {
            position += 1;
            let id = profile_id(n);
            let (event_type, payload) = event(id, n, round);
            let stream = format!("profile-{id}");
            let values: [&(dyn ToSql + Sync); 10] = [
                &i64::try_from(position)?,
                &Uuid::now_v7(),
                &stream,
                &"profile",
                &i64::try_from(round + 1)?,
                &event_type,
                &i32::try_from(SCHEMA_VERSION)?,
                &payload,
                &metadata,
                &now,
            ];
            writer.as_mut().write(&values).await.context("writing an event row")?;
        }
    }
    writer.finish().await.context("finishing COPY events")?;

    let versions = i64::from(updates) + 1;
    let last_round_start = i64::try_from(first + u64::from(updates) * profiles)?;
    tx.execute(
        "INSERT INTO streams (stream_id, category, version, last_position) \
         SELECT 'profile-' || lpad(to_hex(n), 32, '0')::uuid, 'profile', $1, $2 + n - $4 + 1 \
         FROM generate_series($4::bigint, $4::bigint + $3::bigint - 1) AS n",
        &[&versions, &last_round_start, &i64::try_from(profiles)?, &i64::try_from(first_n)?],
    )
    .await
    .context("writing streams")?;
    tx.execute("UPDATE event_head SET last_position = $1 WHERE id = 1", &[&i64::try_from(position)?]).await?;
    tx.commit().await.context("committing the seed")?;
    Ok(Seeded { profiles, events: position - first, head: position, seconds: started.elapsed().as_secs_f64() })
}

/// Round 0 creates profile `n`; later rounds give it a new bio.
fn event(id: Uuid, n: u64, round: u64) -> (&'static str, Vec<u8>) {
    let profile_id = id.to_string();
    if round == 0 {
        let created = v1::ProfileCreated {
            profile_id,
            handle: format!("seed{n}"),
            display_name: format!("Seed {n}"),
            email: format!("seed{n}@bench.example"),
            bio: "A seeded benchmark profile with a biography of ordinary length.".to_owned(),
            ..Default::default()
        };
        (event_types::PROFILE_CREATED, created.encode_to_vec())
    } else {
        let updated = v1::ProfileUpdated {
            profile_id,
            bio: Some(format!("Revision {round} of a seeded benchmark profile's biography.")),
            ..Default::default()
        };
        (event_types::PROFILE_UPDATED, updated.encode_to_vec())
    }
}
