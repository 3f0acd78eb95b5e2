//! `min_position`: answers wait (boundedly) for the projector, over REST and
//! gRPC, with the projected position in `projector_offsets`.

mod common;

use std::time::{Duration, Instant};

use common::TestApp;
use serde_json::Value;
use tally_proto::v1::{self, query_service_client::QueryServiceClient};
use tonic::Code;
use tonic_types::StatusExt;

#[tokio::test]
async fn a_fresh_enough_read_model_answers_at_once() {
    let app = TestApp::spawn().await;
    let id = app.seed_profile("quick", 5).await;
    app.set_position(0, 10).await;
    app.set_position(1, 12).await;
    let started = Instant::now();
    let resp = app.get_fresh(&format!("/v1/profiles/{id}"), 10).await;
    assert_eq!(resp.status(), 200);
    assert!(started.elapsed() < Duration::from_millis(500), "no wait needed: {:?}", started.elapsed());
    // Position 0 is always satisfied, even before the projector wrote anything.
    let other = common::read_db().await;
    let empty = TestApp::spawn_with(common::settings(&other)).await;
    assert_eq!(empty.get_fresh("/v1/profiles", 0).await.status(), 200);
    // Fresh enough but nothing there: a 404 and an empty page, as without
    // min_position.
    empty.set_position(0, 5).await;
    let resp = empty.get_fresh(&format!("/v1/profiles/{id}"), 5).await;
    assert_eq!(resp.status(), 404);
    let page: Value = empty.get_fresh("/v1/profiles", 5).await.json().await.unwrap();
    assert_eq!(page, serde_json::json!({"profiles": [], "next_after": null}));
    // Lists go through the same check; the slowest partition (10) counts.
    let page: Value = app.get_fresh("/v1/profiles?limit=2", 10).await.json().await.unwrap();
    assert_eq!(page["profiles"].as_array().unwrap().len(), 1, "{page}");
}

#[tokio::test]
async fn the_answer_arrives_as_soon_as_the_projector_catches_up() {
    let app = TestApp::spawn().await;
    app.set_position(0, 3).await;
    app.set_position(1, 40).await;

    // The "projector" writes the row and, in the same transaction, moves the
    // slowest partition past the requested position, 300 ms from now.
    let writer = {
        let db_url = app.db_url.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let (mut db, conn) = tokio_postgres::connect(&db_url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            let tx = db.transaction().await.unwrap();
            tx.execute(
                "INSERT INTO profile_view_v1 (id, handle, display_name, email, bio, avatar_url, attributes, version,
                                              create_time, update_time, last_position)
                 VALUES ('0190a0b0-0000-7000-8000-000000000042', 'late', 'Late', 'late@example.com', '', '',
                         '{}', 1, now(), now(), 25)",
                &[],
            )
            .await
            .unwrap();
            tx.execute("UPDATE projector_offsets SET position = 30 WHERE partition = 0", &[]).await.unwrap();
            tx.commit().await.unwrap();
            Instant::now()
        })
    };

    let started = Instant::now();
    let resp = app.get_fresh("/v1/profiles/by-handle/late", 25).await;
    let answered = Instant::now();
    let committed = writer.await.unwrap();
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["handle"], "late");
    assert!(started.elapsed() >= Duration::from_millis(250), "it did wait for the projector");
    assert!(answered.duration_since(committed) < Duration::from_millis(500), "answered promptly after the commit");

    // The same over gRPC, with the wait on a site read this time.
    let owner = app.seed_profile("owner", 1).await;
    let site = app.seed_site(owner, "late.example").await;
    let mover = {
        let db_url = app.db_url.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let (db, conn) = tokio_postgres::connect(&db_url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            db.execute("UPDATE projector_offsets SET position = 60", &[]).await.unwrap();
        })
    };
    let mut c = QueryServiceClient::connect(app.base.clone()).await.unwrap();
    let s = c.get_site(v1::GetSiteRequest { id: site.to_string(), min_position: Some(50) }).await.unwrap().into_inner();
    assert_eq!(s.domain, "late.example");
    mover.await.unwrap();
}

#[tokio::test]
async fn a_read_model_that_never_catches_up_is_a_503_with_the_lag() {
    let db_url = common::read_db().await;
    let mut settings = common::settings(&db_url);
    settings.read_your_writes.max_wait_ms = Duration::from_millis(300);
    let app = TestApp::spawn_with(settings).await;
    let id = app.seed_profile("stale", 5).await;
    app.set_position(0, 7).await;
    app.set_position(1, 90).await;

    let started = Instant::now();
    let resp = app.get_fresh(&format!("/v1/profiles/{id}"), 100).await;
    let waited = started.elapsed();
    assert_eq!(resp.status(), 503);
    assert!(waited >= Duration::from_millis(280), "waited the bound: {waited:?}");
    assert!(waited < Duration::from_secs(2), "and not much longer: {waited:?}");
    assert_eq!(resp.headers()["retry-after"], "1");
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["projected_position"], 7, "{body}");
    assert_eq!(body["min_position"], 100);
    assert_eq!(body["lag"], 93);

    // No offsets at all for this consumer: nothing is projected yet.
    app.db.execute("DELETE FROM projector_offsets", &[]).await.unwrap();
    let resp = app.get_fresh("/v1/profiles?limit=3", 4).await;
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!((body["projected_position"].as_u64(), body["lag"].as_u64()), (Some(0), Some(4)));

    // gRPC: UNAVAILABLE with RetryInfo and the positions in ErrorInfo.
    app.set_position(0, 7).await;
    let mut c = QueryServiceClient::connect(app.base.clone()).await.unwrap();
    let s = c.get_profile(v1::GetProfileRequest { id: id.to_string(), min_position: Some(10) }).await.unwrap_err();
    assert_eq!(s.code(), Code::Unavailable);
    let details = s.get_error_details();
    assert!(details.retry_info().is_some(), "RetryInfo detail");
    let info = details.error_info().expect("ErrorInfo detail");
    assert_eq!(info.metadata.get("lag").map(String::as_str), Some("3"));
    assert_eq!(info.metadata.get("projected_position").map(String::as_str), Some("7"));
    assert_eq!(info.metadata.get("min_position").map(String::as_str), Some("10"));
}

#[tokio::test]
async fn many_waiting_requests_all_answer_when_the_position_arrives() {
    let app = TestApp::spawn().await;
    let id = app.seed_profile("crowd", 1).await;
    app.set_position(0, 1).await;
    let requests = (0..40).map(|_| {
        let http = app.http.clone();
        let url = app.url(&format!("/v1/profiles/{id}"));
        tokio::spawn(async move { http.get(url).header("X-Min-Position", 5).send().await.unwrap().status() })
    });
    let requests: Vec<_> = requests.collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(requests.iter().all(|r| !r.is_finished()), "every request waits for position 5");
    app.set_position(0, 5).await;
    let moved = Instant::now();
    for r in requests {
        assert_eq!(r.await.unwrap(), 200);
    }
    assert!(moved.elapsed() < Duration::from_millis(800), "all answered promptly: {:?}", moved.elapsed());
}
