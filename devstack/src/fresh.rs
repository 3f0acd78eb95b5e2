//! One shared cluster per process, a fresh database per test.
//!
//! Starting a cluster costs about a second; creating a database costs milliseconds. nextest
//! runs each test in its own process, so "per process" is "per test" there, and plain
//! `cargo test` shares one cluster across the binary's tests.

use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::error::Result;
use crate::pg::{PgCluster, PgOptions};

static SHARED: OnceCell<Arc<PgCluster>> = OnceCell::const_new();

/// The process-wide ephemeral cluster, started on first use.
///
/// It lives in a `static`, so it is never dropped: the watchdog stops it and removes its
/// directory once the process has exited.
pub async fn shared_cluster() -> Result<Arc<PgCluster>> {
    SHARED.get_or_try_init(|| async { PgCluster::start(PgOptions::default()).await.map(Arc::new) }).await.cloned()
}

/// A new, empty database on the shared cluster: returns the cluster and the database URL.
pub async fn fresh_database() -> Result<(Arc<PgCluster>, String)> {
    let cluster = shared_cluster().await?;
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    cluster.create_database(&name).await?;
    let url = cluster.url(&name);
    Ok((cluster, url))
}
