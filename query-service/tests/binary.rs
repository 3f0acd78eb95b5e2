//! The real `query-service` binary: settings from the environment, reads
//! over its port, and a graceful stop on SIGTERM.

mod common;

use serde_json::Value;
use tally_devstack::{Readiness, Service, free_port};
use tokio_postgres::NoTls;

const BIN: &str = env!("CARGO_BIN_EXE_query-service");

#[tokio::test]
async fn serve_reads_from_the_configured_database_and_stops_on_sigterm() {
    let db_url = common::read_db().await;
    let (db, conn) = tokio_postgres::connect(&db_url, NoTls).await.unwrap();
    tokio::spawn(conn);
    db.batch_execute(
        "INSERT INTO profile_view_v1 (id, handle, display_name, email, bio, avatar_url, attributes, version,
                                      create_time, update_time, last_position)
         VALUES ('0190a0b0-0000-7000-8000-000000000007', 'binary', 'Bin', 'bin@example.com', '', '', '{}', 1,
                 now(), now(), 3);
         INSERT INTO projector_offsets (consumer, topic, partition, next_offset, position)
         VALUES ('custom-projector', '$all', 0, 4, 3);",
    )
    .await
    .unwrap();

    let port = free_port().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut service = Service::spawn(
        "query-service",
        BIN,
        ["serve"],
        [
            ("TALLY_DATABASE__URL", db_url.clone()),
            ("TALLY_SERVER__PORT", port.to_string()),
            ("TALLY_DATABASE__POOL_SIZE", "4".to_owned()),
            ("TALLY_READ_YOUR_WRITES__PROJECTOR_CONSUMER", "custom-projector".to_owned()),
            ("TALLY_READ_YOUR_WRITES__MAX_WAIT_MS", "200".to_owned()),
        ],
        Readiness::Http(format!("{base}/readyz")),
    )
    .await
    .unwrap();

    let http = reqwest::Client::new();
    let url = format!("{base}/v1/profiles/by-handle/binary");
    // The consumer name comes from the environment: its offsets satisfy 3...
    let resp = http.get(&url).header("X-Min-Position", "3").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["email"], "bin@example.com");
    // ...and the configured bound applies to a position it has not reached.
    let resp = http.get(&url).header("X-Min-Position", "4").send().await.unwrap();
    assert_eq!(resp.status(), 503);
    // The same as a query parameter, for clients that cannot set a header.
    let resp = http.get(format!("{url}?min_position=3")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let resp = http.get(format!("{url}?min_position=4")).send().await.unwrap();
    assert_eq!(resp.status(), 503);

    let status = service.terminate().await.unwrap();
    assert!(status.success(), "graceful exit, got {status}: {}", service.log_tail(20));
}

#[tokio::test]
async fn a_bad_setting_is_named_at_startup() {
    let out = tokio::process::Command::new(BIN)
        .arg("serve")
        .env("TALLY_READ_YOUR_WRITES__MAX_WAIT_MS", "soon")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("max_wait_ms"), "the error names the key: {stderr}");
}
