//! The statistics API end to end with the real binaries: analytics events appended to the
//! event store (as ingest writes them), the projector in single-node mode sessionising them,
//! the query-service answering — every number below is computed by hand from the log, and
//! must hold again after `projector rebuild analytics`.
//!
//! The log, the sessions it makes and every expected number are in `tally_tests::golden`;
//! `analytics_golden.rs` sends the same log through ingest instead.

use std::time::Duration;

use chrono::Utc;
use deadpool_postgres::Pool;
use prost::Message as _;
use sha2::{Digest as _, Sha256};
use tally_event_store::{AppendRequest, Appender, AppenderConfig, EventMetadata, ExpectedVersion, NewEvent};
use tally_proto::v1::{self, query_service_client::QueryServiceClient};
use tally_tests::{
    analytics::{Api, rebuild},
    app, devstack,
    golden::{BOTH_DAYS, D1, D2, OFFSET, check_everything, utc},
};
use uuid::Uuid;

struct Ev {
    visitor: &'static str,
    date: &'static str,
    time: &'static str,
    name: &'static str,
    path: &'static str,
    source: &'static str,
    device: &'static str,
    country: &'static str,
    props: &'static [(&'static str, &'static str)],
}

const fn ev(
    visitor: &'static str,
    date: &'static str,
    time: &'static str,
    name: &'static str,
    path: &'static str,
) -> Ev {
    let (source, device, country) = match visitor.as_bytes()[0] {
        b'a' if date.as_bytes()[9] == b'0' => ("Google", "desktop", "DE"),
        b'a' => ("", "desktop", "DE"),
        b'b' => ("", "mobile", "IN"),
        _ => ("Twitter", "mobile", "US"),
    };
    Ev { visitor, date, time, name, path, source, device, country, props: &[] }
}

/// The log of `tally_tests::golden`, in the order it is recorded.
fn log() -> Vec<Ev> {
    vec![
        ev("a1", D1, "10:00:00", "pageview", "/"),
        ev("a1", D1, "10:05:00", "pageview", "/pricing"),
        ev("b1", D1, "10:10:00", "pageview", "/pricing"),
        ev("a1", D1, "10:20:00", "signup", "/pricing"),
        ev("b1", D1, "10:39:59", "pageview", "/"),
        ev("a1", D1, "10:50:00", "pageview", "/blog"),
        ev("a1", D1, "11:15:00", "pageview", "/blog/post"),
        Ev { props: &[("plan", "pro")], ..ev("b1", D1, "12:00:00", "signup", "/pricing") },
        ev("a1", D1, "23:50:00", "pageview", "/"),
        ev("a2", D2, "00:05:00", "pageview", "/pricing"),
        ev("c2", D2, "09:00:00", "pageview", "/blog"),
    ]
}

/// The site's read key: `<KEY_ID>.<SECRET>`.
const KEY_ID: &str = "00000000000000a1";
/// 43 base64url characters, the shape of the 32 random bytes the command-service draws.
const SECRET: &str = "statistics-tests-secret-0123456789_abcdefgh";

/// `request` with the site's read key in its metadata, as a dashboard sends it.
fn with_key<T>(request: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(request);
    r.metadata_mut().insert("authorization", format!("Bearer {KEY_ID}.{SECRET}").parse().unwrap());
    r
}

fn timestamp(t: chrono::DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: t.timestamp(), nanos: 0 }
}

struct Store {
    appender: Appender,
    _task: tokio::task::JoinHandle<()>,
    site: Uuid,
}

impl Store {
    async fn append(&self, stream: String, category: &str, event_type: &str, payload: Vec<u8>) -> u64 {
        let request = AppendRequest {
            stream_id: stream,
            category: category.into(),
            expected: ExpectedVersion::Any,
            events: vec![NewEvent {
                event_id: Uuid::now_v7(),
                event_type: event_type.into(),
                schema_version: 1,
                payload,
                metadata: EventMetadata::default(),
            }],
            claims: vec![],
            command_id: None,
            fingerprint: vec![],
        };
        self.appender.append(request).await.unwrap().global_position
    }

    async fn record(&self, e: &Ev, at: chrono::DateTime<Utc>) -> u64 {
        let payload = v1::AnalyticsEventRecorded {
            site_id: self.site.to_string(),
            visitor_id: e.visitor.into(),
            name: e.name.into(),
            timestamp: Some(timestamp(at)),
            local_date: e.date.into(),
            utc_offset_seconds: OFFSET,
            pathname: e.path.into(),
            hostname: "shop.example".into(),
            referrer_source: e.source.into(),
            device: e.device.into(),
            browser: "Firefox".into(),
            os: "Linux".into(),
            country_code: e.country.into(),
            props: e.props.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
            ..Default::default()
        };
        self.append(
            format!("analytics-{}", self.site),
            "analytics",
            "tally.v1.AnalyticsEventRecorded",
            payload.encode_to_vec(),
        )
        .await
    }
}

fn pool(url: &str) -> Pool {
    let config: tokio_postgres::Config = url.parse().unwrap();
    Pool::builder(deadpool_postgres::Manager::new(config, tokio_postgres::NoTls)).max_size(4).build().unwrap()
}

#[tokio::test]
async fn hand_computed_statistics_hold_in_single_node_mode_and_after_rebuilds() {
    hand_computed(false).await;
}

/// The same log through the relay, Tansu (3 partitions per topic, events keyed by
/// site:visitor) and a Kafka-mode projector.
#[tokio::test]
async fn hand_computed_statistics_hold_through_kafka_and_after_rebuilds() {
    hand_computed(true).await;
}

async fn hand_computed(kafka: bool) {
    let (_cluster, write_url) = devstack::fresh_database().await.unwrap();
    let (_, read_url) = devstack::fresh_database().await.unwrap();
    tally_event_store::migrate::run(&write_url.parse().unwrap()).await.unwrap();
    let broker = if kafka {
        let broker = devstack::Broker::start(devstack::BrokerOptions::default()).await.unwrap();
        for topic in ["tally.profile.v1", "tally.analytics.v1"] {
            broker.create_topic(topic, 3).await.unwrap();
        }
        Some(broker)
    } else {
        None
    };
    let brokers = broker.as_ref().map(devstack::Broker::bootstrap);
    // With Kafka, the command-service's relay publishes what is appended below.
    let _command = match &brokers {
        Some(b) => Some(app::spawn_command_service_with(&write_url, Some(b)).await.unwrap()),
        None => None,
    };
    let (appender, task) = Appender::spawn(pool(&write_url), AppenderConfig { max_batch: 64, queue_capacity: 256 });
    let site = Uuid::now_v7();
    let store = Store { appender, _task: task, site };
    let registered = v1::SiteRegistered {
        site_id: site.to_string(),
        domain: "shop.example".into(),
        time_zone: "Asia/Kolkata".into(),
        owner_profile_id: Uuid::now_v7().to_string(),
        name: "Shop".into(),
    };
    store.append(format!("site-{site}"), "site", "tally.v1.SiteRegistered", registered.encode_to_vec()).await;
    // The statistics' read key, as the command-service would have issued it: only the
    // secret's SHA-256 is in the event.
    let issued = v1::SiteReadKeyIssued {
        site_id: site.to_string(),
        key_id: KEY_ID.into(),
        key_hash: Sha256::digest(SECRET.as_bytes()).to_vec(),
        label: "tests".into(),
    };
    store.append(format!("site-{site}"), "site", "tally.v1.SiteReadKeyIssued", issued.encode_to_vec()).await;
    for e in log() {
        store.record(&e, utc(e.date, e.time)).await;
    }
    // Someone on the site right now, for realtime (today's date in Kolkata).
    let now = Utc::now();
    let today = (now + chrono::Duration::seconds(OFFSET.into())).date_naive().format("%Y-%m-%d").to_string();
    let live = Ev { visitor: "now", ..ev("c2", "2026-11-22", "00:00:00", "pageview", "/") };
    let today: &'static str = Box::leak(today.into_boxed_str());
    let last = store.record(&Ev { date: today, ..live }, now).await;

    // Closing rounds only where this test runs them (below), at the dates it chooses.
    let never = vec![("TALLY_ANALYTICS__CLOSE_DAYS_EVERY", "1000000".to_owned())];
    let _projector = app::spawn_projector_with_env(&read_url, &write_url, brokers.as_deref(), never).await.unwrap();
    let (_query, base) = app::spawn_query_service(&read_url).await.unwrap();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let key = format!("{KEY_ID}.{SECRET}");
    let api = Api { http, base: base.clone(), site, min: last, key: key.clone() };

    check_everything(&api).await;

    // gRPC carries the unrounded rates; previous-period comparison covers D-1..D0 (empty).
    let mut grpc = QueryServiceClient::connect(base.clone()).await.unwrap();
    let range = v1::DateRange { start_date: D1.into(), end_date: D2.into() };
    let agg = grpc
        .get_aggregate(with_key(v1::AggregateRequest {
            site_id: site.to_string(),
            period: v1::Period::Custom as i32,
            date_range: Some(range),
            compare_previous: true,
            min_position: Some(last),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let m = agg.metrics.unwrap();
    assert!((m.bounce_rate - 300.0 / 7.0).abs() < 1e-9, "{m:?}");
    assert_eq!(agg.previous.unwrap().visits, 0);
    assert_eq!(agg.previous_date_range.unwrap().start_date, "2026-01-08");
    let rt = grpc
        .get_realtime(with_key(v1::RealtimeRequest { site_id: site.to_string(), min_position: Some(last) }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rt.visitors, 1, "one visitor in the last 5 minutes");
    let mut stream = grpc
        .stream_realtime(with_key(v1::RealtimeRequest { site_id: site.to_string(), min_position: None }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stream.message().await.unwrap().unwrap().visitors, 1, "the stream starts with the current count");
    // The dashboard's live stream over REST: server-sent events, the current count first.
    let mut sse =
        api.http.get(format!("{base}/v1/sites/{site}/realtime/stream")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(sse.headers()["content-type"], "text/event-stream");
    let first = sse.chunk().await.unwrap().expect("a first event");
    let first = String::from_utf8_lossy(&first);
    assert!(first.contains("event: realtime") && first.contains("\"visitors\":1"), "{first}");
    drop(sse);
    // Without the key, with a wrong secret, or with this site's key for another site: 401.
    let aggregate = |site: Uuid| api.http.get(format!("{base}/v1/sites/{site}/aggregate"));
    let refused = [
        aggregate(site).send().await.unwrap(),
        aggregate(site).bearer_auth(format!("{KEY_ID}.{}", "x".repeat(SECRET.len()))).send().await.unwrap(),
        aggregate(Uuid::now_v7()).bearer_auth(&key).send().await.unwrap(),
    ];
    for resp in refused {
        assert_eq!(resp.status(), 401, "{:?}", resp.text().await);
    }
    let status =
        grpc.get_realtime(v1::RealtimeRequest { site_id: site.to_string(), min_position: None }).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");

    // Open days: the projector's rounds as on D1 just after midnight (in Kolkata) take both
    // days out of their weeks and months, then close D1, then D2; every answer stays the
    // same, read from day rows for the open days and from spans for the closed ones.
    let read = pool(&read_url);
    let round = |local: &str| {
        let as_of = utc(&local[..10], &local[11..]);
        let read = read.clone();
        async move { tally_projector::analytics::closing::close(&read, as_of).await.unwrap() }
    };
    assert_eq!(round("2026-01-10 00:10:00").await.opened, 1);
    check_everything(&api).await;
    assert_eq!(round("2026-01-11 00:10:00").await.days, 1);
    check_everything(&api).await;
    assert_eq!(round("2026-01-12 00:10:00").await.days, 1);
    check_everything(&api).await;
    let open_from: String =
        read.get().await.unwrap().query_one("SELECT open_from::text FROM analytics_open", &[]).await.unwrap().get(0);
    assert_eq!(open_from, "2026-01-12");

    // A shorter timeout re-derives everything: at 20 minutes #5 (25 min after #4) and #9
    // (29:59 after #8) start visits of their own, so S2 and S5 each split into two one-page
    // visits: 9 visits, bounces S3 S4 S7 + 4 = 7 of 9 = 77.8 % -> 78.
    rebuild(&read_url, &write_url, brokers.as_deref(), 20);
    let m = api.aggregate(BOTH_DAYS).await;
    assert_eq!((m["visits"].as_u64(), m["bounce_rate"].as_f64()), (Some(9), Some(78.0)), "{m}");
    // Back to 30 minutes: the very same answers as live.
    rebuild(&read_url, &write_url, brokers.as_deref(), 30);
    check_everything(&api).await;
}
