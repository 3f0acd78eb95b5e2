//! The statistics API end to end with the real binaries: analytics events appended to the
//! event store (as ingest writes them), the projector in single-node mode sessionising them,
//! the query-service answering — every number below is computed by hand from the log, and
//! must hold again after `projector rebuild analytics`.
//!
//! The site is in Asia/Kolkata (UTC+05:30, a half-hour offset), so local hours and local
//! midnight differ from UTC's. Two days, D1 = 2026-01-10 and D2 = 2026-01-11; times are local.
//!
//! ```text
//!  #  visitor  local time     event              session
//!  1  a1 (A)   D1 10:00:00    pageview /         S1 starts (Google, desktop, DE)
//!  2  a1       D1 10:05:00    pageview /pricing  S1: bounce undone, exit / -> /pricing, +300 s
//!  8  b1 (B)   D1 10:10:00    pageview /pricing  S5 starts (direct, mobile, IN)
//!  3  a1       D1 10:20:00    signup             S1: +900 s (S1 = 1200 s, 2 pv, 3 events)
//!  9  b1       D1 10:39:59    pageview /         S5: 29:59 later: same visit, exit -> /, 1799 s
//!  4  a1       D1 10:50:00    pageview /blog     30:00 after #3: new visit S2
//!  5  a1       D1 11:15:00    pageview /blog/post S2: exit moves, 1500 s (counts in hour 11)
//! 10  b1       D1 12:00:00    signup {plan=pro}  S6: custom-event-only visit (no bounce)
//!  6  a1       D1 23:50:00    pageview /         S3: a bounce
//!  7  a2 (A)   D2 00:05:00    pageview /pricing  midnight: new visitor id, S4 (direct), bounce
//! 11  c2 (C)   D2 09:00:00    pageview /blog     S7 (Twitter, mobile, US), bounce
//! ```
//! #7 is 18:35 UTC on D1: only the site's own day puts it on D2.
//!
//! Sessions: S1 (D1 h10, 1200 s, entry /, exit /pricing), S2 (D1 h10, 1500 s, /blog ->
//! /blog/post), S3 (D1 h23, bounce, /), S4 (D2 h0, bounce, /pricing), S5 (D1 h10, 1799 s,
//! /pricing -> /), S6 (D1 h12, custom only), S7 (D2 h9, bounce, /blog).

use std::time::Duration;

use chrono::{NaiveDateTime, TimeZone as _, Utc};
use deadpool_postgres::Pool;
use prost::Message as _;
use serde_json::Value;
use tally_event_store::{AppendRequest, Appender, AppenderConfig, EventMetadata, ExpectedVersion, NewEvent};
use tally_proto::v1::{self, query_service_client::QueryServiceClient};
use tally_tests::{app, devstack};
use uuid::Uuid;

const OFFSET: i32 = 19_800;
const D1: &str = "2026-01-10";
const D2: &str = "2026-01-11";

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

/// The log above, in the order it is recorded.
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

fn utc(date: &str, time: &str) -> chrono::DateTime<Utc> {
    let local = NaiveDateTime::parse_from_str(&format!("{date} {time}"), "%Y-%m-%d %H:%M:%S").unwrap();
    Utc.from_utc_datetime(&(local - chrono::Duration::seconds(OFFSET.into())))
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

struct Api {
    http: reqwest::Client,
    base: String,
    site: Uuid,
    min: u64,
}

impl Api {
    async fn get(&self, path: &str, query: &str) -> Value {
        let url = format!("{}/v1/sites/{}/{path}?{query}", self.base, self.site);
        let resp = self.http.get(&url).header("X-Min-Position", self.min.to_string()).send().await.unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, 200, "{url}: {body}");
        body
    }

    async fn aggregate(&self, query: &str) -> Value {
        self.get("aggregate", query).await["metrics"].clone()
    }
}

const BOTH_DAYS: &str = "period=custom&start_date=2026-01-10&end_date=2026-01-11";
const DAY_ONE: &str = "period=custom&start_date=2026-01-10&end_date=2026-01-10";

/// (visitors, visits, pageviews, events, bounce_rate %, visit_duration s, views_per_visit)
fn expect(m: &Value, want: (u64, u64, u64, u64, f64, f64, f64), label: &str) {
    let got = (
        m["visitors"].as_u64().unwrap(),
        m["visits"].as_u64().unwrap(),
        m["pageviews"].as_u64().unwrap(),
        m["events"].as_u64().unwrap(),
        m["bounce_rate"].as_f64().unwrap(),
        m["visit_duration"].as_f64().unwrap(),
        m["views_per_visit"].as_f64().unwrap(),
    );
    assert_eq!(got, want, "{label}: {m}");
}

/// Every hand-computed answer; run before and after rebuilds.
async fn check_everything(api: &Api) {
    // 4 visitors = {a1, b1} on D1 + {a2, c2} on D2; 7 visits; 9 pageviews; 11 events;
    // bounces S3, S4, S7 = 3/7 = 42.9 % -> 43; duration 4499 s / 7 = 642.7 -> 643; 9/7 = 1.29.
    expect(&api.aggregate(BOTH_DAYS).await, (4, 7, 9, 11, 43.0, 643.0, 1.29), "both days");
    // D1: {a1, b1}; S1 S2 S3 S5 S6; bounce S3 = 20 %; 4499 / 5 = 899.8 -> 900.
    expect(&api.aggregate(DAY_ONE).await, (2, 5, 7, 9, 20.0, 900.0, 1.4), "day one");

    // Goals: signup reached by a1 and b1 on D1 = 2 of 4; /pricing by a1, b1 (D1), a2 (D2) = 3 of 4.
    let m = api.aggregate(&format!("{BOTH_DAYS}&goal=event:signup")).await;
    assert_eq!(m["conversion_rate"], 50.0, "{m}");
    let m = api.aggregate(&format!("{BOTH_DAYS}&goal=page:/pricing")).await;
    assert_eq!(m["conversion_rate"], 75.0, "{m}");
    // With a filter (exact path): mobile visitors are b1 (D1) and c2 (D2); only b1 signed up.
    let m = api.aggregate(&format!("{BOTH_DAYS}&filter=device:is:mobile&goal=event:signup")).await;
    assert_eq!((m["visitors"].as_u64(), m["conversion_rate"].as_f64()), (Some(2), Some(50.0)), "{m}");

    // Combined filters. Google sessions (S1-S3) x pageviews of /pricing: only #2. Its visit S1
    // entered on /, so no session is in the bounce rate; duration 1200 s.
    let m = api.aggregate(&format!("{BOTH_DAYS}&filter=source:is:Google&filter=page:is:/pricing")).await;
    expect(&m, (1, 1, 1, 1, 0.0, 1200.0, 1.0), "Google and /pricing");
    // Mobile sessions (S5, S6, S7) without /blog pageviews: #8, #9 and the custom #10
    // (no page); visits S5, S6; (1799 + 0) / 2 = 899.5 -> 900.
    let m = api.aggregate(&format!("{BOTH_DAYS}&filter=device:is:mobile&filter=page:is_not:/blog")).await;
    expect(&m, (1, 2, 2, 3, 0.0, 900.0, 1.0), "mobile and not /blog");
    // Pages containing "blog": #4, #5, #11; visits S2, S7 both entered on a blog page, S7
    // bounced: 50 %; (1500 + 0) / 2 = 750.
    let m = api.aggregate(&format!("{BOTH_DAYS}&filter=page:contains:blog")).await;
    expect(&m, (2, 2, 3, 3, 50.0, 750.0, 1.5), "page contains blog");
    // Direct traffic by its shown name: S4, S5, S6 = a2 (D2) + b1 (D1).
    let m = api.aggregate(&format!("{BOTH_DAYS}&filter=source:is:Direct%20/%20None")).await;
    expect(&m, (2, 3, 3, 4, 33.0, 600.0, 1.0), "direct");

    // Local hours of D1: h10 = #1 #2 #3 #8 #9 (+#4), visits S1 S2 S5 (4499 / 3 -> 1500 s);
    // h11 = #5 only (S2 started at 10:50); h12 = S6; h23 = S3, a bounce.
    let series = api.get("timeseries", &format!("{DAY_ONE}&interval=hour")).await;
    let points = series["points"].as_array().unwrap();
    assert_eq!(points.len(), 24);
    let at = |h: usize| (points[h]["bucket"].as_str().unwrap().to_owned(), points[h]["metrics"].clone());
    assert_eq!(at(10).0, "2026-01-10T10:00");
    expect(&at(10).1, (2, 3, 5, 6, 0.0, 1500.0, 1.67), "h10");
    expect(&at(11).1, (1, 0, 1, 1, 0.0, 0.0, 0.0), "h11");
    expect(&at(12).1, (1, 1, 0, 1, 0.0, 0.0, 0.0), "h12");
    expect(&at(23).1, (1, 1, 1, 1, 100.0, 0.0, 1.0), "h23");
    for h in [0, 4, 9, 13, 22] {
        expect(&at(h).1, (0, 0, 0, 0, 0.0, 0.0, 0.0), "an empty hour");
    }
    // The same hours through the exact path (a filter that keeps everything).
    let filtered = api.get("timeseries", &format!("{DAY_ONE}&interval=hour&filter=country:is_not:XX")).await;
    assert_eq!(filtered["points"], series["points"], "rollups and the exact path agree");
    let days = api.get("timeseries", &format!("{BOTH_DAYS}&interval=day")).await;
    expect(&days["points"][0]["metrics"], (2, 5, 7, 9, 20.0, 900.0, 1.4), "D1");
    expect(&days["points"][1]["metrics"], (2, 2, 2, 2, 100.0, 0.0, 1.0), "D2");

    // Pages: /pricing #2 #7 #8 (3 visitors, visits S1 S4 S5, entered: S4 bounce, S5 -> 50 %);
    // / #1 #6 #9 (a1, b1; S1 S3 S5; entered S1, S3 bounce -> 50 %); /blog #4 #11 (S2, S7 ->
    // 50 %); /blog/post #5 (S2, entered by none -> 0 %). Two per page.
    let first = api.get("breakdown", &format!("{BOTH_DAYS}&dimension=page&limit=2")).await;
    let rows = |b: &Value| -> Vec<(String, u64, u64, u64, f64)> {
        b["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let m = &r["metrics"];
                (
                    r["value"].as_str().unwrap().to_owned(),
                    m["visitors"].as_u64().unwrap(),
                    m["visits"].as_u64().unwrap(),
                    m["pageviews"].as_u64().unwrap(),
                    m["bounce_rate"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(rows(&first), [("/pricing".into(), 3, 3, 3, 50.0), ("/".into(), 2, 3, 3, 50.0)]);
    let after = first["next_after"].as_str().expect("a second page");
    let second = api.get("breakdown", &format!("{BOTH_DAYS}&dimension=page&limit=2&after={after}")).await;
    assert_eq!(rows(&second), [("/blog".into(), 2, 2, 2, 50.0), ("/blog/post".into(), 1, 1, 1, 0.0)]);
    assert!(second["next_after"].is_null());
    // Those came from the rollups; the exact path agrees, durations included (/ : S1 S3 S5 =
    // 2999 s / 3 -> 1000 s; /pricing: S1 S4 S5 -> 1000 s; /blog: S2 S7 -> 750 s).
    let fast = api.get("breakdown", &format!("{BOTH_DAYS}&dimension=page")).await;
    let exact = api.get("breakdown", &format!("{BOTH_DAYS}&dimension=page&filter=country:is_not:XX")).await;
    assert_eq!(fast["rows"], exact["rows"], "rollups and the exact path agree");
    let durations: Vec<f64> =
        fast["rows"].as_array().unwrap().iter().map(|r| r["metrics"]["visit_duration"].as_f64().unwrap()).collect();
    assert_eq!(durations, [1000.0, 1000.0, 750.0, 1500.0]);

    // Exit pages after every move: S3, S5 on /; S1, S4 on /pricing; S2 /blog/post; S7 /blog.
    let exits = api.get("breakdown", &format!("{BOTH_DAYS}&dimension=exit_page&order=visits")).await;
    let visits: Vec<(String, u64)> = exits["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["value"].as_str().unwrap().to_owned(), r["metrics"]["visits"].as_u64().unwrap()))
        .collect();
    let expected: Vec<(String, u64)> =
        [("/", 2), ("/pricing", 2), ("/blog", 1), ("/blog/post", 1)].map(|(v, n)| (v.to_owned(), n)).into();
    assert_eq!(visits, expected);

    // Sources: Google S1-S3 (a1: 1 visitor, S3 bounced -> 33 %); direct S4-S6 (a2, b1); Twitter S7.
    let sources = api.get("breakdown", &format!("{BOTH_DAYS}&dimension=source")).await;
    assert_eq!(
        rows(&sources),
        [("Direct / None".into(), 2, 3, 3, 33.0), ("Google".into(), 1, 3, 5, 33.0), ("Twitter".into(), 1, 1, 1, 100.0)]
    );
    // Unfiltered, that came from the rollups; the exact path agrees row for row.
    let exact = api.get("breakdown", &format!("{BOTH_DAYS}&dimension=source&filter=country:is_not:XX")).await;
    assert_eq!(exact["rows"], sources["rows"], "rollups and the exact path agree");
    let devices = api.get("breakdown", &format!("{BOTH_DAYS}&dimension=device")).await;
    assert_eq!(rows(&devices), [("desktop".into(), 2, 4, 6, 50.0), ("mobile".into(), 2, 3, 3, 33.0)]);
    // A custom property, filtered to mobile.
    let plans =
        api.get("breakdown", &format!("{BOTH_DAYS}&dimension=prop&prop_key=plan&filter=device:is:mobile")).await;
    assert_eq!(rows(&plans), [("pro".into(), 1, 1, 0, 0.0)]);
    let names = api.get("breakdown", &format!("{BOTH_DAYS}&dimension=event_name")).await;
    let names: Vec<(String, u64, u64)> = names["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["value"].as_str().unwrap().into(),
                r["metrics"]["visitors"].as_u64().unwrap(),
                r["metrics"]["events"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [("pageview".to_owned(), 4, 9), ("signup".to_owned(), 2, 2)]);
    let exact = api.get("breakdown", &format!("{BOTH_DAYS}&dimension=event_name&filter=country:is_not:XX")).await;
    let fast = api.get("breakdown", &format!("{BOTH_DAYS}&dimension=event_name")).await;
    assert_eq!(fast["rows"], exact["rows"], "rollups and the exact path agree");
}

fn rebuild(read_url: &str, write_url: &str, brokers: Option<&str>, timeout_minutes: u32) {
    let mut cmd = std::process::Command::new(devstack::binary("projector").unwrap());
    cmd.args(["rebuild", "analytics", "--quiet", "--drop-old"]);
    for (k, v) in app::projector_env(read_url, write_url, brokers) {
        cmd.env(k, v);
    }
    cmd.env("TALLY_ANALYTICS__SESSION_TIMEOUT_MINUTES", timeout_minutes.to_string());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "rebuild failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
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
    for e in log() {
        store.record(&e, utc(e.date, e.time)).await;
    }
    // Someone on the site right now, for realtime (today's date in Kolkata).
    let now = Utc::now();
    let today = (now + chrono::Duration::seconds(OFFSET.into())).date_naive().format("%Y-%m-%d").to_string();
    let live = Ev { visitor: "now", ..ev("c2", "2026-11-22", "00:00:00", "pageview", "/") };
    let today: &'static str = Box::leak(today.into_boxed_str());
    let last = store.record(&Ev { date: today, ..live }, now).await;

    let _projector = app::spawn_projector(&read_url, &write_url, brokers.as_deref()).await.unwrap();
    let (_query, base) = app::spawn_query_service(&read_url).await.unwrap();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let api = Api { http, base: base.clone(), site, min: last };

    check_everything(&api).await;

    // gRPC carries the unrounded rates; previous-period comparison covers D-1..D0 (empty).
    let mut grpc = QueryServiceClient::connect(base.clone()).await.unwrap();
    let range = v1::DateRange { start_date: D1.into(), end_date: D2.into() };
    let agg = grpc
        .get_aggregate(v1::AggregateRequest {
            site_id: site.to_string(),
            period: v1::Period::Custom as i32,
            date_range: Some(range),
            compare_previous: true,
            min_position: Some(last),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let m = agg.metrics.unwrap();
    assert!((m.bounce_rate - 300.0 / 7.0).abs() < 1e-9, "{m:?}");
    assert_eq!(agg.previous.unwrap().visits, 0);
    assert_eq!(agg.previous_date_range.unwrap().start_date, "2026-01-08");
    let rt = grpc
        .get_realtime(v1::RealtimeRequest { site_id: site.to_string(), min_position: Some(last) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rt.visitors, 1, "one visitor in the last 5 minutes");
    let mut stream = grpc
        .stream_realtime(v1::RealtimeRequest { site_id: site.to_string(), min_position: None })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stream.message().await.unwrap().unwrap().visitors, 1, "the stream starts with the current count");
    // The dashboard's live stream over REST: server-sent events, the current count first.
    let mut sse = api.http.get(format!("{base}/v1/sites/{site}/realtime/stream")).send().await.unwrap();
    assert_eq!(sse.headers()["content-type"], "text/event-stream");
    let first = sse.chunk().await.unwrap().expect("a first event");
    let first = String::from_utf8_lossy(&first);
    assert!(first.contains("event: realtime") && first.contains("\"visitors\":1"), "{first}");
    drop(sse);
    let unknown = api.http.get(format!("{base}/v1/sites/{}/aggregate", Uuid::now_v7())).send().await.unwrap();
    assert_eq!(unknown.status(), 404);

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
