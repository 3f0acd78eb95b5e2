//! The real `command-service` binary: configuration from the environment,
//! trace context from request to stored event, and a graceful stop.

use std::time::Duration;

use serde_json::{Value, json};
use tally_tests::devstack::{self, Readiness, Service};

async fn spawn(db_url: &str, drain_secs: u32) -> (Service, String) {
    let port = devstack::free_port().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let service = Service::spawn(
        "command-service",
        devstack::binary("command-service").unwrap(),
        ["serve"],
        [
            ("TALLY_DATABASE__URL", db_url.to_owned()),
            ("TALLY_SERVER__HOST", "127.0.0.1".to_owned()),
            ("TALLY_SERVER__PORT", port.to_string()),
            ("TALLY_SERVER__DRAIN", drain_secs.to_string()),
            ("TALLY_DATABASE__POOL_SIZE", "4".to_owned()),
        ],
        Readiness::Http(format!("{base}/readyz")),
    )
    .await
    .unwrap();
    (service, base)
}

async fn stored_metadata(db_url: &str) -> Vec<Value> {
    let (client, conn) = tokio_postgres::connect(db_url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
        .query("SELECT metadata FROM events ORDER BY global_position", &[])
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn the_request_trace_and_correlation_reach_the_stored_event() {
    let (_cluster, db_url) = devstack::fresh_database().await.unwrap();
    let (_service, base) = spawn(&db_url, 0).await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let resp = reqwest::Client::new()
        .post(format!("{base}/v1/profiles"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .header("x-correlation-id", "checkout-42")
        .header("idempotency-key", "trace-test")
        .json(&json!({"handle": "traced", "display_name": "Traced", "email": "t@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);

    let metadata = stored_metadata(&db_url).await;
    assert_eq!(metadata.len(), 1);
    let m = &metadata[0];
    let traceparent = m["traceparent"].as_str().expect("traceparent stored with the event");
    assert!(traceparent.contains(trace_id), "event continues the caller's trace: {traceparent}");
    assert!(!traceparent.contains("00f067aa0ba902b7"), "the event's parent is the server span, not the caller's");
    assert_eq!(m["correlation_id"], "checkout-42");
    assert_eq!(m["command_id"], "trace-test");
}

#[tokio::test]
async fn sigterm_flips_readiness_drains_and_exits_cleanly() {
    let (_cluster, db_url) = devstack::fresh_database().await.unwrap();
    let (mut service, base) = spawn(&db_url, 2).await;
    let http = reqwest::Client::new();
    assert_eq!(http.get(format!("{base}/readyz")).send().await.unwrap().status(), 200);

    let killed = std::process::Command::new("kill").args(["-TERM", &service.pid().to_string()]).status().unwrap();
    assert!(killed.success());
    // During the drain window the process still answers, but says it is not ready.
    let mut saw_not_ready = false;
    for _ in 0..20 {
        match http.get(format!("{base}/readyz")).send().await {
            Ok(r) if r.status() == 503 => {
                saw_not_ready = true;
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    assert!(saw_not_ready, "readiness must flip to 503 before the server stops");
    // Requests in the drain window are still served.
    let resp = http
        .post(format!("{base}/v1/profiles"))
        .json(&json!({"handle": "draining", "display_name": "D", "email": "d@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);

    let status = tokio::time::timeout(Duration::from_secs(15), service.wait_exit()).await.expect("exits").unwrap();
    assert!(status.success(), "clean exit expected, got {status:?}\n{}", service.log_tail(20));
    assert_eq!(stored_metadata(&db_url).await.len(), 1, "the drained request's event was committed");
}

#[tokio::test]
async fn migrate_subcommand_applies_the_schema_and_is_idempotent() {
    let (_cluster, db_url) = devstack::fresh_database().await.unwrap();
    for _ in 0..2 {
        let out = tokio::process::Command::new(devstack::binary("command-service").unwrap())
            .arg("migrate")
            .env("TALLY_DATABASE__URL", &db_url)
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let (client, conn) = tokio_postgres::connect(&db_url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let head: i64 = client.query_one("SELECT last_position FROM event_head", &[]).await.unwrap().get(0);
    assert_eq!(head, 0);
}

#[tokio::test]
async fn a_bad_setting_is_refused_at_startup_naming_the_key() {
    let out = tokio::process::Command::new(devstack::binary("command-service").unwrap())
        .arg("serve")
        .env("TALLY_SERVER__PORT", "eighty")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("port"), "error must name the key: {stderr}");
}

#[tokio::test]
async fn every_binary_answers_help() {
    for bin in ["command-service", "query-service", "projector"] {
        let out = tokio::process::Command::new(devstack::binary(bin).unwrap()).arg("--help").output().await.unwrap();
        assert!(out.status.success(), "{bin} --help failed");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"), "{bin} --help prints usage");
    }
}
