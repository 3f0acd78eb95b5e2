//! Analytics ingest through the real `command-service` binary on a real Postgres:
//! per-event outcomes naming the field, 404 / 413, bots dropped, client-id dedupe,
//! Plausible's `/api/event` behind a trusted proxy, no IP or User-Agent in what is
//! stored, visitor ids per local day, `tally import` twice, the Kafka key, every ingest
//! limit breached (and met) once, and a 1,000-event batch with one bad event.

use std::collections::BTreeSet;

use prost::Message as _;
use serde_json::{Value, json};
use tally_proto::v1::{self, AnalyticsEventRecorded, command_service_client::CommandServiceClient};
use tally_tests::{
    analytics::{ADMIN_TOKEN as TOKEN, FIREFOX, GOOGLEBOT, SAFARI, register_site as site},
    devstack::{self, Broker, BrokerOptions, Readiness, Service},
};

async fn spawn(db_url: &str, extra: &[(&'static str, &str)]) -> (Service, String) {
    let port = devstack::free_port().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut envs = vec![
        ("TALLY_DATABASE__URL", db_url.to_owned()),
        ("TALLY_SERVER__HOST", "127.0.0.1".to_owned()),
        ("TALLY_SERVER__PORT", port.to_string()),
        ("TALLY_DATABASE__POOL_SIZE", "4".to_owned()),
        ("TALLY_INGEST__ADMIN_TOKEN", TOKEN.to_owned()),
    ];
    envs.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let service = Service::spawn(
        "command-service",
        devstack::binary("command-service").unwrap(),
        ["serve"],
        envs,
        Readiness::Http(format!("{base}/readyz")),
    )
    .await
    .unwrap();
    (service, base)
}

async fn db(db_url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(db_url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

/// Every stored analytics payload, in global order.
async fn stored(db_url: &str) -> Vec<AnalyticsEventRecorded> {
    db(db_url)
        .await
        .query("SELECT payload FROM events WHERE category = 'analytics' ORDER BY global_position", &[])
        .await
        .unwrap()
        .into_iter()
        .map(|r| AnalyticsEventRecorded::decode(r.get::<_, Vec<u8>>(0).as_slice()).unwrap())
        .collect()
}

async fn post(base: &str, path: &str, body: &Value, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = reqwest::Client::new().post(format!("{base}{path}")).json(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn fields(outcome: &Value) -> Vec<String> {
    outcome["violations"].as_array().unwrap().iter().map(|v| v["field"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_mixed_batch_records_the_valid_events_and_names_each_rejected_field() {
    let (_cluster, db_url) = devstack::fresh_database().await.unwrap();
    let (_svc, base) = spawn(&db_url, &[]).await;
    site(&base, "mixed.example", "Europe/Berlin").await;

    let events = json!([
        {"name": "pageview", "url": "https://mixed.example/a?utm_source=news", "user_agent": FIREFOX},
        {"name": "n".repeat(121), "url": "https://mixed.example/b", "user_agent": FIREFOX},
        {"name": "signup", "url": "https://mixed.example/c", "user_agent": FIREFOX,
         "props": (0..31).map(|i| (format!("k{i}"), json!("v"))).collect::<serde_json::Map<_, _>>()},
        {"name": "pageview", "user_agent": FIREFOX},
        {"name": "pageview", "url": "https://mixed.example/d", "user_agent": GOOGLEBOT},
        {"name": "pageview", "url": "https://mixed.example/e", "user_agent": FIREFOX, "timestamp": "2001-01-01T00:00:00Z"},
        {"name": 5, "url": "https://mixed.example/f"},
        {"name": "purchase", "url": "https://mixed.example/g", "user_agent": SAFARI,
         "revenue": {"currency": "EUR", "amount": "19.99"}, "props": {"plan": "pro"}},
    ]);
    let (status, body) = post(&base, "/v1/events", &json!({"domain": "mixed.example", "events": events}), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["accepted"].as_u64(), body["rejected"].as_u64(), body["dropped_bots"].as_u64()),
        (Some(2), Some(5), Some(1))
    );
    let o = body["outcomes"].as_array().unwrap();
    assert_eq!(o[0]["accepted"], true);
    assert_eq!(fields(&o[1]), ["name"]);
    assert_eq!(fields(&o[2]), ["props"]);
    assert_eq!(fields(&o[3]), ["url"]);
    assert_eq!((o[4]["dropped_bot"].as_bool(), o[4]["accepted"].as_bool()), (Some(true), Some(false)));
    assert!(fields(&o[4]).is_empty());
    assert_eq!(fields(&o[5]), ["timestamp"], "live ingest bounds the clock skew");
    assert_eq!(fields(&o[6]), ["name"], "a type error rejects only its event");
    assert_eq!(o[7]["accepted"], true);

    let rows = stored(&db_url).await;
    assert_eq!(rows.len(), 2, "exactly the accepted events are stored; bots are not");
    assert_eq!((rows[0].pathname.as_str(), rows[0].utm_source.as_str()), ("/a", "news"));
    assert_eq!((rows[0].browser.as_str(), rows[0].device.as_str()), ("Firefox", "desktop"));
    assert_eq!((rows[1].device.as_str(), rows[1].os.as_str()), ("mobile", "iOS"));
    assert_eq!(rows[1].revenue.as_ref().map(|r| r.amount.as_str()), Some("19.99"));
    assert_eq!(body["global_position"].as_u64().unwrap(), {
        let head: i64 = db(&db_url).await.query_one("SELECT last_position FROM event_head", &[]).await.unwrap().get(0);
        head as u64
    });

    // A batch whose every event is invalid stores nothing and is a 400 naming each field.
    let (status, body) = post(
        &base,
        "/v1/events",
        &json!({"domain": "mixed.example", "events": [{"name": "pageview", "url": "nope"}, {"url": "https://mixed.example/"}]}),
        &[],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let named: BTreeSet<&str> =
        body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(named, BTreeSet::from(["events[0].url", "events[1].name"]));
    // Over 1,000 events: the request is refused as a whole.
    let many: Vec<Value> = (0..1001).map(|_| json!({"name": "pageview", "url": "https://mixed.example/"})).collect();
    let (status, body) = post(&base, "/v1/events", &json!({"domain": "mixed.example", "events": many}), &[]).await;
    assert_eq!((status, body["errors"][0]["field"].as_str()), (400, Some("events")));
    assert_eq!(stored(&db_url).await.len(), 2);
}

#[tokio::test]
async fn grpc_record_events_reports_each_event_and_unknown_sites_are_not_found() {
    let (_cluster, db_url) = devstack::fresh_database().await.unwrap();
    // The test's own address is a trusted proxy, so events' `ip` fields count: this
    // proves the gRPC path sees the connection's peer.
    let (_svc, base) = spawn(&db_url, &[("TALLY_INGEST__TRUSTED_PROXIES", "127.0.0.1")]).await;
    let site_id = site(&base, "grpc.example", "UTC").await;
    let mut grpc = CommandServiceClient::connect(base.clone()).await.unwrap();
    let event = |name: &str, url: &str| v1::AnalyticsEventInput {
        name: name.into(),
        url: url.into(),
        user_agent: FIREFOX.into(),
        ..Default::default()
    };
    let answer = grpc
        .record_events(v1::RecordEventsRequest {
            site_id: site_id.clone(),
            events: vec![
                event("pageview", "https://grpc.example/"),
                event("pageview", "/relative/path"),
                event("", "https://grpc.example/"),
            ],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((answer.accepted, answer.rejected, answer.dropped_bots), (1, 2, 0));
    assert_eq!(answer.outcomes[1].violations[0].field, "url");
    assert_eq!(answer.outcomes[2].violations[0].field, "name");
    assert!(answer.global_position > 0);

    let unknown = grpc
        .record_events(v1::RecordEventsRequest {
            domain: "nobody.example".into(),
            events: vec![event("pageview", "https://nobody.example/")],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    let both = grpc
        .record_events(v1::RecordEventsRequest {
            site_id,
            domain: "grpc.example".into(),
            events: vec![event("pageview", "https://grpc.example/")],
        })
        .await
        .unwrap_err();
    assert_eq!(both.code(), tonic::Code::InvalidArgument);
    let from = |ip: &str| v1::AnalyticsEventInput { ip: ip.into(), ..event("pageview", "https://grpc.example/") };
    let answer = grpc
        .record_events(v1::RecordEventsRequest {
            domain: "grpc.example".into(),
            events: vec![from("203.0.113.1"), from("203.0.113.2"), from("203.0.113.1")],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.accepted, 3);
    let visitors: Vec<String> = stored(&db_url).await.into_iter().skip(1).map(|r| r.visitor_id).collect();
    assert_eq!(visitors.len(), 3);
    assert_ne!(visitors[0], visitors[1]);
    assert_eq!(visitors[0], visitors[2]);
}

#[tokio::test]
async fn unknown_sites_are_404_and_bodies_over_a_megabyte_are_413() {
    let (_cluster, db_url) = devstack::fresh_database().await.unwrap();
    let (_svc, base) = spawn(&db_url, &[]).await;
    site(&base, "sized.example", "UTC").await;
    let one = json!([{"name": "pageview", "url": "https://x.example/"}]);
    let (status, _) = post(&base, "/v1/events", &json!({"domain": "nobody.example", "events": one}), &[]).await;
    assert_eq!(status, 404);
    let (status, _) =
        post(&base, "/v1/events", &json!({"site_id": uuid::Uuid::now_v7().to_string(), "events": one}), &[]).await;
    assert_eq!(status, 404);
    let (status, _) = post(
        &base,
        "/api/event",
        &json!({"name": "pageview", "url": "https://x.example/", "domain": "nobody.example"}),
        &[],
    )
    .await;
    assert_eq!(status, 404);

    let padding = "x".repeat(1_100_000);
    let big = json!({"domain": "sized.example", "events": [{"name": "pageview", "url": "https://sized.example/", "props": {"p": padding}}]});
    assert_eq!(post(&base, "/v1/events", &big, &[]).await.0, 413);
    let big = json!({"name": "pageview", "url": "https://sized.example/", "domain": "sized.example", "props": {"p": padding}});
    assert_eq!(post(&base, "/api/event", &big, &[]).await.0, 413);
    assert!(stored(&db_url).await.is_empty());

    let doc: Value = reqwest::get(format!("{base}/openapi.json")).await.unwrap().json().await.unwrap();
    for path in ["/v1/events", "/api/event", "/v1/import/events"] {
        assert!(doc["paths"][path]["post"].is_object(), "{path} is documented");
    }
}

#[tokio::test]
async fn a_repeated_client_event_id_is_reported_as_duplicate_and_stored_once() {
    let (_cluster, db_url) = devstack::fresh_database().await.unwrap();
    let (_svc, base) = spawn(&db_url, &[]).await;
    site(&base, "dedupe.example", "UTC").await;
    let e = |id: &str| json!({"client_event_id": id, "name": "pageview", "url": "https://dedupe.example/", "user_agent": FIREFOX});
    let (status, body) =
        post(&base, "/v1/events", &json!({"domain": "dedupe.example", "events": [e("a"), e("b"), e("a")]}), &[]).await;
    assert_eq!(status, 200);
    let dup: Vec<bool> = body["outcomes"].as_array().unwrap().iter().map(|o| o["duplicate"] == true).collect();
    assert_eq!(dup, [false, false, true]);
    assert_eq!(body["accepted"], 3, "a duplicate counts as accepted: it is recorded");
    let (_, again) =
        post(&base, "/v1/events", &json!({"domain": "dedupe.example", "events": [e("b"), e("c")]}), &[]).await;
    let dup: Vec<bool> = again["outcomes"].as_array().unwrap().iter().map(|o| o["duplicate"] == true).collect();
    assert_eq!(dup, [true, false]);
    let ids: Vec<String> = stored(&db_url).await.into_iter().map(|r| r.client_event_id).collect();
    assert_eq!(ids, ["a", "b", "c"]);
}

#[tokio::test]
async fn plausible_events_take_the_visitor_ip_from_a_trusted_proxy_only_and_store_no_ip_or_agent() {
    let (_cluster, db_url) = devstack::fresh_database().await.unwrap();
    let (_proxied, behind_proxy) = spawn(&db_url, &[("TALLY_INGEST__TRUSTED_PROXIES", "127.0.0.1/32, ::1")]).await;
    let (_direct, direct) = spawn(&db_url, &[]).await;
    site(&behind_proxy, "plausible.example", "UTC").await;
    let event = json!({"n": "pageview", "u": "https://plausible.example/pricing?ref=x", "d": "plausible.example",
                       "r": "https://www.google.com/search?q=tally", "p": {"plan": "pro", "seats": 3}, "w": 1280});
    let send = |base: String, xff: &'static str, agent: &'static str| {
        let event = event.clone();
        async move {
            let resp = reqwest::Client::new()
                .post(format!("{base}/api/event"))
                .header("content-type", "text/plain")
                .header("user-agent", agent)
                .header("x-forwarded-for", xff)
                .body(event.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(resp.headers().get("access-control-allow-origin").map(|v| v.as_bytes()), Some(&b"*"[..]));
            (resp.status().as_u16(), resp.headers().get("x-tally-dropped").is_some())
        }
    };
    assert_eq!(send(behind_proxy.clone(), "198.51.100.7", FIREFOX).await, (202, false));
    assert_eq!(send(behind_proxy.clone(), "198.51.100.7", FIREFOX).await, (202, false));
    assert_eq!(send(behind_proxy.clone(), "6.6.6.6, 198.51.100.8", FIREFOX).await, (202, false));
    assert_eq!(send(direct.clone(), "198.51.100.9", FIREFOX).await, (202, false));
    assert_eq!(send(direct.clone(), "198.51.100.10", FIREFOX).await, (202, false));
    assert_eq!(send(behind_proxy.clone(), "198.51.100.7", GOOGLEBOT).await, (202, true), "bots: 202, dropped");

    let preflight =
        reqwest::Client::new().request(reqwest::Method::OPTIONS, format!("{direct}/api/event")).send().await.unwrap();
    assert_eq!(preflight.status(), 204);
    assert!(preflight.headers()["access-control-allow-methods"].to_str().unwrap().contains("POST"));

    let rows = stored(&db_url).await;
    assert_eq!(rows.len(), 5, "the bot was not stored");
    assert_eq!(rows[0].visitor_id, rows[1].visitor_id, "same forwarded IP and agent, same day: same visitor");
    assert_ne!(rows[1].visitor_id, rows[2].visitor_id, "the right-most untrusted hop is the visitor");
    assert_eq!(rows[3].visitor_id, rows[4].visitor_id, "an untrusted peer's X-Forwarded-For is ignored");
    assert_ne!(rows[3].visitor_id, rows[0].visitor_id);
    let r = &rows[0];
    assert_eq!((r.hostname.as_str(), r.pathname.as_str()), ("plausible.example", "/pricing"));
    assert_eq!((r.referrer.as_str(), r.referrer_source.as_str()), ("google.com/search", "Google"));
    assert_eq!(r.props.get("seats").map(String::as_str), Some("3"));
    assert_eq!(r.screen_width, 1280);

    // Neither the payload nor the metadata of any stored event holds an IP or the agent.
    let client = db(&db_url).await;
    for row in
        client.query("SELECT payload, metadata::text FROM events WHERE category = 'analytics'", &[]).await.unwrap()
    {
        let raw = String::from_utf8_lossy(row.get::<_, &[u8]>(0)).into_owned() + row.get::<_, &str>(1);
        for secret in ["198.51.100", "127.0.0.1", "6.6.6.6", "Mozilla", "Gecko", "ref=x"] {
            assert!(!raw.contains(secret), "{secret:?} was stored: {raw}");
        }
    }
}

/// NDJSON for a site in Asia/Kolkata (UTC+05:30): local midnight is 18:30 UTC.
fn kolkata_log() -> String {
    let line = |ts: &str, ip: &str, path: &str| {
        json!({"timestamp": ts, "domain": "import.example", "name": "pageview", "url": format!("https://import.example{path}"),
               "referrer": "", "ip": ip, "user_agent": FIREFOX, "props": {}})
        .to_string()
    };
    [
        line("2025-06-01T18:00:00Z", "203.0.113.5", "/a"), // 23:30 local, 1 June
        line("2025-06-01T18:25:00Z", "203.0.113.5", "/b"), // 23:55 local, 1 June
        line("2025-06-01T18:35:00Z", "203.0.113.5", "/c"), // 00:05 local, 2 June
        line("2025-06-02T17:00:00Z", "203.0.113.5", "/d"), // 22:30 local, 2 June
        line("2025-06-01T18:00:00Z", "203.0.113.5", "/a"), // a repeated line is another event
        "{not json".to_owned(),
        line("2025-06-02T17:00:00Z", "203.0.113.6", "/e"),
        json!({"timestamp": "2025-06-02T17:00:00Z", "domain": "import.example", "name": "pageview", "url": "https://import.example/", "user_agent": GOOGLEBOT}).to_string(),
        json!({"timestamp": "2025-06-02T17:00:00Z", "domain": "unknown.example", "name": "pageview", "url": "https://unknown.example/"}).to_string(),
    ]
    .join("\n")
}

async fn tally_import(file: &std::path::Path, base: &str, token: &str, extra: &[&str]) -> std::process::Output {
    tokio::process::Command::new(devstack::binary("tally").unwrap())
        .arg("import")
        .arg(file)
        .args(["--url", base, "--batch", "3"])
        .args(extra)
        .env("TALLY_ADMIN_TOKEN", token)
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_backfill_keeps_original_times_changes_visitor_ids_at_local_midnight_and_imports_each_line_once() {
    let (_cluster, db_url) = devstack::fresh_database().await.unwrap();
    let (_svc, base) = spawn(&db_url, &[]).await;
    site(&base, "import.example", "Asia/Kolkata").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.ndjson");
    std::fs::write(&file, kolkata_log()).unwrap();

    let wrong = tally_import(&file, &base, "not-the-token", &[]).await;
    assert!(!wrong.status.success());
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(stderr.contains("401") && !stderr.contains("not-the-token"), "{stderr}");

    let first = tally_import(&file, &base, TOKEN, &[]).await;
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    assert!(stderr.contains("6 recorded, 0 already imported, 1 bots dropped, 2 rejected"), "{stderr}");
    assert!(stderr.contains("line 6: not JSON") && stderr.contains("line 9: domain"), "{stderr}");
    let rows = stored(&db_url).await;
    assert_eq!(rows.len(), 6);

    let by_path = |p: &str| rows.iter().find(|r| r.pathname == p).unwrap();
    let (a, b, c, d) = (by_path("/a"), by_path("/b"), by_path("/c"), by_path("/d"));
    assert_eq!((a.local_date.as_str(), c.local_date.as_str()), ("2025-06-01", "2025-06-02"));
    assert_eq!(a.utc_offset_seconds, 19_800);
    assert_eq!(a.timestamp.as_ref().unwrap().seconds, 1_748_800_800, "the original time is kept");
    assert_eq!(a.visitor_id, b.visitor_id, "stable within the local day");
    assert_ne!(b.visitor_id, c.visitor_id, "a new visitor id after local midnight");
    assert_eq!(c.visitor_id, d.visitor_id);
    assert_ne!(d.visitor_id, by_path("/e").visitor_id, "another IP, another visitor");

    // Resuming finds nothing left; a forced re-import of the whole file records nothing new.
    let resumed = tally_import(&file, &base, TOKEN, &[]).await;
    assert!(resumed.status.success());
    assert!(String::from_utf8_lossy(&resumed.stderr).contains("0 recorded"));
    let again = tally_import(&file, &base, TOKEN, &["--restart"]).await;
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("0 recorded, 6 already imported"), "{stderr}");
    assert_eq!(stored(&db_url).await.len(), 6, "importing the same file twice changes nothing");
}

#[tokio::test]
async fn analytics_events_reach_kafka_keyed_by_site_and_visitor() {
    let tools = devstack::workspace_root().join("target/tools-venv/bin/python3");
    assert!(tools.exists(), "run scripts/bootstrap.sh (make test does) to get the Python tools");
    let broker = Broker::start(BrokerOptions::default()).await.unwrap();
    broker.create_topic("tally.analytics.v1", 3).await.unwrap();
    let (_cluster, db_url) = devstack::fresh_database().await.unwrap();
    // A trusted peer (the test stands in for an edge proxy), so the events' `ip` is honoured.
    let (_svc, base) = spawn(
        &db_url,
        &[
            ("TALLY_KAFKA__BROKERS", &broker.bootstrap()),
            ("TALLY_KAFKA__TOPIC_PARTITIONS", "3"),
            ("TALLY_INGEST__TRUSTED_PROXIES", "127.0.0.1"),
        ],
    )
    .await;
    let site_id = site(&base, "kafka.example", "UTC").await;
    let events: Vec<Value> = [("203.0.113.1", FIREFOX), ("203.0.113.2", FIREFOX), ("203.0.113.1", SAFARI), ("203.0.113.1", FIREFOX)]
        .iter()
        .enumerate()
        .map(|(i, (ip, agent))| json!({"name": "pageview", "url": format!("https://kafka.example/{i}"), "ip": ip, "user_agent": agent}))
        .collect();
    let (status, body) = post(&base, "/v1/events", &json!({"site_id": site_id, "events": events}), &[]).await;
    assert_eq!((status, body["accepted"].as_u64()), (200, Some(4)), "{body}");

    let generated = tempfile::tempdir().unwrap();
    let root = devstack::workspace_root();
    let protos: Vec<_> =
        std::fs::read_dir(root.join("proto/proto/tally/v1")).unwrap().map(|e| e.unwrap().path()).collect();
    let status = tokio::process::Command::new(&tools)
        .args(["-m", "grpc_tools.protoc", "-I"])
        .arg(root.join("proto/proto"))
        .arg(format!("--python_out={}", generated.path().display()))
        .args(&protos)
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let out = tokio::process::Command::new(&tools)
        .arg(root.join("tests/interop/kafka_consumer.py"))
        .arg(generated.path())
        .arg(broker.bootstrap())
        .arg("tally.analytics.v1")
        .arg("4")
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "consumer failed: {}", String::from_utf8_lossy(&out.stderr));
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    let consumed = seen["events"].as_array().unwrap();
    assert_eq!(consumed.len(), 4);
    let mut visitors = BTreeSet::new();
    for e in consumed {
        let visitor = e["payload"]["visitor_id"].as_str().unwrap();
        assert_eq!(e["key"].as_str().unwrap(), format!("{site_id}:{visitor}"), "keyed by site and visitor, not site");
        assert!(e["payload"].get("ip").is_none());
        visitors.insert(visitor.to_owned());
    }
    assert_eq!(visitors.len(), 3, "(IP, agent) pairs: three distinct visitors");
}

#[tokio::test]
async fn the_service_destroys_expired_salts_when_it_starts() {
    let (_cluster, db_url) = devstack::fresh_database().await.unwrap();
    let migrated = tokio::process::Command::new(devstack::binary("command-service").unwrap())
        .arg("migrate")
        .env("TALLY_DATABASE__URL", &db_url)
        .output()
        .await
        .unwrap();
    assert!(migrated.status.success());
    let client = db(&db_url).await;
    client
        .execute(
            "INSERT INTO analytics_salts (site_id, local_date, salt, expires_at) VALUES \
             (gen_random_uuid(), '2020-01-01', decode(repeat('ab', 32), 'hex'), now() - interval '1 minute'), \
             (gen_random_uuid(), current_date, decode(repeat('cd', 32), 'hex'), now() + interval '2 days')",
            &[],
        )
        .await
        .unwrap();
    let (_svc, _base) = spawn(&db_url, &[]).await;
    let mut left = Vec::new();
    for _ in 0..50 {
        left = client.query("SELECT local_date::text FROM analytics_salts", &[]).await.unwrap();
        if left.len() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let dates: Vec<String> = left.iter().map(|r| r.get(0)).collect();
    assert_eq!(dates.len(), 1, "only the live salt survives: {dates:?}");
    assert_ne!(dates[0], "2020-01-01");
}

/// One event of `limits.example` with `field` set to `value`.
fn with(field: &str, value: Value) -> Value {
    let mut event = json!({"name": "pageview", "url": "https://limits.example/", "user_agent": FIREFOX});
    event[field] = value;
    event
}

/// The limits not breached elsewhere in this file (a name over 120 characters, over 30
/// props, a stale timestamp, an unknown site and a body over 1 MB are above), each alone in
/// its request: a 400 naming the field and nothing stored — over `/v1/events` and
/// `/api/event`, and as a rejected line over the backfill. Exactly at each limit, an event is accepted.
#[tokio::test]
async fn each_remaining_limit_breached_once_is_a_400_naming_the_field_and_stores_nothing() {
    let (_cluster, db_url) = devstack::fresh_database().await.unwrap();
    let (_svc, base) = spawn(&db_url, &[]).await;
    site(&base, "limits.example", "UTC").await;
    let x = |n: usize| "x".repeat(n);
    let ahead = (chrono::Utc::now() + chrono::Duration::minutes(10)).to_rfc3339();
    let long_key: serde_json::Map<String, Value> = [("k".repeat(301), json!("v"))].into_iter().collect();
    let breaches = [
        (with("url", json!(format!("https://limits.example/{}", x(1978)))), "url".to_owned()),
        (with("referrer", json!(format!("https://ref.example/{}", x(1981)))), "referrer".to_owned()),
        (with("props", Value::Object(long_key)), format!("props[{:?}]", "k".repeat(64))),
        (with("props", json!({"plan": x(2001)})), r#"props["plan"]"#.to_owned()),
        (with("timestamp", json!(ahead)), "timestamp".to_owned()),
    ];
    for (event, field) in &breaches {
        let (status, body) =
            post(&base, "/v1/events", &json!({"domain": "limits.example", "events": [event]}), &[]).await;
        assert_eq!(status, 400, "{field}: {body}");
        let named: Vec<&str> =
            body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(named, [format!("events[0].{field}")], "{body}");
        assert!(stored(&db_url).await.is_empty(), "{field}: nothing is stored");
    }
    // Plausible's endpoint (no timestamp there): the same 400 naming the field.
    for (event, field) in &breaches[..4] {
        let mut body = event.clone();
        body["domain"] = json!("limits.example");
        body.as_object_mut().unwrap().remove("user_agent");
        let (status, answer) = post(&base, "/api/event", &body, &[("user-agent", FIREFOX)]).await;
        assert_eq!((status, answer["errors"][0]["field"].as_str()), (400, Some(field.as_str())), "{answer}");
    }
    assert!(stored(&db_url).await.is_empty());
    // The same lines in a backfill: each rejected on its own, naming its field.
    let lines: Vec<Value> = breaches
        .iter()
        .map(|(e, _)| {
            let mut line = e.clone();
            line["domain"] = json!("limits.example");
            line["timestamp"] = e.get("timestamp").cloned().unwrap_or(json!("2026-01-10T10:00:00Z"));
            line
        })
        .collect();
    let auth = format!("Bearer {TOKEN}");
    let (status, body) =
        post(&base, "/v1/import/events", &json!({ "lines": lines }), &[("authorization", auth.as_str())]).await;
    assert_eq!((status, body["accepted"].as_u64(), body["rejected"].as_u64()), (200, Some(0), Some(5)), "{body}");
    let o = body["outcomes"].as_array().unwrap();
    let named: Vec<Vec<String>> = o.iter().map(fields).collect();
    let expected: Vec<Vec<String>> = breaches.iter().map(|(_, f)| vec![f.clone()]).collect();
    assert_eq!(named, expected);
    assert!(stored(&db_url).await.is_empty());

    // Exactly at every limit: accepted (sizes in bytes, the name in characters).
    let props: serde_json::Map<String, Value> = (0..28)
        .map(|i| (format!("k{i}"), json!("v")))
        .chain([("k".repeat(300), json!("v")), ("plan".to_owned(), json!(x(2000)))])
        .collect();
    let edge = json!({"name": "é".repeat(120), "url": format!("https://limits.example/{}", x(1977)),
                      "referrer": format!("https://ref.example/{}", x(1980)), "props": props, "user_agent": FIREFOX});
    assert_eq!((edge["url"].as_str().unwrap().len(), edge["referrer"].as_str().unwrap().len()), (2000, 2000));
    let (status, body) = post(&base, "/v1/events", &json!({"domain": "limits.example", "events": [edge]}), &[]).await;
    assert_eq!((status, body["accepted"].as_u64()), (200, Some(1)), "{body}");
    assert_eq!(stored(&db_url).await.len(), 1);
}

#[tokio::test]
async fn a_batch_of_a_thousand_with_one_bad_event_stores_the_999_good_ones_and_names_the_bad_one() {
    let (_cluster, db_url) = devstack::fresh_database().await.unwrap();
    let (_svc, base) = spawn(&db_url, &[]).await;
    site(&base, "limits.example", "UTC").await;
    let mut events: Vec<Value> =
        (0..1000).map(|i| with("url", json!(format!("https://limits.example/p{i}")))).collect();
    events[617]["referrer"] = json!(format!("https://ref.example/{}", "x".repeat(2000)));
    let (status, body) = post(&base, "/v1/events", &json!({"domain": "limits.example", "events": events}), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["accepted"].as_u64(), body["rejected"].as_u64()), (Some(999), Some(1)));
    let o = body["outcomes"].as_array().unwrap();
    let bad: Vec<(u64, Vec<String>)> =
        o.iter().filter(|o| o["accepted"] != true).map(|o| (o["index"].as_u64().unwrap(), fields(o))).collect();
    assert_eq!(bad, [(617, vec!["referrer".to_owned()])]);

    let paths: BTreeSet<String> = stored(&db_url).await.into_iter().map(|r| r.pathname).collect();
    let expected: BTreeSet<String> = (0..1000).filter(|&i| i != 617).map(|i| format!("/p{i}")).collect();
    assert_eq!(paths, expected, "exactly the 999 good events, once each");
}
