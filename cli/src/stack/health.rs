//! Health checks of the stack as a whole, beyond each process's own readiness.

use std::time::Duration;

use anyhow::{Context, Result};

/// Waits (bounded) until the replica has replayed everything the primary has written so
/// far; returns the LSN it reached.
pub async fn await_replica(primary_url: &str, replica_url: &str) -> Result<String> {
    let connect = async |url: &str| -> Result<tokio_postgres::Client> {
        let (client, conn) =
            tokio_postgres::connect(url, tokio_postgres::NoTls).await.with_context(|| format!("connect to {url}"))?;
        // The connection task ends when the client is dropped.
        tokio::spawn(conn);
        Ok(client)
    };
    let primary = connect(primary_url).await?;
    let lsn: String = primary.query_one("SELECT pg_current_wal_lsn()::text", &[]).await?.get(0);
    let replica = connect(replica_url).await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let row =
            replica.query_one("SELECT coalesce(pg_last_wal_replay_lsn() >= $1::text::pg_lsn, false)", &[&lsn]).await?;
        if row.get::<_, bool>(0) {
            return Ok(format!("replayed up to {lsn}"));
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "the read replica did not reach {lsn} within 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every upstream answers `/readyz` through nginx (so routing, not just the processes,
/// works). Returns how many were checked.
pub async fn check_gateway(http: String) -> Result<usize> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
    let paths = ["/-/command/readyz", "/-/query-1/readyz", "/-/query-2/readyz", "/-/projector/readyz"];
    for path in paths {
        let url = format!("{http}{path}");
        let resp = client.get(&url).send().await.with_context(|| format!("GET {url}"))?;
        anyhow::ensure!(resp.status().is_success(), "GET {url}: {}", resp.status());
    }
    Ok(paths.len())
}
