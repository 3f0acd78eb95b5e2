//! The baseline: a single-database design, where commands and reads share one table.
//!
//! One `profiles` table shaped like the read model's (plus the unique handle a single
//! database would enforce), holding the same seeded profiles under the same ids. A command is
//! one autocommit statement: an UPDATE of a random profile's bio (and version), or every
//! tenth an INSERT of a new profile; a read is the query-service's SELECT by primary key.
//! Both go through pools of prepared connections, as an application's pool would.

use anyhow::Context;
use tokio_postgres::{Client, Statement};

use crate::cluster;
use crate::seed;

pub const DATABASE: &str = "single_db";

/// The columns the query-service's GetProfile selects, as in `reads`.
const COLUMNS: &str =
    "id, handle, display_name, email, bio, avatar_url, attributes, sites, version, create_time, update_time";

const SCHEMA: &str = "CREATE TABLE profiles (
    id            uuid        PRIMARY KEY,
    handle        text        NOT NULL UNIQUE,
    display_name  text        NOT NULL,
    email         text        NOT NULL,
    bio           text        NOT NULL,
    avatar_url    text        NOT NULL,
    attributes    jsonb       NOT NULL,
    sites         jsonb       NOT NULL DEFAULT '[]',
    version       bigint      NOT NULL,
    create_time   timestamptz NOT NULL,
    update_time   timestamptz NOT NULL
)";

/// Creates the table with `profiles` rows whose ids are [`seed::profile_id`]`(1..=profiles)`.
pub async fn prepare(pg: &tally_devstack::PgCluster, profiles: u64) -> anyhow::Result<()> {
    pg.create_database(DATABASE).await?;
    let db = cluster::connect(pg, DATABASE).await?;
    db.batch_execute(SCHEMA).await.context("creating the single-database table")?;
    db.execute(
        "INSERT INTO profiles (id, handle, display_name, email, bio, avatar_url, attributes, version, create_time, \
         update_time) \
         SELECT lpad(to_hex(n), 32, '0')::uuid, 'seed' || n, 'Seed ' || n, 'seed' || n || '@bench.example', \
         'A seeded benchmark profile with a biography of ordinary length.', '', '{}', 2, now(), now() \
         FROM generate_series(1::bigint, $1::bigint) AS n",
        &[&i64::try_from(profiles)?],
    )
    .await
    .context("seeding the single-database table")?;
    cluster::analyze(&db).await
}

/// A pooled connection with its prepared statements.
pub struct Conn {
    client: Client,
    select: Statement,
    update: Statement,
    insert: Statement,
}

pub async fn connect(pg: &tally_devstack::PgCluster, count: u32) -> anyhow::Result<Vec<Conn>> {
    let mut conns = Vec::new();
    for _ in 0..count {
        let client = cluster::connect(pg, DATABASE).await?;
        let select = client.prepare(&format!("SELECT {COLUMNS} FROM profiles WHERE id = $1")).await?;
        let update = client
            .prepare("UPDATE profiles SET bio = $2, version = version + 1, update_time = now() WHERE id = $1")
            .await?;
        let insert = client
            .prepare(
                "INSERT INTO profiles (id, handle, display_name, email, bio, avatar_url, attributes, version, \
                 create_time, update_time) VALUES ($1, $2, $2, $2 || '@bench.example', '', '', '{}', 1, now(), now())",
            )
            .await?;
        conns.push(Conn { client, select, update, insert });
    }
    Ok(conns)
}

type Outcome = Result<(), (String, String)>;

fn failed(e: tokio_postgres::Error) -> (String, String) {
    let kind = e.code().map_or_else(|| "postgres".to_owned(), |c| format!("postgres {}", c.code()));
    (kind, e.to_string())
}

/// Reads random seeded profile `n`; an absent row is an error, as a 404 would be.
pub async fn read(conn: Conn, n: u64) -> (Conn, Outcome) {
    let result = match conn.client.query_opt(&conn.select, &[&seed::profile_id(n)]).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(("missing row".to_owned(), format!("profile {n}"))),
        Err(e) => Err(failed(e)),
    };
    (conn, result)
}

/// Command `k` of load run `run` (handles stay unique across runs): every tenth an INSERT of
/// a new profile, else an UPDATE of profile `n`.
pub async fn write(conn: Conn, run: u64, k: u64, n: u64) -> (Conn, Outcome) {
    let result = if k % 10 == 9 {
        let handle = format!("single{run}n{k}");
        conn.client.execute(&conn.insert, &[&uuid::Uuid::now_v7(), &handle]).await
    } else {
        let bio = format!("{k:010} Benchmark profile biography of ordinary length.");
        conn.client.execute(&conn.update, &[&seed::profile_id(n), &bio]).await
    };
    let result = match result {
        Ok(1) => Ok(()),
        Ok(rows) => Err(("unexpected result".to_owned(), format!("{rows} rows written"))),
        Err(e) => Err(failed(e)),
    };
    (conn, result)
}

/// The design's own maximum: `conns.len()` closed-loop writers (one command at a time each)
/// for `window`; commands completed inside it per second. Fails on any error, as the open
/// loop does.
pub async fn max_write_rate(
    conns: Vec<Conn>,
    run: u64,
    profiles: u64,
    window: crate::window::Window,
) -> anyhow::Result<f64> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, mut conn) in conns.into_iter().enumerate() {
        tasks.spawn(async move {
            let (mut done, mut k) = (0u64, i as u64 * 1_000_000_000);
            while std::time::Instant::now() < window.end {
                let (back, result) = write(conn, run, k, rand::random_range(1..=profiles)).await;
                conn = back;
                result.map_err(|(kind, detail)| anyhow::anyhow!("{kind}: {detail}"))?;
                if window.contains(std::time::Instant::now()) {
                    done += 1;
                }
                k += 1;
            }
            anyhow::Ok((done, conn))
        });
    }
    let mut done = 0;
    while let Some(joined) = tasks.join_next().await {
        done += joined.context("a closed-loop writer panicked")??.0;
    }
    Ok(done as f64 / (window.end - window.start).as_secs_f64())
}
