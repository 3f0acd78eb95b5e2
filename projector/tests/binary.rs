//! The real `projector` binary: health and metrics, a crash mid-stream
//! (SIGKILL) costs nothing, SIGTERM stops it cleanly.

mod support;

use std::time::Duration;

use support::Harness;
use tally_devstack::{Readiness, Service};

async fn spawn(h: &Harness, port: u16) -> Service {
    let mut env = h.env();
    env.retain(|(k, _)| k != "TALLY_SERVER__PORT");
    env.push(("TALLY_SERVER__PORT".into(), port.to_string()));
    Service::spawn(
        "projector",
        env!("CARGO_BIN_EXE_projector"),
        Vec::<String>::new(),
        env,
        Readiness::Http(format!("http://127.0.0.1:{port}/readyz")),
    )
    .await
    .expect("the projector becomes ready")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_projector_resumes_exactly_where_its_last_commit_left_off() {
    let mut h = Harness::new().await;
    let port = tally_devstack::free_port().unwrap();
    let mut projector = spawn(&h, port).await;

    h.populate(120, 1).await;
    // Kill it while it is (very likely) mid-stream: no graceful anything.
    projector.kill_hard().await.unwrap();
    h.populate(60, 2).await;

    let mut projector = spawn(&h, port).await;
    h.wait_projected(h.head).await;
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("projector_events_applied_total"), "{metrics}");
    assert!(reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await.unwrap().status().is_success());
    let status = tokio::time::timeout(Duration::from_secs(20), projector.terminate()).await.unwrap().unwrap();
    assert!(status.success(), "SIGTERM is a clean stop: {status}");

    let live_profiles = h.snapshot("profile_view_v1").await;
    let live_sites = h.snapshot("site_view_v1").await;
    let options = tally_projector::rebuild::Options { page: 100, ..Default::default() };
    tally_projector::rebuild::profiles(&h.settings(), options, Default::default()).await.unwrap();
    assert_eq!(h.snapshot("profile_view_v2").await, live_profiles);
    assert_eq!(h.snapshot("site_view_v2").await, live_sites);
    assert_eq!(h.query_one::<i64>("SELECT count(*) FROM dead_letters").await, 0);
}
