//! The whole CQRS loop with the real binaries: command-service (and its relay) → Tansu →
//! projector → read DB → query-service, on two separate Postgres clusters (write and read),
//! and the same flow in single-node mode (the projector tails the event store).
//!
//! The read-your-writes contract is checked strictly: the FIRST read carrying a write's
//! `global_position` as `X-Min-Position` / `min_position` must already show that write.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tally_proto::v1::{
    CreateProfileRequest, DeleteProfileRequest, GetProfileRequest, Profile, RegisterSiteRequest, Site,
    UpdateProfileRequest, command_service_client::CommandServiceClient, query_service_client::QueryServiceClient,
};
use tally_tests::app;
use tally_tests::devstack::{self, Broker, BrokerOptions, PgCluster, PgOptions, Service};

const TOPIC: &str = "tally.profile.v1";
const PARTITIONS: u32 = 3;
/// Upper bound for "the read side catches up" after a crash and restart.
const CATCH_UP: Duration = Duration::from_secs(30);

/// The services of one test. Fields drop in order: processes first, then the infrastructure.
struct Stack {
    command: Service,
    command_base: String,
    projector: Service,
    query_base: String,
    _query: Service,
    brokers: Option<String>,
    _broker: Option<Broker>,
    write_url: String,
    read_url: String,
    _write: PgCluster,
    _read: PgCluster,
}

async fn cluster_with(db: &str) -> (PgCluster, String) {
    let cluster = PgCluster::start(PgOptions::default()).await.unwrap();
    cluster.create_database(db).await.unwrap();
    let url = cluster.url(db);
    (cluster, url)
}

/// Write and read clusters, a broker with the profile topic (when `kafka`), and the three
/// services wired to them.
async fn stack(kafka: bool) -> Stack {
    let ((write, write_url), (read, read_url)) = tokio::join!(cluster_with("tally_write"), cluster_with("tally_read"));
    let broker = if kafka {
        let broker = Broker::start(BrokerOptions::default()).await.unwrap();
        broker.create_topic(TOPIC, PARTITIONS).await.unwrap();
        Some(broker)
    } else {
        None
    };
    let brokers = broker.as_ref().map(Broker::bootstrap);
    let (command, command_base) = app::spawn_command_service_with(&write_url, brokers.as_deref()).await.unwrap();
    // The projector migrates the read DB, which the query-service needs.
    let projector = app::spawn_projector(&read_url, &write_url, brokers.as_deref()).await.unwrap();
    let (query, query_base) = app::spawn_query_service(&read_url).await.unwrap();
    Stack {
        command,
        command_base,
        projector,
        query_base,
        _query: query,
        brokers,
        _broker: broker,
        write_url,
        read_url,
        _write: write,
        _read: read,
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

/// A REST command that must succeed; returns its body.
async fn command(req: reqwest::RequestBuilder) -> Value {
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert!(status.is_success(), "command failed with {status}: {body}");
    body
}

fn position(body: &Value) -> u64 {
    body["result"]["global_position"].as_u64().unwrap_or_else(|| panic!("no global_position in {body}"))
}

/// `GET /v1/profiles/{id}` with `X-Min-Position`, once: no retry, that is the contract.
async fn read_profile(query_base: &str, id: &str, min: u64) -> (StatusCode, Value) {
    let resp = http()
        .get(format!("{query_base}/v1/profiles/{id}"))
        .header("X-Min-Position", min.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn read_db(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

/// The projected profile rows, as the query-service sees them (through the `profiles` view).
async fn profile_rows(read_url: &str) -> Vec<(uuid::Uuid, String, i64, i64, Value)> {
    read_db(read_url)
        .await
        .query("SELECT id, handle, version, last_position, sites FROM profiles ORDER BY id", &[])
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
}

/// Polls the query-service with `X-Min-Position: min` until it answers 200 (bounded): after a
/// crash the read side needs a while, and each attempt waits up to the service's own limit.
async fn await_projected(query_base: &str, min: u64) {
    let deadline = Instant::now() + CATCH_UP;
    loop {
        let resp = http()
            .get(format!("{query_base}/v1/profiles?limit=1"))
            .header("X-Min-Position", min.to_string())
            .send()
            .await
            .unwrap();
        if resp.status() == StatusCode::OK {
            return;
        }
        assert!(Instant::now() < deadline, "position {min} not projected within {CATCH_UP:?}: {}", resp.status());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Create, update, register sites and delete over REST and gRPC; every first read with the
/// write's position must show the write.
async fn profile_flow(stack: &Stack) {
    let http = http();
    let (cmd, q) = (&stack.command_base, &stack.query_base);
    let mut grpc_cmd = CommandServiceClient::connect(cmd.clone()).await.unwrap();
    let mut grpc_q = QueryServiceClient::connect(q.clone()).await.unwrap();

    // REST create, then read it back at once.
    let body = command(http.post(format!("{cmd}/v1/profiles")).json(&json!({
        "handle": "ada", "display_name": "Ada", "email": "ada@example.com"
    })))
    .await;
    let ada = body["profile"]["id"].as_str().unwrap().to_owned();
    let (status, seen) = read_profile(q, &ada, position(&body)).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!((seen["handle"].as_str(), seen["version"].as_u64()), (Some("ada"), Some(1)));

    // REST update.
    let body = command(http.patch(format!("{cmd}/v1/profiles/{ada}")).json(&json!({"bio": "Countess"}))).await;
    let (status, seen) = read_profile(q, &ada, position(&body)).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!((seen["bio"].as_str(), seen["version"].as_u64()), (Some("Countess"), Some(2)));

    // gRPC create, read over gRPC.
    let created = grpc_cmd
        .create_profile(CreateProfileRequest {
            profile: Some(Profile {
                handle: "grace".into(),
                display_name: "Grace".into(),
                email: "grace@example.com".into(),
                ..Default::default()
            }),
            command_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let grace = created.profile.unwrap().id;
    let pos = created.result.unwrap().global_position;
    let seen = grpc_q
        .get_profile(GetProfileRequest { id: grace.clone(), min_position: Some(pos) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((seen.handle.as_str(), seen.version), ("grace", 1));

    // gRPC update.
    let mut update = UpdateProfileRequest {
        profile: Some(Profile { id: grace.clone(), display_name: "Grace Hopper".into(), ..Default::default() }),
        update_mask: Some(Default::default()),
        command_id: String::new(),
        expected_version: Some(1),
    };
    update.update_mask.as_mut().unwrap().paths = vec!["display_name".into()];
    let pos = grpc_cmd.update_profile(update).await.unwrap().into_inner().result.unwrap().global_position;
    let seen = grpc_q
        .get_profile(GetProfileRequest { id: grace.clone(), min_position: Some(pos) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((seen.display_name.as_str(), seen.version), ("Grace Hopper", 2));

    // A site registered over gRPC shows on its owner's profile row (read over REST)…
    let registered = grpc_cmd
        .register_site(RegisterSiteRequest {
            site: Some(Site {
                domain: "ada.example".into(),
                time_zone: "Europe/London".into(),
                owner_profile_id: ada.clone(),
                name: "Ada's notes".into(),
                ..Default::default()
            }),
            command_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let site = registered.site.unwrap().id;
    let (status, seen) = read_profile(q, &ada, registered.result.unwrap().global_position).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(
        seen["sites"],
        json!([{"id": site, "domain": "ada.example", "name": "Ada's notes", "time_zone": "Europe/London"}])
    );

    // …and one registered over REST on its owner's profile read over gRPC.
    let body = command(http.post(format!("{cmd}/v1/sites")).json(&json!({
        "domain": "grace.example", "time_zone": "America/New_York", "owner_profile_id": grace
    })))
    .await;
    let seen = grpc_q
        .get_profile(GetProfileRequest { id: grace.clone(), min_position: Some(position(&body)) })
        .await
        .unwrap()
        .into_inner();
    let domains: Vec<&str> = seen.sites.iter().map(|s| s.domain.as_str()).collect();
    assert_eq!(domains, ["grace.example"]);

    // Deletes: over REST, read back over REST → 404; over gRPC, read back over gRPC → NOT_FOUND.
    let body = command(http.post(format!("{cmd}/v1/profiles")).json(&json!({
        "handle": "ephemeral", "display_name": "E", "email": "e@example.com"
    })))
    .await;
    let ephemeral = body["profile"]["id"].as_str().unwrap().to_owned();
    let body = command(http.delete(format!("{cmd}/v1/profiles/{ephemeral}"))).await;
    let (status, seen) = read_profile(q, &ephemeral, position(&body)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a deleted profile must be gone: {seen}");

    let created = grpc_cmd
        .create_profile(CreateProfileRequest {
            profile: Some(Profile {
                handle: "fleeting".into(),
                display_name: "F".into(),
                email: "f@example.com".into(),
                ..Default::default()
            }),
            command_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let fleeting = created.profile.unwrap().id;
    let deleted = grpc_cmd
        .delete_profile(DeleteProfileRequest {
            id: fleeting.clone(),
            command_id: String::new(),
            expected_version: None,
        })
        .await
        .unwrap()
        .into_inner();
    let err = grpc_q
        .get_profile(GetProfileRequest { id: fleeting, min_position: Some(deleted.result.unwrap().global_position) })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound, "{err:?}");

    // The survivors are still there, with their sites.
    let rows = profile_rows(&stack.read_url).await;
    let handles: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(handles.len(), 2, "{rows:?}");
    assert!(handles.contains(&"ada") && handles.contains(&"grace"), "{rows:?}");
}

#[tokio::test]
async fn profiles_written_over_rest_and_grpc_are_readable_with_min_position() {
    let stack = stack(true).await;
    profile_flow(&stack).await;
    group_offsets_in_kafka_follow_the_read_db(&stack).await;
}

/// Lag-based autoscalers (KEDA) read the consumer group's offsets from Kafka, not from the
/// read DB: after its transactions the projector mirrors each partition's next offset there.
async fn group_offsets_in_kafka_follow_the_read_db(stack: &Stack) {
    use tally_streaming::rdkafka::{
        ClientConfig, Offset, TopicPartitionList,
        consumer::{BaseConsumer, Consumer},
    };
    let brokers = stack.brokers.clone().unwrap();
    let db = read_db(&stack.read_url).await;
    let deadline = Instant::now() + CATCH_UP;
    loop {
        let stored: BTreeMap<i32, i64> = db
            .query("SELECT partition, next_offset FROM projector_offsets WHERE topic = $1", &[&TOPIC])
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let mut tpl = TopicPartitionList::new();
        for p in 0..PARTITIONS as i32 {
            tpl.add_partition(TOPIC, p);
        }
        let brokers = brokers.clone();
        let committed = tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer =
                ClientConfig::new().set("bootstrap.servers", brokers).set("group.id", "tally-projector").create()?;
            consumer.committed_offsets(tpl, Duration::from_secs(5))
        })
        .await
        .unwrap()
        .unwrap();
        let in_kafka: BTreeMap<i32, i64> = committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some((e.partition(), o)),
                _ => None,
            })
            .collect();
        // Partitions nothing was consumed from have no committed offset yet.
        let consumed: BTreeMap<i32, i64> = stored.into_iter().filter(|(_, o)| *o > 0).collect();
        assert!(!consumed.is_empty(), "the projector consumed nothing");
        if in_kafka == consumed {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Kafka's group offsets {in_kafka:?} never caught up with the read DB's {consumed:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn single_node_mode_serves_the_same_profile_flow_without_a_broker() {
    let stack = stack(false).await;
    assert!(stack.brokers.is_none());
    profile_flow(&stack).await;
}

/// What the writers got acknowledged: per profile id, its handle and the version of its last
/// 2xx command; and the highest acknowledged position.
#[derive(Default)]
struct Acked {
    profiles: BTreeMap<String, (String, u64)>,
    max_position: u64,
}

/// `workers` tasks writing until `stop` is set, `budget` commands are spent, or (when
/// `stop_on_error`) a command fails: each creates a profile, updates it twice and registers a
/// site for it, over and over. `done` counts acknowledged commands.
fn write_burst(
    base: String,
    workers: usize,
    budget: usize,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<Acked> {
    tokio::spawn(async move {
        let spent = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..workers)
            .map(|w| {
                let (base, stop, done, spent) = (base.clone(), stop.clone(), done.clone(), spent.clone());
                tokio::spawn(async move { write_worker(&base, w, budget, &stop, &done, &spent).await })
            })
            .collect();
        let mut acked = Acked::default();
        for task in tasks {
            let part = task.await.unwrap();
            acked.max_position = acked.max_position.max(part.max_position);
            acked.profiles.extend(part.profiles);
        }
        acked
    })
}

async fn write_worker(
    base: &str,
    worker: usize,
    budget: usize,
    stop: &AtomicBool,
    done: &AtomicUsize,
    spent: &AtomicUsize,
) -> Acked {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let mut acked = Acked::default();
    for n in 0.. {
        let handle = format!("w{worker}_{n}");
        let mut id = String::new();
        for step in 0..4 {
            if stop.load(Ordering::SeqCst) || spent.fetch_add(1, Ordering::SeqCst) >= budget {
                return acked;
            }
            let req = match step {
                0 => http.post(format!("{base}/v1/profiles")).json(&json!({
                    "handle": handle, "display_name": "Burst", "email": "burst@example.com"
                })),
                1 | 2 => http.patch(format!("{base}/v1/profiles/{id}")).json(&json!({"bio": format!("edit {step}")})),
                _ => http.post(format!("{base}/v1/sites")).json(&json!({
                    "domain": format!("{handle}.example").replace('_', "-"),
                    "time_zone": "UTC",
                    "owner_profile_id": id,
                })),
            };
            // A refused or cut connection ends this worker: the service is down.
            let Ok(resp) = req.send().await else { return acked };
            if !resp.status().is_success() {
                return acked;
            }
            let Ok(body) = resp.json::<Value>().await else { return acked };
            if step == 0 {
                id = body["profile"]["id"].as_str().unwrap().to_owned();
            }
            if step < 3 {
                acked.profiles.insert(id.clone(), (handle.clone(), body["result"]["stream_version"].as_u64().unwrap()));
            }
            acked.max_position = acked.max_position.max(position(&body));
            done.fetch_add(1, Ordering::SeqCst);
        }
    }
    acked
}

/// Waits (bounded) until `done` reaches `n`.
async fn await_count(done: &AtomicUsize, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while done.load(Ordering::SeqCst) < n {
        assert!(Instant::now() < deadline, "only {} of {n} writes within 30 s", done.load(Ordering::SeqCst));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Every acknowledged profile is projected with at least its acknowledged version, and owns
/// the site registered for it when that was acknowledged too.
fn assert_all_projected(acked: &Acked, rows: &[(uuid::Uuid, String, i64, i64, Value)]) {
    let by_id: BTreeMap<String, _> = rows.iter().map(|r| (r.0.to_string(), r)).collect();
    for (id, (handle, version)) in &acked.profiles {
        let row = by_id.get(id).unwrap_or_else(|| panic!("acknowledged profile {id} ({handle}) was lost"));
        assert_eq!(&row.1, handle);
        assert!(row.2 as u64 >= *version, "{handle}: projected version {} < acknowledged {version}", row.2);
    }
}

/// The projector's projected position: the lowest position over its offsets rows.
async fn projected_position(read_url: &str) -> Option<i64> {
    read_db(read_url).await.query_one("SELECT min(position) FROM projector_offsets", &[]).await.unwrap().get(0)
}

async fn write_head(write_url: &str) -> i64 {
    read_db(write_url).await.query_one("SELECT last_position FROM event_head", &[]).await.unwrap().get(0)
}

async fn open_dead_letters(read_url: &str) -> i64 {
    read_db(read_url).await.query_one("SELECT count(*) FROM dead_letters", &[]).await.unwrap().get(0)
}

/// `projector <args>` against the stack's databases; returns stdout, asserting success.
async fn projector_cli(stack: &Stack, args: &[&str]) -> String {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(devstack::binary("projector").unwrap())
            .args(args)
            .envs(app::projector_env(&stack.read_url, &stack.write_url, stack.brokers.as_deref()))
            .output(),
    )
    .await
    .expect("projector command finishes within 60 s")
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "projector {args:?} failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

#[tokio::test]
async fn killing_the_projector_mid_stream_loses_and_doubles_nothing() {
    let mut stack = stack(true).await;
    let (stop, done) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    let burst = write_burst(stack.command_base.clone(), 4, 300, stop, done.clone());

    await_count(&done, 100).await;
    stack.projector.kill_hard().await.unwrap();
    let (projected, head) = (projected_position(&stack.read_url).await, write_head(&stack.write_url).await);
    eprintln!("projector killed at projected position {projected:?}, event store head {head}");
    await_count(&done, 150).await;
    stack.projector = app::spawn_projector(&stack.read_url, &stack.write_url, stack.brokers.as_deref()).await.unwrap();
    let acked = burst.await.unwrap();
    assert_eq!(done.load(Ordering::SeqCst), 300, "every write of the burst succeeds");

    await_projected(&stack.query_base, acked.max_position).await;
    let live = profile_rows(&stack.read_url).await;
    assert_all_projected(&acked, &live);
    assert_eq!(live.len(), acked.profiles.len(), "no profile appears twice or from nowhere");
    for (_, handle, version, _, _) in &live {
        let (_, expected) = acked.profiles.values().find(|(h, _)| h == handle).unwrap();
        assert_eq!(*version as u64, *expected, "{handle}: an event was applied twice or lost");
    }
    assert_eq!(open_dead_letters(&stack.read_url).await, 0);

    // A rebuild from the event store (verified by the projector itself) switches to a new
    // version: the rows must not change.
    let report = projector_cli(&stack, &["rebuild", "profiles", "--quiet"]).await;
    assert!(report.contains("-> v2"), "{report}");
    let rebuilt = profile_rows(&stack.read_url).await;
    assert_eq!(live, rebuilt, "the live projection differs from a rebuild from the event store");
}

#[tokio::test]
async fn killing_the_relay_mid_publish_loses_nothing() {
    let mut stack = stack(true).await;
    let (stop, done) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    let burst = write_burst(stack.command_base.clone(), 4, 10_000, stop.clone(), done.clone());

    await_count(&done, 120).await;
    stack.command.kill_hard().await.unwrap();
    stop.store(true, Ordering::SeqCst);
    let acked = burst.await.unwrap();
    let published: Option<i64> = read_db(&stack.write_url)
        .await
        .query_opt("SELECT published_position FROM relay_checkpoint", &[])
        .await
        .unwrap()
        .map(|r| r.get(0));
    eprintln!("relay killed with checkpoint {published:?}; highest acknowledged position {}", acked.max_position);
    assert!(acked.profiles.len() >= 30, "the burst wrote too little to test anything");

    // The restarted pod takes the relay over and publishes what the dead one had not.
    let (restarted, base) = app::spawn_command_service_with(&stack.write_url, stack.brokers.as_deref()).await.unwrap();
    stack.command = restarted;
    stack.command_base = base;
    await_projected(&stack.query_base, acked.max_position).await;
    assert_all_projected(&acked, &profile_rows(&stack.read_url).await);

    // And the read side is live again for new writes.
    let body = command(http().post(format!("{}/v1/profiles", stack.command_base)).json(&json!({
        "handle": "after_restart", "display_name": "A", "email": "a@example.com"
    })))
    .await;
    let id = body["profile"]["id"].as_str().unwrap().to_owned();
    await_projected(&stack.query_base, position(&body)).await;
    let (status, seen) = read_profile(&stack.query_base, &id, position(&body)).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(open_dead_letters(&stack.read_url).await, 0);
}

#[tokio::test]
async fn a_garbage_message_on_the_topic_lands_in_dead_letters() {
    let stack = stack(true).await;
    let python = devstack::workspace_root().join("target/tools-venv/bin/python3");
    assert!(python.exists(), "{} is missing: run scripts/bootstrap.sh", python.display());
    let script = r#"
import sys
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1], "acks": "all"})
errors = []
p.produce(sys.argv[2], key=b"garbage", value=b"\xffthis is not an EventEnvelope\x00", partition=0,
          on_delivery=lambda err, msg: errors.append(err) if err else None)
left = p.flush(20)
sys.exit(1 if left or errors else 0)
"#;
    let brokers = stack.brokers.clone().unwrap();
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(&python).args(["-c", script, &brokers, TOPIC]).output(),
    )
    .await
    .expect("the producer finishes")
    .unwrap();
    assert!(out.status.success(), "producing the garbage failed: {}", String::from_utf8_lossy(&out.stderr));

    // The projector keeps going: a later write is readable, at once, with its position.
    let body = command(http().post(format!("{}/v1/profiles", stack.command_base)).json(&json!({
        "handle": "survivor", "display_name": "S", "email": "s@example.com"
    })))
    .await;
    let id = body["profile"]["id"].as_str().unwrap().to_owned();
    let (status, seen) = read_profile(&stack.query_base, &id, position(&body)).await;
    assert_eq!(status, StatusCode::OK, "{seen}");

    let listed = projector_cli(&stack, &["dead-letters", "list"]).await;
    let line = listed
        .lines()
        .find(|l| l.contains(&format!("{TOPIC}/0@")))
        .unwrap_or_else(|| panic!("the garbage record is not listed:\n{listed}"));
    assert!(line.contains("open"), "{line}");
    let reason: String =
        read_db(&stack.read_url).await.query_one("SELECT reason FROM dead_letters", &[]).await.unwrap().get(0);
    assert!(!reason.trim().is_empty(), "a dead letter must say why");
    assert!(line.contains(reason.lines().next().unwrap().trim()), "the list shows the reason: {line}");
}
