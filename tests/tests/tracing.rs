//! One trace shows a write from the request to its projection.
//!
//! The real command-service (with its relay), Tansu and the real projector export their spans
//! over OTLP/gRPC to a receiver in this test. A caller sends a write with its own
//! `traceparent`; the trace context then travels in the event's metadata, the Kafka headers
//! and into the projector. The test follows the exported parent links from the projector's
//! span back to the caller: projector `project_event` → relay `relay.produce` → the
//! command-service's `request` span → the caller's span. A hop that starts a new root trace,
//! or a span parented on something that was never exported, breaks the chain and fails.

use std::time::Duration;

use serde_json::json;
use tally_proto::v1::{Profile, UpdateProfileRequest, command_service_client::CommandServiceClient};
use tally_tests::app;
use tally_tests::devstack::{Broker, BrokerOptions, PgCluster, PgOptions};
use tally_tests::otlp::{Collector, ExportedSpan};
use tonic::metadata::MetadataValue;

const TOPIC: &str = "tally.profile.v1";
/// From the write until the projector's span is exported (relay, broker, a projector batch
/// and two export intervals); generous for a loaded CI machine.
const PROPAGATED: Duration = Duration::from_secs(60);

/// A caller's trace: random ids, sampled.
struct Caller {
    trace_id: String,
    span_id: String,
}

impl Caller {
    fn new() -> Self {
        let trace_id = uuid::Uuid::new_v4().simple().to_string();
        let span_id = uuid::Uuid::new_v4().simple().to_string()[..16].to_owned();
        Self { trace_id, span_id }
    }

    fn traceparent(&self) -> String {
        format!("00-{}-{}-01", self.trace_id, self.span_id)
    }
}

/// The chain of exported spans from `start` up its parent links within its trace, and the
/// parent id where the chain leaves the exported spans (the caller's span, if all is well).
fn ancestry<'a>(spans: &'a [ExportedSpan], start: &'a ExportedSpan) -> (Vec<&'a ExportedSpan>, String) {
    let mut chain = vec![start];
    let mut current = start;
    // Bounded by the number of spans: a cycle would be a bug, not an endless loop.
    for _ in 0..spans.len() {
        match spans.iter().find(|s| s.trace_id == current.trace_id && s.span_id == current.parent_span_id) {
            Some(parent) => {
                chain.push(parent);
                current = parent;
            }
            None => break,
        }
    }
    (chain, current.parent_span_id.clone())
}

/// The projector's span for `caller`'s write, once it links all the way back to the caller.
fn projected_chain<'a>(spans: &'a [ExportedSpan], caller: &Caller) -> Option<Vec<&'a ExportedSpan>> {
    spans
        .iter()
        .filter(|s| s.service == "projector" && s.name == "project_event" && s.trace_id == caller.trace_id)
        .map(|s| ancestry(spans, s))
        .find(|(_, root_parent)| *root_parent == caller.span_id)
        .map(|(chain, _)| chain)
}

/// Asserts the hops of one write's trace, naming what is missing when it fails.
fn assert_one_trace(spans: &[ExportedSpan], caller: &Caller, what: &str) {
    let in_trace: Vec<_> = spans.iter().filter(|s| s.trace_id == caller.trace_id).collect();
    let chain = projected_chain(spans, caller).unwrap_or_else(|| {
        panic!(
            "{what}: no projector span links back to the caller's span {} in trace {}.\n\
             spans of that trace: {in_trace:#?}\nall spans: {}",
            caller.span_id,
            caller.trace_id,
            spans.len()
        )
    });
    let hops: Vec<(&str, &str)> = chain.iter().map(|s| (s.service.as_str(), s.name.as_str())).collect();
    let position = |service: &str, name: &str| hops.iter().position(|&h| h == (service, name));
    let (project, produce, request) = (
        position("projector", "project_event"),
        position("command-service", "relay.produce"),
        position("command-service", "request"),
    );
    assert_eq!(project, Some(0), "{what}: the chain starts at the projector's span: {hops:?}");
    assert_eq!(produce, Some(1), "{what}: the projector's span is a child of the relay's produce span: {hops:?}");
    assert!(
        request.is_some_and(|r| r > 1),
        "{what}: the relay's span descends from the command-service's request span: {hops:?}"
    );
    let request = chain[request.unwrap()];
    assert_eq!(
        request.parent_span_id, caller.span_id,
        "{what}: the request span is a child of the caller's span: {request:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_trace_runs_from_the_request_through_kafka_to_the_projection() {
    let collector = Collector::start().await.unwrap();
    let pg = PgCluster::start(PgOptions::default()).await.unwrap();
    pg.create_database("tally_write").await.unwrap();
    pg.create_database("tally_read").await.unwrap();
    let (write_url, read_url) = (pg.url("tally_write"), pg.url("tally_read"));
    let broker = Broker::start(BrokerOptions::default()).await.unwrap();
    broker.create_topic(TOPIC, 3).await.unwrap();
    let brokers = broker.bootstrap();

    // The standard OTel variables switch export on; a short batch delay makes spans arrive
    // while the test waits instead of at exit.
    let otel = || {
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint().to_owned()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
            ("OTEL_BSP_SCHEDULE_DELAY", "200".to_owned()),
        ]
    };
    let (_command, base) = app::spawn_command_service_with_env(&write_url, Some(&brokers), otel()).await.unwrap();
    let _projector = app::spawn_projector_with_env(&read_url, &write_url, Some(&brokers), otel()).await.unwrap();

    // A REST write under the caller's trace…
    let rest = Caller::new();
    let resp = reqwest::Client::new()
        .post(format!("{base}/v1/profiles"))
        .header("traceparent", rest.traceparent())
        .json(&json!({"handle": "traced", "display_name": "Traced", "email": "traced@example.com"}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "create failed: {}", resp.status());
    let body: serde_json::Value = resp.json().await.unwrap();
    let id = body["profile"]["id"].as_str().unwrap().to_owned();

    // …and a gRPC write under another.
    let grpc = Caller::new();
    let mut client = CommandServiceClient::connect(base.clone()).await.unwrap();
    let mut update = tonic::Request::new(UpdateProfileRequest {
        profile: Some(Profile { id, bio: "followed end to end".into(), ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["bio".into()] }),
        ..Default::default()
    });
    let traceparent: MetadataValue<_> = grpc.traceparent().parse().unwrap();
    update.metadata_mut().insert("traceparent", traceparent);
    client.update_profile(update).await.unwrap();

    let spans = collector
        .wait_for(PROPAGATED, |spans| {
            projected_chain(spans, &rest).is_some() && projected_chain(spans, &grpc).is_some()
        })
        .await;
    assert_one_trace(&spans, &rest, "REST create");
    assert_one_trace(&spans, &grpc, "gRPC update");
}

/// Propagation must not depend on logging: with logs at `warn` (request spans below the log
/// level) and no exporter, the caller's trace still reaches the event's metadata, where the
/// relay and every later consumer pick it up.
#[tokio::test(flavor = "multi_thread")]
async fn the_callers_trace_reaches_event_metadata_with_quiet_logs_and_no_exporter() {
    let pg = PgCluster::start(PgOptions::default()).await.unwrap();
    pg.create_database("tally_write").await.unwrap();
    let quiet = vec![("RUST_LOG", "warn".to_owned()), ("TALLY_TELEMETRY__LOG_LEVEL", "warn".to_owned())];
    let (_command, base) = app::spawn_command_service_with_env(&pg.url("tally_write"), None, quiet).await.unwrap();

    let caller = Caller::new();
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{base}/v1/profiles"))
        .header("traceparent", caller.traceparent())
        .json(&json!({"handle": "quiet", "display_name": "Quiet", "email": "quiet@example.com"}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "create failed: {}", resp.status());

    let page: serde_json::Value =
        http.get(format!("{base}/v1/events?category=profile")).send().await.unwrap().json().await.unwrap();
    let stored = page["events"][0]["metadata"]["traceparent"].as_str().unwrap_or_default().to_owned();
    let trace_id = stored.split('-').nth(1).unwrap_or_default();
    assert_eq!(trace_id, caller.trace_id, "the event's traceparent {stored:?} continues the caller's trace: {page}");
}
