//! The harness starts Tally's real binaries (needs `cargo build --bins` first; `make test`
//! does that).

use anyhow::Result;
use tally_tests::{app, devstack};

#[tokio::test]
async fn the_command_service_starts_on_a_fresh_database() -> Result<()> {
    let (_pg, db_url) = devstack::fresh_database().await?;
    // Readiness (/readyz answering 2xx) is awaited inside.
    let (mut service, base) = app::spawn_command_service(&db_url).await?;

    let openapi = reqwest::get(format!("{base}/openapi.json")).await?;
    assert!(openapi.status().is_success(), "{}", openapi.status());

    service.terminate().await?;
    assert!(reqwest::get(format!("{base}/readyz")).await.is_err(), "stopped service still answers");
    Ok(())
}
