//! The REST face: reads of rows the projector would have written, through a
//! real HTTP client against the real server and a real read DB.

mod common;

use std::collections::HashSet;

use common::TestApp;
use serde_json::{Value, json};
use uuid::Uuid;

#[tokio::test]
async fn a_profile_reads_back_with_its_sites_and_etag() {
    let app = TestApp::spawn().await;
    let site_id = Uuid::now_v7();
    let sites =
        json!([{"id": site_id.to_string(), "domain": "ada.dev", "name": "Ada's", "time_zone": "Europe/London"}]);
    let id = app.seed_profile_with(Uuid::now_v7(), "ada", 5, sites).await;

    let resp = app.get(&format!("/v1/profiles/{id}")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["etag"], "\"2\"");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "id": id.to_string(),
            "handle": "ada",
            "display_name": "Display ada",
            "email": "ada@example.com",
            "bio": "Analyst",
            "avatar_url": "https://example.com/a.png",
            "attributes": {"lang": "en", "team": "engines"},
            "version": 2,
            "create_time": "2025-01-02T03:04:05Z",
            "update_time": "2025-01-03T03:04:05Z",
            "sites": [{"id": site_id.to_string(), "domain": "ada.dev", "name": "Ada's", "time_zone": "Europe/London"}],
        })
    );

    // HEAD answers like GET, without a body.
    let head = app.http.head(app.url(&format!("/v1/profiles/{id}"))).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["etag"], "\"2\"");
    assert!(head.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_site_reads_back() {
    let app = TestApp::spawn().await;
    let owner = app.seed_profile("owner", 3).await;
    let id = app.seed_site(owner, "example.com").await;
    let resp = app.get(&format!("/v1/sites/{id}")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["etag"], "\"1\"");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "id": id.to_string(),
            "domain": "example.com",
            "time_zone": "Europe/Paris",
            "owner_profile_id": owner.to_string(),
            "name": "Site example.com",
            "version": 1,
            "create_time": "2025-02-01T00:00:00Z",
            "update_time": "2025-02-01T00:00:00Z",
        })
    );
}

#[tokio::test]
async fn by_handle_is_case_insensitive_and_prefers_the_latest_row() {
    let app = TestApp::spawn().await;
    let id = app.seed_profile("grace", 4).await;
    let resp = app.get("/v1/profiles/by-handle/GrAcE").await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["id"], id.to_string());

    // A released handle taken by another profile can briefly appear twice:
    // the row written last (highest position) is the current owner.
    let newer = app.seed_profile("grace", 9).await;
    let older_again = app.seed_profile("grace", 7).await;
    let body: Value = app.get("/v1/profiles/by-handle/grace").await.json().await.unwrap();
    assert_eq!(body["id"], newer.to_string(), "not {older_again} nor {id}");
}

#[tokio::test]
async fn unknown_resources_are_404_problems() {
    let app = TestApp::spawn().await;
    for path in [
        format!("/v1/profiles/{}", Uuid::now_v7()),
        format!("/v1/sites/{}", Uuid::now_v7()),
        "/v1/profiles/by-handle/nobody".to_owned(),
        "/v1/nothing-here".to_owned(),
    ] {
        let resp = app.get(&path).await;
        assert_eq!(resp.status(), 404, "{path}");
        assert_eq!(resp.headers()["content-type"], "application/problem+json", "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["type"], "https://tally.dev/problems/not-found", "{path}");
    }
    // Writes belong to the command-service.
    let resp = app.http.delete(app.url(&format!("/v1/profiles/{}", Uuid::now_v7()))).send().await.unwrap();
    assert_eq!(resp.status(), 405);
}

#[tokio::test]
async fn pagination_walks_every_profile_exactly_once_in_id_order() {
    let app = TestApp::spawn().await;
    let mut seeded = Vec::new();
    for i in 0..23 {
        // Random (v4) ids: the walk must follow id order, not insert order.
        seeded.push(app.seed_profile_with(Uuid::new_v4(), &format!("user{i}"), i, json!([])).await);
    }
    let mut seen = Vec::new();
    let mut path = "/v1/profiles?limit=5".to_owned();
    for _ in 0..10 {
        let resp = app.get(&path).await;
        assert_eq!(resp.status(), 200, "{path}");
        let page: Value = resp.json().await.unwrap();
        let profiles = page["profiles"].as_array().unwrap();
        assert!(profiles.len() <= 5);
        seen.extend(profiles.iter().map(|p| p["id"].as_str().unwrap().parse::<Uuid>().unwrap()));
        match page["next_after"].as_str() {
            Some(after) => path = format!("/v1/profiles?limit=5&after={after}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 23, "every profile once: {seen:?}");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 23, "no repeats");
    seeded.sort();
    assert_eq!(seen, seeded, "id order");

    // The default page holds all 23; the last page says there is no next.
    let page: Value = app.get("/v1/profiles").await.json().await.unwrap();
    assert_eq!(page["profiles"].as_array().unwrap().len(), 23);
    assert_eq!(page["next_after"], Value::Null);

    // An exact multiple of the page size ends without an empty extra page.
    let page: Value = app.get("/v1/profiles?limit=23").await.json().await.unwrap();
    assert_eq!(page["next_after"], Value::Null);
}

#[tokio::test]
async fn an_empty_read_model_lists_nothing() {
    let app = TestApp::spawn().await;
    let page: Value = app.get("/v1/profiles").await.json().await.unwrap();
    assert_eq!(page, json!({"profiles": [], "next_after": null}));
}

#[tokio::test]
async fn openapi_and_metrics_are_served() {
    let app = TestApp::spawn().await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    for path in ["/v1/profiles/{id}", "/v1/profiles/by-handle/{handle}", "/v1/profiles", "/v1/sites/{id}"] {
        assert!(doc["paths"][path]["get"].is_object(), "{path} missing from the OpenAPI document");
    }
    app.get(&format!("/v1/profiles/{}", Uuid::now_v7())).await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("http_requests_total"), "{metrics}");
    assert_eq!(app.get("/readyz").await.status(), 200);
}
