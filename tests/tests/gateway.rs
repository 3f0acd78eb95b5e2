//! The complete stack behind the real nginx, started by the same launcher as `tally up`
//! (`tally_cli::stack::Stack`, same config template), on throw-away clusters and free ports.
//!
//! Routing is proven by nginx's `X-Upstream` header (the address that answered) and by each
//! service's own request metrics, not by the config text.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tally_cli::stack::{Endpoints, Stack, StackConfig, StackPorts, StateDir, seed};
use tally_proto::v1::{
    CreateProfileRequest, GetProfileByHandleRequest, GetProfileRequest, ListProfilesRequest, Profile, ReadAllRequest,
    command_service_client::CommandServiceClient, event_store_client::EventStoreClient,
    query_service_client::QueryServiceClient,
};
use tally_tests::devstack::{self, GatewayPorts, Nginx, NginxOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A started stack and the directory holding its state (removed at the end).
struct Running {
    stack: Stack,
    state: StateDir,
    _dir: tempfile::TempDir,
}

impl Running {
    fn endpoints(&self) -> &Endpoints {
        self.stack.endpoints().expect("the stack is up")
    }
}

async fn start_stack() -> Running {
    let dir = tempfile::Builder::new().prefix("tally-gateway-").tempdir().unwrap();
    // The clusters run as `postgres` when we are root: it must be able to enter the dir.
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let bin_dir = devstack::binary("command-service").unwrap().parent().unwrap().to_path_buf();
    let state = StateDir::at(dir.path());
    let cfg = StackConfig { state: state.clone(), ports: StackPorts::EPHEMERAL, bin_dir, durable: false };
    let mut stack = Stack::default();
    if let Err(e) = stack.start(&cfg).await {
        stack.shutdown().await;
        panic!("the stack did not start: {e:#}");
    }
    Running { stack, state, _dir: dir }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

/// `host:port` of a base URL, as nginx reports it in `X-Upstream`.
fn addr(base: &str) -> String {
    base.trim_start_matches("http://").to_owned()
}

fn upstream_of(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("x-upstream")
        .unwrap_or_else(|| panic!("no X-Upstream on {} {}", resp.status(), resp.url()))
        .to_str()
        .unwrap()
        .to_owned()
}

fn grpc_upstream<T>(resp: &tonic::Response<T>) -> String {
    resp.metadata().get("x-upstream").expect("x-upstream metadata").to_str().unwrap().to_owned()
}

/// The sum of `http_requests_total` samples of a service whose labels contain every needle.
async fn requests_counted(metrics_url: &str, needles: &[&str]) -> u64 {
    let text = http().get(metrics_url).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("http_requests_total{") && needles.iter().all(|n| l.contains(n)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test]
async fn rest_and_grpc_through_nginx_reach_the_right_service() {
    let mut running = start_stack().await;
    let ep = running.endpoints().clone();
    let (gw, command, queries) = (&ep.http, addr(&ep.command), [addr(&ep.query[0]), addr(&ep.query[1])]);
    let http = http();

    // Demo data, seeded through the gateway exactly as `tally up` does, is queryable.
    let seeded = seed::profiles_and_sites(gw, &running.state).await.unwrap();
    let traffic = seed::traffic(gw, &ep.ingest_admin_token, &seeded.sites).await.unwrap();
    // Until the command-service serves the ingest API the step is skipped, and says so.
    if traffic.skipped.is_none() {
        assert!(traffic.sent > 500, "a few days of traffic: {}", traffic.summary());
        assert_eq!((traffic.accepted, traffic.rejected), (traffic.sent as u64, 0), "{}", traffic.summary());
        let again = seed::traffic(gw, &ep.ingest_admin_token, &seeded.sites).await.unwrap();
        // (The second run may add the odd event that happened since the first.)
        assert!(again.duplicates >= traffic.sent as u64, "a second seeding records nothing twice: {}", again.summary());
    }
    seed::await_readable(gw, seeded.position).await.unwrap();
    let list: Value = http.get(format!("{gw}/v1/profiles?limit=50")).send().await.unwrap().json().await.unwrap();
    let handles: BTreeSet<&str> =
        list["profiles"].as_array().unwrap().iter().map(|p| p["handle"].as_str().unwrap()).collect();
    assert!(["ada", "grace", "alan"].iter().all(|h| handles.contains(h)), "demo profiles missing: {handles:?}");
    let (domain, site_id) = &seeded.sites[0];
    let site = http.get(format!("{gw}/v1/sites/{site_id}")).send().await.unwrap();
    assert_eq!(site.status(), StatusCode::OK);
    assert!(queries.contains(&upstream_of(&site)), "a site read went to {}", upstream_of(&site));
    assert_eq!(site.json::<Value>().await.unwrap()["domain"], domain.as_str());

    // REST write → command-service; reading it back with its position → a query-service.
    let resp = http
        .post(format!("{gw}/v1/profiles"))
        .json(&json!({"handle": "via_nginx", "display_name": "Via Nginx", "email": "via@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(upstream_of(&resp), command, "REST POST");
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: Value = resp.json().await.unwrap();
    let (id, position) =
        (body["profile"]["id"].as_str().unwrap().to_owned(), body["result"]["global_position"].as_u64().unwrap());
    let patch = http.patch(format!("{gw}/v1/profiles/{id}")).json(&json!({"bio": "proxied"})).send().await.unwrap();
    assert_eq!((patch.status(), upstream_of(&patch)), (StatusCode::OK, command.clone()), "REST PATCH");
    let position = position.max(patch.json::<Value>().await.unwrap()["result"]["global_position"].as_u64().unwrap());

    // Reads are spread over both query instances, and each sees the write (read-your-writes
    // through the replica: the projector's offsets replicate with its rows).
    let mut served = BTreeSet::new();
    for _ in 0..8 {
        let resp = http
            .get(format!("{gw}/v1/profiles/{id}"))
            .header("X-Min-Position", position.to_string())
            .send()
            .await
            .unwrap();
        let by = upstream_of(&resp);
        assert_eq!(resp.status(), StatusCode::OK, "read from {by}");
        assert_eq!(resp.json::<Value>().await.unwrap()["bio"], "proxied", "stale read from {by}");
        assert!(queries.contains(&by), "a REST GET went to {by}, not a query-service");
        served.insert(by);
    }
    assert_eq!(served.len(), 2, "both query instances should serve reads, saw {served:?}");
    let head = http.head(format!("{gw}/v1/profiles/{id}")).send().await.unwrap();
    assert!(queries.contains(&upstream_of(&head)), "HEAD went to {}", upstream_of(&head));

    // The event store's reads belong to the command-service even though they are GETs.
    let events = http.get(format!("{gw}/v1/events?after=0&limit=5")).send().await.unwrap();
    assert_eq!((events.status(), upstream_of(&events)), (StatusCode::OK, command.clone()), "GET /v1/events");

    // Ingest and the tracker endpoint are writes: command-service (whatever it answers
    // before the analytics API exists).
    for path in ["/v1/events", "/api/event"] {
        let resp = http.post(format!("{gw}{path}")).json(&json!({})).send().await.unwrap();
        assert_eq!(upstream_of(&resp), command, "POST {path}");
    }

    // A live event stream passes through nginx as events commit.
    let streaming = reqwest::Client::new();
    let mut live = streaming.get(format!("{gw}/v1/events/stream?after={position}")).send().await.unwrap();
    assert_eq!((live.status(), upstream_of(&live)), (StatusCode::OK, command.clone()), "GET /v1/events/stream");
    let mut seen = String::new();
    let next = async |live: &mut reqwest::Response, seen: &mut String| {
        let chunk = tokio::time::timeout(Duration::from_secs(10), live.chunk()).await;
        let chunk = chunk.expect("the stream went quiet").unwrap().expect("the stream ended");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    };
    while !seen.contains("caught_up") {
        next(&mut live, &mut seen).await;
    }
    let streamed: Value = http
        .post(format!("{gw}/v1/profiles"))
        .json(&json!({"handle": "streamed", "display_name": "S", "email": "s@example.com"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let streamed_id = streamed["profile"]["id"].as_str().unwrap().to_owned();
    while !seen.contains(&streamed_id) {
        next(&mut live, &mut seen).await;
    }
    drop(live);

    // The services' own metrics agree: the writes reached the command-service only, the
    // reads reached both query instances.
    let patch_route = ["route=\"/v1/profiles/{id}\"", "method=\"PATCH\""];
    assert!(requests_counted(&format!("{gw}/-/command/metrics"), &patch_route).await >= 1);
    let get_route = ["route=\"/v1/profiles/{id}\"", "method=\"GET\""];
    for (i, q) in ["query-1", "query-2"].iter().enumerate() {
        let url = format!("{gw}/-/{q}/metrics");
        assert!(requests_counted(&url, &get_route).await >= 1, "{} counted no reads", ep.query[i]);
        assert_eq!(requests_counted(&url, &["method=\"POST\""]).await, 0, "{q} received a write");
        assert_eq!(requests_counted(&url, &["method=\"PATCH\""]).await, 0, "{q} received a write");
    }
    for path in ["/healthz", "/-/command/readyz", "/-/projector/readyz", "/-/query/readyz", "/-/projector/metrics"] {
        let resp = http.get(format!("{gw}{path}")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
    }

    // gRPC by service over h2c.
    let mut commands = CommandServiceClient::connect(ep.grpc.clone()).await.unwrap();
    let created = commands
        .create_profile(CreateProfileRequest {
            profile: Some(Profile {
                handle: "grpc_nginx".into(),
                display_name: "gRPC".into(),
                email: "grpc@example.com".into(),
                ..Default::default()
            }),
            command_id: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(grpc_upstream(&created), command, "CommandService");
    let created = created.into_inner();
    let (grpc_id, grpc_pos) = (created.profile.unwrap().id, created.result.unwrap().global_position);
    let mut reads = QueryServiceClient::connect(ep.grpc.clone()).await.unwrap();
    let mut served = BTreeSet::new();
    for _ in 0..6 {
        let got =
            reads.get_profile(GetProfileRequest { id: grpc_id.clone(), min_position: Some(grpc_pos) }).await.unwrap();
        let by = grpc_upstream(&got);
        assert_eq!(got.into_inner().handle, "grpc_nginx", "from {by}");
        served.insert(by);
    }
    assert!(served.iter().all(|s| queries.contains(s)), "QueryService went to {served:?}");
    assert_eq!(served.len(), 2, "both query instances should serve gRPC, saw {served:?}");
    let ada =
        reads.get_profile_by_handle(GetProfileByHandleRequest { handle: "ada".into(), ..Default::default() }).await;
    assert_eq!(ada.unwrap().into_inner().display_name, "Ada Lovelace", "demo data over gRPC");
    let mut store = EventStoreClient::connect(ep.grpc.clone()).await.unwrap();
    let page = store.read_all(ReadAllRequest { page_size: 100, ..Default::default() }).await.unwrap();
    assert_eq!(grpc_upstream(&page), command, "EventStore");
    assert!(page.into_inner().events.len() >= 7, "the event store has the demo and test events");

    // Over 1 MiB: refused by the proxy itself (no upstream was asked).
    let big = format!("{{\"handle\":\"big\",\"display_name\":\"{}\"}}", "x".repeat(1_100_000));
    let resp = http
        .post(format!("{gw}/v1/profiles"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let upstream = resp.headers().get("x-upstream").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    assert_eq!(upstream, "", "nginx answered itself, no upstream was asked");

    running.stack.shutdown().await;
}

#[tokio::test]
async fn reads_through_nginx_survive_losing_a_query_instance() {
    let mut running = start_stack().await;
    let ep = running.endpoints().clone();
    let gw = ep.http.clone();
    let http = http();
    let seeded = seed::profiles_and_sites(&gw, &running.state).await.unwrap();
    seed::await_readable(&gw, seeded.position).await.unwrap();

    running.stack.service_mut("query-service-1").unwrap().kill_hard().await.unwrap();
    let survivor = addr(&ep.query[1]);
    let mut grpc = QueryServiceClient::connect(ep.grpc.clone()).await.unwrap();
    for i in 0..20 {
        let resp = http
            .get(format!("{gw}/v1/profiles/by-handle/grace"))
            .header("X-Min-Position", seeded.position.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "REST read {i} failed after one instance died");
        // The first request to the dead instance is retried; nginx reports both attempts.
        assert!(upstream_of(&resp).ends_with(&survivor), "REST read {i} from {}", upstream_of(&resp));
        let request = ListProfilesRequest { page_size: 5, min_position: Some(seeded.position), ..Default::default() };
        let list = grpc.list_profiles(request).await;
        let list = list.unwrap_or_else(|e| panic!("gRPC read {i} failed after one instance died: {e}"));
        assert!(grpc_upstream(&list).ends_with(&survivor), "gRPC read {i} from {}", grpc_upstream(&list));
        assert!(!list.into_inner().profiles.is_empty());
    }
    running.stack.shutdown().await;
}

/// The client's address reaches the command-service in `X-Forwarded-For`: a second nginx
/// from the same template sends the command traffic through a tap that records the bytes
/// the command-service receives, and the command-service still answers.
#[tokio::test]
async fn the_client_address_reaches_the_command_service() {
    let mut running = start_stack().await;
    let ep = running.endpoints().clone();
    let command_port: u16 = addr(&ep.command).rsplit(':').next().unwrap().parse().unwrap();
    let (tap_port, seen) = tap(command_port).await;
    let port = |base: &str| -> u16 { addr(base).rsplit(':').next().unwrap().parse().unwrap() };
    let ports = GatewayPorts {
        http: devstack::free_port().unwrap(),
        grpc: devstack::free_port().unwrap(),
        command: tap_port,
        query: [port(&ep.query[0]), port(&ep.query[1])],
        projector: port(&ep.projector),
    };
    let prefix = running.state.root().join("nginx-tap");
    let mut nginx = Nginx::start(NginxOptions::new(&prefix, ports)).await.unwrap();

    let resp = http()
        .post(format!("{}/v1/profiles", nginx.http_base()))
        .header("X-Forwarded-For", "203.0.113.7")
        .json(&json!({"handle": "forwarded", "display_name": "F", "email": "f@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED, "the command-service answered through the tap");
    let bytes = String::from_utf8_lossy(&seen.lock().unwrap()).to_ascii_lowercase();
    assert!(
        bytes.contains("x-forwarded-for: 203.0.113.7, 127.0.0.1\r\n"),
        "the command-service did not receive the client chain: {bytes}"
    );
    assert!(bytes.contains("x-real-ip: 127.0.0.1\r\n"), "{bytes}");
    nginx.stop().await.unwrap();
    running.stack.shutdown().await;
}

/// A TCP relay to `127.0.0.1:target` that records what clients send. Returns its port.
async fn tap(target: u16) -> (u16, Arc<Mutex<Vec<u8>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut server = tokio::net::TcpStream::connect(("127.0.0.1", target)).await.unwrap();
                let (mut from_client, mut to_client) = client.split();
                let (mut from_server, mut to_server) = server.split();
                let upstream = async {
                    let mut buf = vec![0; 16 * 1024];
                    loop {
                        let n = from_client.read(&mut buf).await.unwrap_or(0);
                        if n == 0 || to_server.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        record.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                    let _ = to_server.shutdown().await;
                };
                let downstream = async {
                    let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
                    let _ = to_client.shutdown().await;
                };
                tokio::join!(upstream, downstream);
            });
        }
    });
    (port, seen)
}
