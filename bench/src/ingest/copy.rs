//! The physical limit: the same generated rows `COPY`ed (binary format) into one table
//! without indexes, on the same cluster, by `streams` parallel connections — one COPY
//! statement (one commit) per connection.

use std::time::Instant;

use anyhow::Context;
use serde::Serialize;
use tally_devstack::PgCluster;
use tokio::task::JoinSet;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

use super::events::Generator;

const TABLE: &str = "ingest_copy_baseline";

#[derive(Debug, Clone, Serialize)]
pub struct CopyResult {
    pub streams: u32,
    pub rows: u64,
    pub secs: f64,
    pub rows_per_sec: f64,
}

/// What each stream copies: the batches client `c` generated during the Tally run.
pub struct Plan {
    pub seed: u64,
    pub sites: usize,
    pub visitors_per_site: u32,
    pub with_ids: bool,
    pub batch: usize,
    /// Batches per client, as the Tally run sent them.
    pub batches: Vec<u64>,
}

/// Creates the table in `db`, then copies every client's rows over `streams` connections.
pub async fn run(
    cluster: &PgCluster,
    db: &str,
    site_ids: &[String],
    plan: &Plan,
    streams: u32,
) -> anyhow::Result<CopyResult> {
    let admin = crate::cluster::connect(cluster, db).await?;
    admin
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS {TABLE};
             CREATE TABLE {TABLE} (site_id uuid NOT NULL, received_at timestamptz NOT NULL, client_event_id text,
               name text NOT NULL, url text NOT NULL, referrer text, screen_width int4, ip text, user_agent text,
               utm_source text, props text)"
        ))
        .await
        .context("creating the COPY baseline table")?;
    let sites: Vec<Uuid> = site_ids.iter().map(|s| Uuid::parse_str(s)).collect::<Result<_, _>>()?;
    let streams = streams.max(1);
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for s in 0..streams {
        let client = crate::cluster::connect(cluster, db).await?;
        // Stream `s` copies clients s, s + streams, ...: the same rows, whatever the count.
        let clients: Vec<(u32, u64)> = (0..plan.batches.len() as u32)
            .filter(|c| c % streams == s)
            .map(|c| (c, plan.batches[c as usize]))
            .collect();
        let (seed, n, v, ids, batch, sites) =
            (plan.seed, plan.sites, plan.visitors_per_site, plan.with_ids, plan.batch, sites.clone());
        tasks.spawn(async move {
            let sink = client
                .copy_in(&format!(
                    "COPY {TABLE} (site_id, received_at, client_event_id, name, url, referrer, screen_width, ip, \
                     user_agent, utm_source, props) FROM STDIN (FORMAT binary)"
                ))
                .await?;
            let types = [
                Type::UUID,
                Type::TIMESTAMPTZ,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::INT4,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
            ];
            let writer = BinaryCopyInWriter::new(sink, &types);
            tokio::pin!(writer);
            for (c, batches) in clients {
                let mut generator = Generator::new(seed, c, n, v, ids);
                for _ in 0..batches {
                    let (_, events) = generator.batch(batch);
                    let now = chrono::Utc::now();
                    for e in &events {
                        let width = e.screen_width as i32;
                        let props = e.props_json();
                        let row: [&(dyn ToSql + Sync); 11] = [
                            &sites[e.site],
                            &now,
                            &e.client_event_id,
                            &e.name,
                            &e.url,
                            &e.referrer,
                            &width,
                            &e.ip,
                            &e.user_agent,
                            &e.utm_source,
                            &props,
                        ];
                        writer.as_mut().write(&row).await?;
                    }
                }
            }
            writer.finish().await
        });
    }
    let mut rows = 0;
    while let Some(done) = tasks.join_next().await {
        rows += done.context("a COPY stream panicked")?.context("COPY")?;
    }
    let secs = started.elapsed().as_secs_f64();
    let counted: i64 = admin.query_one(&format!("SELECT count(*) FROM {TABLE}"), &[]).await?.get(0);
    anyhow::ensure!(counted as u64 == rows, "COPY reported {rows} rows, the table holds {counted}");
    Ok(CopyResult { streams, rows, secs, rows_per_sec: if secs > 0.0 { rows as f64 / secs } else { 0.0 } })
}
