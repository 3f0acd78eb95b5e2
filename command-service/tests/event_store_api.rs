//! The event store for consumers — gRPC `tally.v1.EventStore` and REST
//! `/v1/events` — against the real server on a real Postgres: pages of a
//! stream and of the global order, filters, live subscriptions (gRPC,
//! NDJSON, SSE) and their ends, and bad parameters.

mod common;

use std::time::Duration;

use common::TestApp;
use futures::StreamExt;
use serde_json::{Value, json};
use tally_domain::ProfileEvent;
use tally_proto::{
    convert::{decode_profile_event, event_types},
    v1::{self, event_store_client::EventStoreClient, subscribe_response::Message},
};
use tokio::time::{Instant, timeout, timeout_at};
use tonic::{Code, Streaming, transport::Channel};
use tonic_types::StatusExt;

/// How long a live event may take from commit to subscriber. NOTIFY makes it
/// milliseconds; the margin is for a loaded CI machine.
const LIVE: Duration = Duration::from_secs(2);
/// Bound for anything else a test waits for.
const WAIT: Duration = Duration::from_secs(10);

/// Tests that open subscriptions run one at a time, so the process-wide
/// subscription gauge belongs to whichever test is looking at it.
static SUBSCRIBERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn client(app: &TestApp) -> EventStoreClient<Channel> {
    EventStoreClient::connect(app.base.clone()).await.expect("gRPC connects")
}

/// What `seed` wrote, at global positions 1..=5.
struct Seed {
    ada: String,
    bob: String,
}

/// ada (1), bob (2), cyd (3) created; bob's bio updated (4); a site owned by ada (5).
async fn seed(app: &TestApp) -> Seed {
    let ada = app.create_profile("ada").await["profile"]["id"].as_str().unwrap().to_owned();
    let bob = app.create_profile("bob").await["profile"]["id"].as_str().unwrap().to_owned();
    app.create_profile("cyd").await;
    let resp =
        app.http.patch(app.url(&format!("/v1/profiles/{bob}"))).json(&json!({"bio": "Builder"})).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let site = json!({"domain": "ada.example", "time_zone": "Europe/London", "owner_profile_id": ada});
    assert_eq!(app.post_json("/v1/sites", &site).await.status(), 201);
    assert_eq!(app.event_count().await, 5);
    Seed { ada, bob }
}

fn positions(events: &[v1::EventEnvelope]) -> Vec<u64> {
    events.iter().map(|e| e.global_position).collect()
}

fn decode(e: &v1::EventEnvelope) -> ProfileEvent {
    decode_profile_event(&e.event_type, e.schema_version, &e.payload).expect("a stored profile payload decodes")
}

fn handle(e: &v1::EventEnvelope) -> String {
    match decode(e) {
        ProfileEvent::Created(c) => c.handle.as_str().to_owned(),
        other => panic!("expected ProfileCreated, got {other:?}"),
    }
}

fn read_all(after: u64, page_size: i32, categories: &[&str], types: &[&str]) -> v1::ReadAllRequest {
    v1::ReadAllRequest {
        after_position: after,
        page_size,
        categories: categories.iter().map(|s| s.to_string()).collect(),
        event_types: types.iter().map(|s| s.to_string()).collect(),
    }
}

#[tokio::test]
async fn read_stream_returns_one_stream_in_order_with_paging() {
    let app = TestApp::spawn().await;
    let seed = seed(&app).await;
    let mut c = client(&app).await;
    let stream_id = format!("profile-{}", seed.bob);

    let all = c
        .read_stream(v1::ReadStreamRequest { stream_id: stream_id.clone(), from_version: 0, page_size: 0 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(positions(&all.events), [2, 4]);
    assert!(all.end_of_stream);
    assert_eq!(all.next_version, 3);
    let first = &all.events[0];
    assert_eq!(
        (first.stream_id.as_str(), first.category.as_str(), first.stream_version),
        (stream_id.as_str(), "profile", 1)
    );
    assert_eq!(first.event_type, event_types::PROFILE_CREATED);
    assert!(uuid::Uuid::parse_str(&first.event_id).is_ok());
    assert!(first.recorded_at.is_some());
    assert!(!first.metadata.as_ref().unwrap().correlation_id.is_empty());
    assert_eq!(handle(first), "bob");
    match decode(&all.events[1]) {
        ProfileEvent::Updated(u) => assert_eq!(u.bio.unwrap().as_str(), "Builder"),
        other => panic!("expected ProfileUpdated, got {other:?}"),
    }

    let page = c
        .read_stream(v1::ReadStreamRequest { stream_id: stream_id.clone(), from_version: 0, page_size: 1 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((positions(&page.events), page.end_of_stream, page.next_version), (vec![2], false, 2));
    let rest = c
        .read_stream(v1::ReadStreamRequest { stream_id, from_version: page.next_version, page_size: 1 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((positions(&rest.events), rest.end_of_stream, rest.next_version), (vec![4], true, 3));

    let unknown = c
        .read_stream(v1::ReadStreamRequest {
            stream_id: format!("profile-{}", uuid::Uuid::now_v7()),
            from_version: 0,
            page_size: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(unknown.events.is_empty() && unknown.end_of_stream);
}

#[tokio::test]
async fn read_all_pages_the_global_order_and_filters() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let mut c = client(&app).await;

    let all = c.read_all(read_all(0, 0, &[], &[])).await.unwrap().into_inner();
    assert_eq!(positions(&all.events), [1, 2, 3, 4, 5]);
    assert_eq!((all.next_after_position, all.head_position), (5, 5));

    // Paging by two walks the same order, each page continuing the last.
    let mut after = 0;
    let mut walked = Vec::new();
    for expected in [vec![1, 2], vec![3, 4], vec![5]] {
        let page = c.read_all(read_all(after, 2, &[], &[])).await.unwrap().into_inner();
        assert_eq!(positions(&page.events), expected);
        assert_eq!(page.head_position, 5);
        after = page.next_after_position;
        walked.extend(positions(&page.events));
    }
    assert_eq!((walked, after), (vec![1, 2, 3, 4, 5], 5));

    let created = c.read_all(read_all(0, 0, &[], &[event_types::PROFILE_CREATED])).await.unwrap().into_inner();
    assert_eq!(positions(&created.events), [1, 2, 3]);
    assert_eq!(created.events.iter().map(handle).collect::<Vec<_>>(), ["ada", "bob", "cyd"]);
    assert_eq!(created.next_after_position, 5, "a filtered reader skips past what did not match");

    let sites = c.read_all(read_all(0, 0, &["site"], &[])).await.unwrap().into_inner();
    assert_eq!(positions(&sites.events), [5]);
    assert_eq!(sites.events[0].event_type, event_types::SITE_REGISTERED);
    let decoded = tally_proto::convert::decode_site_event(
        &sites.events[0].event_type,
        sites.events[0].schema_version,
        &sites.events[0].payload,
    );
    assert!(decoded.is_ok(), "{decoded:?}");

    // Categories and types combine by AND.
    let none = c.read_all(read_all(0, 0, &["profile"], &[event_types::SITE_REGISTERED])).await.unwrap().into_inner();
    assert!(none.events.is_empty());
    assert_eq!((none.next_after_position, none.head_position), (5, 5));
    let updated = c
        .read_all(read_all(1, 0, &["profile", "site"], &[event_types::PROFILE_UPDATED, event_types::PROFILE_DELETED]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(positions(&updated.events), [4]);
}

/// Standard base64, for checking `payload_base64` against the decoder.
fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).expect("valid base64")
}

fn rest_positions(page: &Value) -> Vec<u64> {
    page["events"].as_array().unwrap().iter().map(|e| e["global_position"].as_u64().unwrap()).collect()
}

#[tokio::test]
async fn rest_pages_mirror_the_grpc_reads() {
    let app = TestApp::spawn().await;
    let seed = seed(&app).await;
    let get = |path: String| {
        let app = &app;
        async move {
            let resp = app.http.get(app.url(&path)).send().await.unwrap();
            assert_eq!(resp.status(), 200, "{path}");
            resp.json::<Value>().await.unwrap()
        }
    };

    let page = get("/v1/events?limit=2".into()).await;
    assert_eq!(rest_positions(&page), [1, 2]);
    assert_eq!((page["next_after"].as_u64(), page["head_position"].as_u64()), (Some(2), Some(5)));
    let ada = &page["events"][0];
    assert_eq!(ada["stream_id"], format!("profile-{}", seed.ada));
    assert_eq!(ada["category"], "profile");
    assert_eq!(ada["event_type"], event_types::PROFILE_CREATED);
    assert_eq!(ada["data"]["handle"], "ada");
    assert_eq!(ada["data"]["email"], "ada@example.com");
    assert!(ada["recorded_at"].as_str().unwrap().ends_with('Z'));
    assert!(ada["metadata"]["correlation_id"].as_str().is_some_and(|s| !s.is_empty()));
    // The base64 payload is the protobuf the `data` was decoded from.
    let payload = base64_decode(ada["payload_base64"].as_str().unwrap());
    match decode_profile_event(event_types::PROFILE_CREATED, 1, &payload).unwrap() {
        ProfileEvent::Created(c) => assert_eq!(c.handle.as_str(), "ada"),
        other => panic!("unexpected {other:?}"),
    }

    let next = get(format!("/v1/events?after={}&limit=2", page["next_after"])).await;
    assert_eq!(rest_positions(&next), [3, 4]);

    let sites = get("/v1/events?category=site".into()).await;
    assert_eq!(rest_positions(&sites), [5]);
    assert_eq!(sites["events"][0]["data"]["domain"], "ada.example");
    assert_eq!(sites["events"][0]["data"]["owner_profile_id"], seed.ada);

    // Repeated and comma-separated values are one list.
    let types = format!(
        "/v1/events?type={}&type={},{}",
        event_types::PROFILE_UPDATED,
        event_types::SITE_DELETED,
        event_types::PROFILE_DELETED
    );
    let updated = get(types).await;
    assert_eq!(rest_positions(&updated), [4]);
    assert_eq!(updated["events"][0]["data"], json!({"profile_id": seed.bob, "bio": "Builder"}));
    assert_eq!(updated["next_after"], 5);

    let stream = get(format!("/v1/streams/profile-{}/events?limit=1", seed.bob)).await;
    assert_eq!(rest_positions(&stream), [2]);
    assert_eq!((stream["end_of_stream"].as_bool(), stream["next_version"].as_u64()), (Some(false), Some(2)));
    let stream = get(format!("/v1/streams/profile-{}/events?from_version=2", seed.bob)).await;
    assert_eq!(rest_positions(&stream), [4]);
    assert_eq!((stream["end_of_stream"].as_bool(), stream["next_version"].as_u64()), (Some(true), Some(3)));

    let doc = get("/openapi.json".into()).await;
    for path in ["/v1/events", "/v1/events/stream", "/v1/streams/{stream_id}/events"] {
        assert!(doc["paths"][path]["get"].is_object(), "{path} is documented");
    }
    // The operator-only paths name the admin token as a security scheme: OpenAPI tools ignore
    // a header parameter called Authorization, so a generated client would never send it.
    assert_eq!(doc["components"]["securitySchemes"]["admin_token"]["scheme"], "bearer", "{doc}");
    for (path, method) in [
        ("/v1/sites/{id}/read-keys", "post"),
        ("/v1/sites/{id}/read-keys/{key_id}", "delete"),
        ("/v1/import/events", "post"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op["security"][0].get("admin_token").is_some(), "{method} {path}: {op}");
        let params = op["parameters"].as_array().map(Vec::as_slice).unwrap_or_default();
        assert!(params.iter().all(|p| p["name"] != "Authorization"), "{method} {path}: {op}");
    }
    assert!(doc["paths"]["/v1/profiles"]["post"].get("security").is_none(), "commands stay open");
}

/// The next message of a subscription, within `within`.
async fn next_message(stream: &mut Streaming<v1::SubscribeResponse>, within: Duration) -> Message {
    let item = timeout(within, stream.message()).await.expect("a message in time");
    item.expect("no error").expect("the stream is open").message.expect("a message")
}

fn event(message: Message) -> v1::EventEnvelope {
    match message {
        Message::Event(e) => e,
        other => panic!("expected an event, got {other:?}"),
    }
}

#[tokio::test]
async fn subscribe_catches_up_then_delivers_live_events() {
    let _one_at_a_time = SUBSCRIBERS.lock().await;
    let app = TestApp::spawn().await;
    app.create_profile("ada").await;
    app.create_profile("bob").await;
    let mut c = client(&app).await;

    let mut all =
        c.subscribe(v1::SubscribeRequest { after_position: 0, ..Default::default() }).await.unwrap().into_inner();
    let history: Vec<_> =
        [next_message(&mut all, WAIT).await, next_message(&mut all, WAIT).await].into_iter().map(event).collect();
    assert_eq!(positions(&history), [1, 2]);
    assert_eq!(history.iter().map(handle).collect::<Vec<_>>(), ["ada", "bob"]);
    assert_eq!(next_message(&mut all, WAIT).await, Message::CaughtUp(v1::CaughtUp { head_position: 2 }));

    // A filtered subscription opened now is caught up at once.
    let mut sites = c
        .subscribe(v1::SubscribeRequest { after_position: 0, categories: vec!["site".into()], event_types: vec![] })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next_message(&mut sites, WAIT).await, Message::CaughtUp(v1::CaughtUp { head_position: 2 }));

    let cyd = app.create_profile("cyd").await["profile"]["id"].as_str().unwrap().to_owned();
    let live = event(next_message(&mut all, LIVE).await);
    assert_eq!((live.global_position, handle(&live)), (3, "cyd".to_owned()));

    let site = json!({"domain": "cyd.example", "time_zone": "UTC", "owner_profile_id": cyd});
    assert_eq!(app.post_json("/v1/sites", &site).await.status(), 201);
    let live_site = event(next_message(&mut sites, LIVE).await);
    assert_eq!((live_site.global_position, live_site.category.as_str()), (4, "site"));
    assert_eq!(event(next_message(&mut all, LIVE).await).global_position, 4);

    // Resuming after a position delivers only what came later.
    let mut resumed =
        c.subscribe(v1::SubscribeRequest { after_position: 3, ..Default::default() }).await.unwrap().into_inner();
    assert_eq!(event(next_message(&mut resumed, WAIT).await).global_position, 4);
    assert_eq!(next_message(&mut resumed, WAIT).await, Message::CaughtUp(v1::CaughtUp { head_position: 4 }));
}

#[tokio::test]
async fn subscriptions_end_when_the_server_shuts_down() {
    let _one_at_a_time = SUBSCRIBERS.lock().await;
    let app = TestApp::spawn().await;
    app.create_profile("ada").await;
    let mut c = client(&app).await;
    let mut grpc = c.subscribe(v1::SubscribeRequest::default()).await.unwrap().into_inner();
    event(next_message(&mut grpc, WAIT).await);
    assert!(matches!(next_message(&mut grpc, WAIT).await, Message::CaughtUp(_)));
    let mut ndjson = Lines::open(&app, "/v1/events/stream", None).await;
    assert_eq!(ndjson.next_json().await["global_position"], 1);
    assert_eq!(ndjson.next_json().await, json!({"caught_up": {"head_position": 1}}));

    let stopping = tokio::spawn(app.stop());

    // gRPC: a retryable status (or the bare end), then nothing.
    let deadline = Instant::now() + WAIT;
    match timeout_at(deadline, grpc.message()).await.expect("the stream ends in time") {
        Err(status) => assert_eq!(status.code(), Code::Unavailable, "{status:?}"),
        Ok(None) => {}
        Ok(Some(m)) => panic!("unexpected message after shutdown: {m:?}"),
    }
    // NDJSON: an `error` line saying why, then the end of the body.
    let last = ndjson.next_json().await;
    assert_eq!(last["error"]["status"], 503, "{last}");
    assert!(ndjson.ended().await, "the body ends after the error line");
    timeout(WAIT, stopping).await.expect("the server stops in time").expect("the server stops cleanly");
}

/// Reads the process-wide subscription gauge from `/metrics`.
async fn active_subscriptions(app: &TestApp) -> f64 {
    let text = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("tally_event_subscriptions "))
        .map_or(0.0, |v| v.trim().parse().expect("a number"))
}

async fn wait_for_subscriptions(app: &TestApp, expected: f64) {
    let deadline = Instant::now() + WAIT;
    loop {
        let now = active_subscriptions(app).await;
        if now == expected {
            return;
        }
        assert!(Instant::now() < deadline, "subscriptions stayed at {now}, expected {expected}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_subscription_ends_when_its_client_goes_away() {
    let _one_at_a_time = SUBSCRIBERS.lock().await;
    let app = TestApp::spawn().await;
    // Subscriptions of earlier tests in this process end with their runtimes.
    wait_for_subscriptions(&app, 0.0).await;

    let mut c = client(&app).await;
    let mut grpc = c.subscribe(v1::SubscribeRequest::default()).await.unwrap().into_inner();
    assert!(matches!(next_message(&mut grpc, WAIT).await, Message::CaughtUp(_)));
    let mut ndjson = Lines::open(&app, "/v1/events/stream", None).await;
    assert!(ndjson.next_json().await.get("caught_up").is_some());
    wait_for_subscriptions(&app, 2.0).await;

    drop(grpc);
    wait_for_subscriptions(&app, 1.0).await;
    drop(ndjson);
    wait_for_subscriptions(&app, 0.0).await;
}

/// An NDJSON body read line by line as chunks arrive.
struct Lines {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

impl Lines {
    async fn open(app: &TestApp, path: &str, accept: Option<&str>) -> Lines {
        let mut request = app.http.get(app.url(path));
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let response = timeout(WAIT, request.send()).await.expect("response head in time").unwrap();
        assert_eq!(response.status(), 200, "{path}");
        Lines { response, buffer: Vec::new() }
    }

    fn content_type(&self) -> &str {
        self.response.headers()["content-type"].to_str().unwrap()
    }

    /// The next line (`\n`-terminated, without it), keep-alive blank lines included.
    async fn next_raw(&mut self, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                return String::from_utf8(line[..end].to_vec()).unwrap();
            }
            let chunk = timeout_at(deadline, self.response.chunk()).await.expect("a line in time").unwrap();
            self.buffer.extend_from_slice(&chunk.expect("the body is still open"));
        }
    }

    async fn next_json_within(&mut self, within: Duration) -> Value {
        loop {
            let line = self.next_raw(within).await;
            if !line.trim().is_empty() {
                return serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?} is not JSON: {e}"));
            }
        }
    }

    async fn next_json(&mut self) -> Value {
        self.next_json_within(WAIT).await
    }

    /// True when the body ends (with nothing but keep-alives before).
    async fn ended(&mut self) -> bool {
        let deadline = Instant::now() + WAIT;
        loop {
            match timeout_at(deadline, self.response.chunk()).await.expect("the body ends in time") {
                Ok(None) | Err(_) => return self.buffer.iter().all(u8::is_ascii_whitespace),
                Ok(Some(chunk)) => self.buffer.extend_from_slice(&chunk),
            }
        }
    }
}

#[tokio::test]
async fn ndjson_stream_delivers_history_caught_up_and_live_events() {
    let _one_at_a_time = SUBSCRIBERS.lock().await;
    let app = TestApp::spawn().await;
    app.create_profile("ada").await;
    app.create_profile("bob").await;

    let mut lines = Lines::open(&app, "/v1/events/stream?after=0&category=profile", None).await;
    assert_eq!(lines.content_type(), "application/x-ndjson");
    let first = lines.next_json().await;
    assert_eq!((first["global_position"].as_u64(), first["data"]["handle"].as_str()), (Some(1), Some("ada")));
    assert_eq!(lines.next_json().await["data"]["handle"], "bob");
    assert_eq!(lines.next_json().await, json!({"caught_up": {"head_position": 2}}));

    app.create_profile("cyd").await;
    let live = lines.next_json_within(LIVE).await;
    assert_eq!((live["global_position"].as_u64(), live["data"]["handle"].as_str()), (Some(3), Some("cyd")));
    assert_eq!(live["stream_version"], 1);
}

/// A server-sent event: its `event`, `id` and `data` fields.
#[derive(Debug, Default)]
struct SseEvent {
    event: Option<String>,
    id: Option<String>,
    data: String,
}

impl SseEvent {
    fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("{self:?} carries no JSON: {e}"))
    }
}

/// The next event of an SSE body, skipping keep-alive comments.
async fn next_sse(lines: &mut Lines, within: Duration) -> SseEvent {
    let mut event = SseEvent::default();
    let mut fields = 0;
    loop {
        let line = lines.next_raw(within).await;
        if line.is_empty() {
            if fields > 0 {
                return event;
            }
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (name, value) = line.split_once(':').unwrap_or((&line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
        fields += 1;
        match name {
            "event" => event.event = Some(value),
            "id" => event.id = Some(value),
            "data" => event.data.push_str(&value),
            other => panic!("unexpected SSE field {other:?}"),
        }
    }
}

#[tokio::test]
async fn sse_stream_delivers_history_caught_up_and_live_events_and_resumes() {
    let _one_at_a_time = SUBSCRIBERS.lock().await;
    let app = TestApp::spawn().await;
    app.create_profile("ada").await;
    app.create_profile("bob").await;

    let mut sse = Lines::open(&app, "/v1/events/stream", Some("text/event-stream")).await;
    assert!(sse.content_type().starts_with("text/event-stream"));
    for (id, handle) in [("1", "ada"), ("2", "bob")] {
        let e = next_sse(&mut sse, WAIT).await;
        assert_eq!((e.event.as_deref(), e.id.as_deref()), (None, Some(id)));
        assert_eq!(e.json()["data"]["handle"], handle);
    }
    let caught_up = next_sse(&mut sse, WAIT).await;
    assert_eq!(caught_up.event.as_deref(), Some("caught_up"));
    assert_eq!(caught_up.json(), json!({"head_position": 2}));

    app.create_profile("cyd").await;
    let live = next_sse(&mut sse, LIVE).await;
    assert_eq!((live.id.as_deref(), live.json()["data"]["handle"].as_str()), (Some("3"), Some("cyd")));

    // A reconnecting EventSource sends the last id it saw; it wins over `after`.
    let response = app
        .http
        .get(app.url("/v1/events/stream?after=0"))
        .header("accept", "text/event-stream")
        .header("last-event-id", "2")
        .send()
        .await
        .unwrap();
    let mut resumed = Lines { response, buffer: Vec::new() };
    assert_eq!(next_sse(&mut resumed, WAIT).await.id.as_deref(), Some("3"));
    assert_eq!(next_sse(&mut resumed, WAIT).await.json(), json!({"head_position": 3}));
}

#[tokio::test]
async fn bad_parameters_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let id = format!("profile-{}", uuid::Uuid::now_v7());
    // (path, `Last-Event-ID` header, the field the problem must name)
    let no_header = "";
    let cases: Vec<(String, &str, &str)> = vec![
        ("/v1/events?limit=abc".into(), no_header, "limit"),
        ("/v1/events?limit=0".into(), no_header, "limit"),
        ("/v1/events?limit=-5".into(), no_header, "limit"),
        ("/v1/events?limit=1&limit=2".into(), no_header, "limit"),
        ("/v1/events?after=x".into(), no_header, "after"),
        ("/v1/events?after=9223372036854775808".into(), no_header, "after"),
        ("/v1/events?after=99999999999999999999999".into(), no_header, "after"),
        ("/v1/events?category=".into(), no_header, "category"),
        ("/v1/events?category=Profile".into(), no_header, "category"),
        ("/v1/events?category=profile,".into(), no_header, "category"),
        ("/v1/events?type=tally%20v1".into(), no_header, "type"),
        ("/v1/events?categroy=profile".into(), no_header, "categroy"),
        ("/v1/streams/nodash/events".into(), no_header, "stream_id"),
        ("/v1/streams/profile-/events".into(), no_header, "stream_id"),
        ("/v1/streams/Profile-x/events".into(), no_header, "stream_id"),
        (format!("/v1/streams/{id}/events?from_version=first"), no_header, "from_version"),
        (format!("/v1/streams/{id}/events?limit=many"), no_header, "limit"),
        (format!("/v1/streams/{id}/events?after=1"), no_header, "after"),
        ("/v1/events/stream?after=-1".into(), no_header, "after"),
        ("/v1/events/stream?type=".into(), no_header, "type"),
        ("/v1/events/stream?limit=5".into(), no_header, "limit"),
        ("/v1/events/stream".into(), "yesterday", "Last-Event-ID"),
    ];
    for (path, header, field) in cases {
        let mut request = app.http.get(app.url(&path));
        if !header.is_empty() {
            request = request.header("last-event-id", header);
        }
        let resp = request.send().await.unwrap();
        assert_eq!(resp.status(), 400, "{path}");
        assert_eq!(resp.headers()["content-type"], "application/problem+json", "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["errors"][0]["field"], field, "{path}: {body}");
    }

    let mut c = client(&app).await;
    let field_of = |status: tonic::Status| {
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        status.get_error_details().bad_request().expect("BadRequest detail").field_violations[0].field.clone()
    };
    let stream = |stream_id: &str, page_size: i32| v1::ReadStreamRequest {
        stream_id: stream_id.into(),
        from_version: 0,
        page_size,
    };
    assert_eq!(field_of(c.read_stream(stream("", 0)).await.unwrap_err()), "stream_id");
    assert_eq!(field_of(c.read_stream(stream("nodash", 0)).await.unwrap_err()), "stream_id");
    assert_eq!(field_of(c.read_stream(stream(&id, -1)).await.unwrap_err()), "page_size");
    let status = c.read_stream(v1::ReadStreamRequest { from_version: u64::MAX, ..stream(&id, 0) }).await.unwrap_err();
    assert_eq!(field_of(status), "from_version");
    assert_eq!(field_of(c.read_all(read_all(0, -7, &[], &[])).await.unwrap_err()), "page_size");
    assert_eq!(field_of(c.read_all(read_all(u64::MAX, 0, &[], &[])).await.unwrap_err()), "after_position");
    assert_eq!(field_of(c.read_all(read_all(0, 0, &["profile", "Site"], &[])).await.unwrap_err()), "categories[1]");
    assert_eq!(field_of(c.read_all(read_all(0, 0, &[], &[""])).await.unwrap_err()), "event_types[0]");
    let status = c
        .subscribe(v1::SubscribeRequest { after_position: 0, categories: vec!["no such".into()], event_types: vec![] })
        .await
        .unwrap_err();
    assert_eq!(field_of(status), "categories[0]");

    // A huge page size is coerced, not refused (AIP-158).
    let page = c.read_all(read_all(0, i32::MAX, &[], &[])).await.unwrap().into_inner();
    assert!(page.events.is_empty());
    assert_eq!(app.event_count().await, 0, "reads never write");
}

#[tokio::test]
async fn the_service_reports_healthy_and_an_empty_store_is_caught_up_at_zero() {
    let _one_at_a_time = SUBSCRIBERS.lock().await;
    let app = TestApp::spawn().await;
    let channel = Channel::from_shared(app.base.clone()).unwrap().connect().await.unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest { service: "tally.v1.EventStore".into() })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);
    let mut c = client(&app).await;
    let mut stream = c.subscribe(v1::SubscribeRequest::default()).await.unwrap().into_inner();
    let first = timeout(WAIT, stream.next()).await.expect("in time").expect("open").expect("ok");
    assert_eq!(first.message, Some(Message::CaughtUp(v1::CaughtUp { head_position: 0 })));
}
