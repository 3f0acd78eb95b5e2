//! The profile and site write API over REST, against a real Postgres.

mod common;

use common::TestApp;
use serde_json::{Value, json};

#[tokio::test]
async fn create_update_delete_round_trip_reports_versions_and_positions() {
    let app = TestApp::spawn().await;
    let created = app.create_profile("ada").await;
    let id = created["profile"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["result"]["stream_version"], 1);
    assert_eq!(created["result"]["global_position"], 1);
    assert_eq!(created["profile"]["handle"], "ada");

    let resp = app
        .http
        .patch(app.url(&format!("/v1/profiles/{id}")))
        .header("If-Match", "\"1\"")
        .json(&json!({"display_name": "Ada King", "bio": "Analyst", "attributes": {"lang": "en"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["etag"], "\"2\"");
    let updated: Value = resp.json().await.unwrap();
    assert_eq!(updated["profile"]["display_name"], "Ada King");
    assert_eq!(updated["profile"]["attributes"]["lang"], "en");
    assert_eq!(updated["profile"]["email"], "ada@example.com", "fields outside the mask are kept");
    assert_eq!(updated["result"]["global_position"], 2);

    let resp = app.http.delete(app.url(&format!("/v1/profiles/{id}"))).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let deleted: Value = resp.json().await.unwrap();
    assert_eq!(deleted["result"]["stream_version"], 3);

    let resp = app.http.delete(app.url(&format!("/v1/profiles/{id}"))).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(app.event_count().await, 3);
}

#[tokio::test]
async fn a_repeated_idempotency_key_returns_the_first_result_and_appends_nothing() {
    let app = TestApp::spawn().await;
    let body = json!({"handle": "grace", "display_name": "Grace", "email": "grace@example.com"});
    let send = || app.http.post(app.url("/v1/profiles")).header("Idempotency-Key", "cmd-1").json(&body).send();
    let first: Value = send().await.unwrap().json().await.unwrap();
    let before = app.event_count().await;
    let second: Value = send().await.unwrap().json().await.unwrap();
    assert_eq!(app.event_count().await, before, "a retry must not append");
    assert_eq!(first["profile"]["id"], second["profile"]["id"], "the retry names the first profile");
    assert_eq!(first["result"]["global_position"], second["result"]["global_position"]);
    assert_eq!(second["result"]["replayed"], true);

    // The same key with another body is a client bug, not a retry.
    let other = json!({"handle": "grace2", "display_name": "Grace", "email": "grace@example.com"});
    let resp =
        app.http.post(app.url("/v1/profiles")).header("Idempotency-Key", "cmd-1").json(&other).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let problem: Value = resp.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "Idempotency-Key");
    assert_eq!(app.event_count().await, before);
}

#[tokio::test]
async fn a_stale_expected_version_gets_409_with_the_current_version() {
    let app = TestApp::spawn().await;
    let id = app.create_profile("linus").await["profile"]["id"].as_str().unwrap().to_owned();
    let patch = |version: &str, bio: &str| {
        app.http
            .patch(app.url(&format!("/v1/profiles/{id}")))
            .header("If-Match", format!("\"{version}\""))
            .json(&json!({"bio": bio}))
            .send()
    };
    assert_eq!(patch("1", "one").await.unwrap().status(), 200);
    let resp = patch("1", "two").await.unwrap();
    assert_eq!(resp.status(), 409);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let problem: Value = resp.json().await.unwrap();
    assert_eq!(problem["current_version"], 2);
    assert_eq!(problem["type"], "https://tally.dev/problems/version-conflict");
    assert_eq!(app.event_count().await, 2, "the stale write appended nothing");
}

#[tokio::test]
async fn a_duplicate_handle_is_refused_even_when_requests_race_across_pods() {
    let pod_a = TestApp::spawn().await;
    let pod_b = TestApp::spawn_on(&pod_a.db_url).await;
    let mut racers = Vec::new();
    for i in 0..16 {
        let (http, url) = if i % 2 == 0 {
            (pod_a.http.clone(), pod_a.url("/v1/profiles"))
        } else {
            (pod_b.http.clone(), pod_b.url("/v1/profiles"))
        };
        racers.push(tokio::spawn(async move {
            let body =
                json!({"handle": "Racer", "display_name": format!("racer {i}"), "email": format!("r{i}@example.com")});
            let resp = http.post(url).json(&body).send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap())
        }));
    }
    let mut created = 0;
    for r in racers {
        let (status, body) = r.await.unwrap();
        match status {
            201 => created += 1,
            409 => assert_eq!(body["errors"][0]["field"], "handle"),
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert_eq!(created, 1, "exactly one racer may own the handle");
    assert_eq!(pod_a.event_count().await, 1);
}

#[tokio::test]
async fn a_renamed_handle_is_free_again_and_the_new_one_is_taken() {
    let app = TestApp::spawn().await;
    let id = app.create_profile("first").await["profile"]["id"].as_str().unwrap().to_owned();
    let resp =
        app.http.patch(app.url(&format!("/v1/profiles/{id}"))).json(&json!({"handle": "second"})).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    app.create_profile("first").await;
    let resp = app
        .post_json("/v1/profiles", &json!({"handle": "SECOND", "display_name": "x", "email": "x@example.com"}))
        .await;
    assert_eq!(resp.status(), 409, "handles are unique case-insensitively");
}

#[tokio::test]
async fn a_deleted_profile_frees_its_handle() {
    let app = TestApp::spawn().await;
    let id = app.create_profile("ephemeral").await["profile"]["id"].as_str().unwrap().to_owned();
    app.http.delete(app.url(&format!("/v1/profiles/{id}"))).send().await.unwrap();
    app.create_profile("ephemeral").await;
}

#[tokio::test]
async fn sites_register_for_existing_owners_with_unique_domains() {
    let app = TestApp::spawn().await;
    let owner = app.create_profile("owner").await["profile"]["id"].as_str().unwrap().to_owned();
    let site = json!({"domain": "Example.COM", "time_zone": "Asia/Kolkata", "owner_profile_id": owner});
    let resp = app.post_json("/v1/sites", &site).await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["site"]["domain"], "example.com");
    assert_eq!(body["site"]["name"], "example.com");
    let site_id = body["site"]["id"].as_str().unwrap().to_owned();

    let resp = app.post_json("/v1/sites", &site).await;
    assert_eq!(resp.status(), 409);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "domain");

    let orphan =
        json!({"domain": "orphan.org", "time_zone": "UTC", "owner_profile_id": uuid::Uuid::now_v7().to_string()});
    let resp = app.post_json("/v1/sites", &orphan).await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "owner_profile_id");

    let resp = app
        .http
        .patch(app.url(&format!("/v1/sites/{site_id}")))
        .json(&json!({"time_zone": "Australia/Adelaide", "name": "Example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["site"]["time_zone"], "Australia/Adelaide");
    let resp = app.http.delete(app.url(&format!("/v1/sites/{site_id}"))).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn state_survives_a_restart_and_is_rebuilt_from_the_store() {
    let first = TestApp::spawn().await;
    let id = first.create_profile("durable").await["profile"]["id"].as_str().unwrap().to_owned();
    let db = first.db_url.clone();
    first.stop().await;

    // A new process has an empty cache and must fold the stream from the store.
    let second = TestApp::spawn_on(&db).await;
    let resp = second
        .http
        .patch(second.url(&format!("/v1/profiles/{id}")))
        .header("If-Match", "\"1\"")
        .json(&json!({"bio": "still here"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["profile"]["handle"], "durable");
    assert_eq!(body["profile"]["version"], 2);
}

#[tokio::test]
async fn a_write_through_one_pod_is_seen_by_another_pods_stale_cache() {
    let pod_a = TestApp::spawn().await;
    let pod_b = TestApp::spawn_on(&pod_a.db_url).await;
    let id = pod_a.create_profile("shared").await["profile"]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/profiles/{id}");
    // Warm pod B's cache at version 2, then move the stream on through pod A.
    assert_eq!(pod_b.http.patch(pod_b.url(&path)).json(&json!({"bio": "b"})).send().await.unwrap().status(), 200);
    assert_eq!(pod_a.http.patch(pod_a.url(&path)).json(&json!({"bio": "a"})).send().await.unwrap().status(), 200);
    // A client that read version 3 elsewhere must be accepted by pod B.
    let resp = pod_b
        .http
        .patch(pod_b.url(&path))
        .header("If-Match", "\"3\"")
        .json(&json!({"bio": "b2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // And a last-writer-wins update through B retries past its stale cache.
    assert_eq!(pod_a.http.patch(pod_a.url(&path)).json(&json!({"bio": "a2"})).send().await.unwrap().status(), 200);
    let resp = pod_b.http.patch(pod_b.url(&path)).json(&json!({"display_name": "Shared"})).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["profile"]["bio"], "a2", "pod B decided on the latest state");
    assert_eq!(body["result"]["stream_version"], 6);
}
