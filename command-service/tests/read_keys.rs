//! Issuing and revoking site read keys over REST and gRPC against the real
//! server and event store: the admin token guards both, the secret is shown
//! once and never stored, a retry names the same key, revocation is final.

mod common;

use common::{TestApp, settings};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tally_proto::v1::{self, command_service_client::CommandServiceClient};
use tonic::{Code, Request};

const ADMIN: &str = "read-key-admin-secret";

async fn app() -> TestApp {
    let (_cluster, db_url) = tally_devstack::fresh_database().await.expect("throw-away Postgres");
    let mut s = settings(&db_url);
    s.ingest.admin_token = ADMIN.to_owned().into();
    TestApp::spawn_with(s).await
}

async fn site(app: &TestApp) -> String {
    let owner = app.create_profile("keyholder").await;
    let body = json!({"domain": "keys.example.com", "time_zone": "UTC", "owner_profile_id": owner["profile"]["id"]});
    let resp = app.post_json("/v1/sites", &body).await;
    assert_eq!(resp.status(), 201);
    resp.json::<Value>().await.unwrap()["site"]["id"].as_str().unwrap().to_owned()
}

async fn issue(
    app: &TestApp,
    site: &str,
    token: Option<&str>,
    body: Value,
    command_id: Option<&str>,
) -> reqwest::Response {
    let mut req = app.http.post(app.url(&format!("/v1/sites/{site}/read-keys"))).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(id) = command_id {
        req = req.header("Idempotency-Key", id);
    }
    req.send().await.unwrap()
}

/// The stored payloads of the site's read-key events.
async fn stored_keys(app: &TestApp) -> Vec<v1::SiteReadKeyIssued> {
    use prost::Message as _;
    let (client, conn) = tokio_postgres::connect(&app.db_url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let rows = client
        .query(
            "SELECT payload FROM events WHERE event_type = 'tally.v1.SiteReadKeyIssued' ORDER BY global_position",
            &[],
        )
        .await
        .unwrap();
    rows.iter().map(|r| v1::SiteReadKeyIssued::decode(r.get::<_, &[u8]>(0)).unwrap()).collect()
}

#[tokio::test]
async fn a_key_is_issued_once_with_its_secret_and_only_its_digest_is_stored() {
    let app = app().await;
    let site = site(&app).await;
    let resp = issue(&app, &site, Some(ADMIN), json!({"label": " grafana "}), Some("issue-1")).await;
    assert_eq!(resp.status(), 201);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let key: Value = resp.json().await.unwrap();
    let (key_id, secret) = (key["key_id"].as_str().unwrap(), key["secret"].as_str().unwrap());
    assert_eq!(location, format!("/v1/sites/{site}/read-keys/{key_id}"));
    assert_eq!(key["token"], format!("{key_id}.{secret}"));
    assert!(key["result"]["global_position"].as_u64().unwrap() > 0);

    let stored = stored_keys(&app).await;
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].key_id.as_str(), stored[0].label.as_str()), (key_id, "grafana"));
    assert_eq!(stored[0].key_hash, Sha256::digest(secret.as_bytes()).to_vec());
    let (client, conn) = tokio_postgres::connect(&app.db_url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let leaked: i64 = client
        .query_one("SELECT count(*) FROM events WHERE position($1::bytea IN payload) > 0", &[&secret.as_bytes()])
        .await
        .unwrap()
        .get(0);
    assert_eq!(leaked, 0, "the secret is in no stored event");

    // A retry names the same key, without the secret, and appends nothing.
    let again: Value =
        issue(&app, &site, Some(ADMIN), json!({"label": " grafana "}), Some("issue-1")).await.json().await.unwrap();
    assert_eq!((again["key_id"].as_str(), again["result"]["replayed"].as_bool()), (Some(key_id), Some(true)));
    assert!(again.get("secret").is_none() && again.get("token").is_none(), "{again}");
    assert_eq!(stored_keys(&app).await.len(), 1);
    // A second key is another key.
    let other: Value = issue(&app, &site, Some(ADMIN), json!({}), None).await.json().await.unwrap();
    assert_ne!(other["key_id"].as_str(), Some(key_id));
}

#[tokio::test]
async fn without_the_admin_token_nothing_is_issued_or_revoked() {
    let app = app().await;
    let site = site(&app).await;
    let before = app.event_count().await;
    for token in [None, Some("wrong")] {
        let resp = issue(&app, &site, token, json!({}), None).await;
        assert_eq!(resp.status(), 401);
        let body: Value = resp.json().await.unwrap();
        assert!(body["detail"].as_str().unwrap().contains("admin token"), "{body}");
        let resp =
            app.http.delete(app.url(&format!("/v1/sites/{site}/read-keys/0123456789abcdef"))).send().await.unwrap();
        assert_eq!(resp.status(), 401);
    }
    assert_eq!(app.event_count().await, before);

    // A server without an admin token issues no keys at all.
    let (_cluster, db_url) = tally_devstack::fresh_database().await.unwrap();
    let plain = TestApp::spawn_on(&db_url).await;
    let resp = issue(&plain, &site, Some(ADMIN), json!({}), None).await;
    assert_eq!(resp.status(), 403);
}

#[tokio::test]
async fn bad_requests_name_the_field_and_store_nothing() {
    let app = app().await;
    let site = site(&app).await;
    let before = app.event_count().await;
    let cases = [
        (issue(&app, &site, Some(ADMIN), json!({"label": "x".repeat(101)}), None).await, 400, "label"),
        (issue(&app, &site, Some(ADMIN), json!({"label": 7}), None).await, 400, "label"),
        (issue(&app, &site, Some(ADMIN), json!({"scope": "all"}), None).await, 400, "scope"),
        (issue(&app, "not-a-uuid", Some(ADMIN), json!({}), None).await, 400, "id"),
        (issue(&app, "0190c0de-0000-7000-8000-0000000000aa", Some(ADMIN), json!({}), None).await, 404, "site"),
    ];
    for (resp, status, named) in cases {
        assert_eq!(resp.status(), status);
        let body = resp.text().await.unwrap();
        assert!(body.contains(named), "{named}: {body}");
    }
    let revoke =
        |key: &str| app.http.delete(app.url(&format!("/v1/sites/{site}/read-keys/{key}"))).bearer_auth(ADMIN).send();
    let resp = revoke("NOT-HEX").await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("key_id"));
    let resp = revoke("0123456789abcdef").await.unwrap();
    assert_eq!(resp.status(), 404, "a key never issued");
    assert_eq!(app.event_count().await, before);
}

fn with_admin<T>(message: T) -> Request<T> {
    let mut r = Request::new(message);
    r.metadata_mut().insert("authorization", format!("Bearer {ADMIN}").parse().unwrap());
    r
}

#[tokio::test]
async fn keys_are_issued_and_revoked_over_grpc_with_the_token_in_metadata() {
    let app = app().await;
    let site = site(&app).await;
    let mut c = CommandServiceClient::connect(app.base.clone()).await.unwrap();
    let refused = c
        .issue_site_read_key(v1::IssueSiteReadKeyRequest { site_id: site.clone(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    let key = c
        .issue_site_read_key(with_admin(v1::IssueSiteReadKeyRequest {
            site_id: site.clone(),
            label: "ci".into(),
            command_id: String::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(key.token, format!("{}.{}", key.key_id, key.secret));
    assert_eq!(key.result.unwrap().events_appended, 1);
    let revoke =
        v1::RevokeSiteReadKeyRequest { site_id: site.clone(), key_id: key.key_id.clone(), command_id: String::new() };
    let first = c.revoke_site_read_key(with_admin(revoke.clone())).await.unwrap().into_inner();
    assert_eq!(first.result.unwrap().events_appended, 1);
    // Revoking again records nothing; issuing for a deleted site is refused.
    let second = c.revoke_site_read_key(with_admin(revoke)).await.unwrap().into_inner();
    assert_eq!(second.result.unwrap().events_appended, 0);
    c.delete_site(v1::DeleteSiteRequest { id: site.clone(), ..Default::default() }).await.unwrap();
    let gone = c
        .issue_site_read_key(with_admin(v1::IssueSiteReadKeyRequest { site_id: site, ..Default::default() }))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound, "{gone:?}");
}
