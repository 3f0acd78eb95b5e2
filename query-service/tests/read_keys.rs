//! Per-site read keys in front of every statistics read, over REST and gRPC: a key reads its
//! own site only, every invalid key gets one answer, and a revoked key ends a live stream.

mod common;

use std::time::Duration;

use common::{TestApp, secret_for};
use serde_json::Value;
use tally_proto::v1::{self, query_service_client::QueryServiceClient};
use tonic::{Code, Request, transport::Channel};
use uuid::Uuid;

const INVALID: &str = "the read key is not valid for this site";

/// Two sites with a key each, a revoked key on the first, and the app.
struct Keys {
    app: TestApp,
    site: Uuid,
    other_site: Uuid,
    valid: String,
    revoked: String,
    other: String,
}

async fn keys() -> Keys {
    let app = TestApp::spawn().await;
    let owner = Uuid::now_v7();
    let site = app.seed_site(owner, "keys.example").await;
    let other_site = app.seed_site(owner, "other.example").await;
    let valid = app.seed_key(site, "00000000000000a1", false).await;
    let revoked = app.seed_key(site, "00000000000000a2", true).await;
    let other = app.seed_key(other_site, "00000000000000b1", false).await;
    Keys { app, site, other_site, valid, revoked, other }
}

fn stats_paths(site: Uuid) -> Vec<String> {
    ["aggregate", "timeseries", "breakdown?dimension=page", "realtime"]
        .iter()
        .map(|p| format!("/v1/sites/{site}/{p}"))
        .collect()
}

async fn problem(resp: reqwest::Response, label: &str) -> Value {
    assert_eq!(resp.status(), 401, "{label}");
    assert_eq!(resp.headers()["www-authenticate"], "Bearer", "{label}");
    assert_eq!(resp.headers()["content-type"], "application/problem+json", "{label}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "https://tally.dev/problems/unauthenticated", "{label}: {body}");
    body
}

#[tokio::test]
async fn rest_statistics_need_a_valid_key_of_their_own_site() {
    let k = keys().await;
    let wrong_secret = format!("Bearer 00000000000000a1.{}", secret_for("ffffffffffffffff"));
    for path in stats_paths(k.site) {
        let resp = k.app.get(&path).await;
        let body = problem(resp, &format!("{path} without a key")).await;
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("Authorization") && detail.contains("Bearer <key_id>.<secret>"), "{detail}");

        for malformed in ["Bearer", "Basic dXNlcjpwYXNz", "Bearer 00000000000000a1", "Bearer 00000000000000a1.short"] {
            let body = problem(k.app.get_with_key(&path, malformed).await, &format!("{path} {malformed:?}")).await;
            let detail = body["detail"].as_str().unwrap();
            assert!(detail.contains("Authorization header is malformed"), "{malformed:?}: {detail}");
        }
        for (what, key) in [("wrong secret", &wrong_secret), ("revoked", &k.revoked), ("other site's", &k.other)] {
            let body = problem(k.app.get_with_key(&path, key).await, &format!("{path} {what}")).await;
            assert_eq!(body["detail"], INVALID, "{path} {what}");
        }

        let resp = k.app.get_with_key(&path, &k.valid).await;
        assert_eq!(resp.status(), 200, "{path} with its key");
    }
    // The other site's key reads the other site; an unknown site is refused like a bad key.
    assert_eq!(k.app.get_with_key(&format!("/v1/sites/{}/aggregate", k.other_site), &k.other).await.status(), 200);
    let unknown = format!("/v1/sites/{}/aggregate", Uuid::now_v7());
    assert_eq!(problem(k.app.get_with_key(&unknown, &k.valid).await, "unknown site").await["detail"], INVALID);
    assert_eq!(problem(k.app.get(&unknown).await, "unknown site, no key").await["status"], 401);
    // Parameters are checked before the key: a bad one is a 400 naming it, key or not.
    let resp = k.app.get(&format!("/v1/sites/{}/aggregate?period=week", k.site)).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["errors"][0]["field"], "period");
    // Profiles and sites stay public on the read side.
    assert_eq!(k.app.get(&format!("/v1/sites/{}", k.site)).await.status(), 200);
}

#[tokio::test]
async fn a_key_issued_at_min_position_is_waited_for_before_it_is_checked() {
    let k = keys().await;
    k.app.set_position(0, 5).await;
    let path = format!("/v1/sites/{}/aggregate", k.site);
    let fresh = k.app.seed_key(k.site, "00000000000000c1", false).await;
    k.app.db.execute("DELETE FROM site_read_keys_v1 WHERE key_id = '00000000000000c1'", &[]).await.unwrap();
    let request = k.app.http.get(k.app.url(&path)).header("X-Min-Position", "7").header("Authorization", &fresh);
    let pending = tokio::spawn(request.send());
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The projector applies the issue at position 7.
    k.app.seed_key(k.site, "00000000000000c1", false).await;
    k.app.set_position(0, 7).await;
    let resp = pending.await.unwrap().unwrap();
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
}

async fn client(app: &TestApp) -> QueryServiceClient<Channel> {
    QueryServiceClient::connect(app.base.clone()).await.expect("gRPC connects")
}

fn with_key<T>(message: T, authorization: Option<&str>) -> Request<T> {
    let mut r = Request::new(message);
    if let Some(a) = authorization {
        r.metadata_mut().insert("authorization", a.parse().unwrap());
    }
    r
}

#[tokio::test]
async fn grpc_statistics_need_a_valid_key_of_their_own_site() {
    let k = keys().await;
    let mut c = client(&k.app).await;
    let wrong_secret = format!("Bearer 00000000000000a1.{}", secret_for("ffffffffffffffff"));
    let site = k.site.to_string();
    let cases: [(Option<&str>, Option<&str>); 6] = [
        (None, Some("Authorization")),
        (Some("Bearer 00000000000000a1:nope"), Some("Authorization header is malformed")),
        (Some(&wrong_secret), Some(INVALID)),
        (Some(&k.revoked), Some(INVALID)),
        (Some(&k.other), Some(INVALID)),
        (Some(&k.valid), None),
    ];
    for (key, refusal) in cases {
        let aggregate = v1::AggregateRequest { site_id: site.clone(), ..Default::default() };
        let timeseries = v1::TimeseriesRequest { site_id: site.clone(), ..Default::default() };
        let breakdown =
            v1::BreakdownRequest { site_id: site.clone(), dimension: v1::Dimension::Page as i32, ..Default::default() };
        let realtime = v1::RealtimeRequest { site_id: site.clone(), min_position: None };
        let outcomes = [
            ("GetAggregate", c.get_aggregate(with_key(aggregate, key)).await.err()),
            ("GetTimeseries", c.get_timeseries(with_key(timeseries, key)).await.err()),
            ("GetBreakdown", c.get_breakdown(with_key(breakdown, key)).await.err()),
            ("GetRealtime", c.get_realtime(with_key(realtime.clone(), key)).await.err()),
            ("StreamRealtime", c.stream_realtime(with_key(realtime, key)).await.err()),
        ];
        for (rpc, outcome) in outcomes {
            match (refusal, outcome) {
                (None, None) => {}
                (Some(expected), Some(s)) => {
                    assert_eq!(s.code(), Code::Unauthenticated, "{rpc} {key:?}: {s:?}");
                    assert!(s.message().contains(expected), "{rpc} {key:?}: {}", s.message());
                }
                (expected, got) => panic!("{rpc} with {key:?}: expected refusal {expected:?}, got {got:?}"),
            }
        }
    }
    let unknown = v1::AggregateRequest { site_id: Uuid::now_v7().to_string(), ..Default::default() };
    let s = c.get_aggregate(with_key(unknown, Some(&k.valid))).await.unwrap_err();
    assert_eq!((s.code(), s.message()), (Code::Unauthenticated, INVALID));
}

async fn revoke(app: &TestApp, key_id: &str) {
    app.db.execute("UPDATE site_read_keys_v1 SET revoked = true WHERE key_id = $1", &[&key_id]).await.unwrap();
}

#[tokio::test]
async fn a_revoked_key_ends_its_server_sent_events() {
    let k = keys().await;
    let mut resp = k.app.get_with_key(&format!("/v1/sites/{}/realtime/stream", k.site), &k.valid).await;
    assert_eq!(resp.status(), 200);
    let mut seen = String::new();
    while !seen.contains("event: realtime") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk()).await.unwrap().unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk.expect("the stream is open")));
    }
    revoke(&k.app, "00000000000000a1").await;
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = resp.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream did not end after the revocation: {seen}");
    assert!(seen.contains("event: error") && seen.contains(INVALID), "{seen}");
}

#[tokio::test]
async fn a_revoked_key_ends_its_grpc_stream() {
    let k = keys().await;
    let mut c = client(&k.app).await;
    let request = v1::RealtimeRequest { site_id: k.site.to_string(), min_position: None };
    let mut stream = c.stream_realtime(with_key(request, Some(&k.valid))).await.unwrap().into_inner();
    assert!(stream.message().await.unwrap().is_some(), "a first count");
    revoke(&k.app, "00000000000000a1").await;
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.message().await {
                Ok(Some(_)) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the stream ends after the revocation");
    let s = end.unwrap_err();
    assert_eq!((s.code(), s.message()), (Code::Unauthenticated, INVALID));
}

#[tokio::test]
async fn the_openapi_document_names_the_bearer_scheme_on_every_statistics_path() {
    let app = TestApp::spawn().await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    assert_eq!(doc["components"]["securitySchemes"]["read_key"]["scheme"], "bearer", "{doc}");
    for path in ["aggregate", "timeseries", "breakdown", "realtime", "realtime/stream"] {
        let op = &doc["paths"][format!("/v1/sites/{{id}}/{path}")]["get"];
        assert!(op["security"][0].get("read_key").is_some(), "{path}: {op}");
        assert!(op["responses"].get("401").is_some(), "{path}: {op}");
    }
    assert!(doc["paths"]["/v1/sites/{id}"]["get"].get("security").is_none(), "sites stay public");
}
