//! The analytics projection under the conditions of production: visitors spread over three
//! partitions applied concurrently in uneven micro-batches (rollup rows are shared between
//! them), and re-deliveries. Whatever the interleaving, the result equals a single-threaded
//! `rebuild analytics`, and the rebuild's verification passes.

mod support;

use std::sync::Arc;

use prost::Message as _;
use support::Harness;
use tally_event_store::reader;
use tally_projector::{
    batch::Applier,
    message::{Message, Source},
};
use tally_proto::v1;

/// A deterministic pseudo-random sequence (no dependency for a test's dice).
struct Dice(u64);

impl Dice {
    fn roll(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

const PAGES: [&str; 5] = ["/", "/pricing", "/blog", "/blog/a", "/docs"];
const SOURCES: [&str; 3] = ["", "Google", "Twitter"];

async fn rows(h: &Harness, sql: &str) -> Vec<String> {
    let client = h.read.get().await.unwrap();
    client.query(sql, &[]).await.unwrap().iter().map(|r| r.get(0)).collect()
}

async fn snapshot(h: &Harness, version: i32) -> [Vec<String>; 4] {
    [
        // Rows whose deltas cancelled out differ with batch boundaries; they carry nothing.
        rows(
            h,
            &format!(
                "SELECT t::text FROM analytics_rollup_v{version} t WHERE (visitors, hour_visitors, visits, bounces, \
                 duration_ms, pageviews, events) <> (0, 0, 0, 0, 0, 0, 0) ORDER BY 1"
            ),
        )
        .await,
        rows(h, &format!("SELECT t::text FROM analytics_sessions_v{version} t ORDER BY 1")).await,
        rows(h, &format!("SELECT t::text FROM analytics_events_v{version} t ORDER BY 1")).await,
        rows(h, &format!("SELECT t::text FROM analytics_visitor_days_v{version} t ORDER BY 1")).await,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_applied_concurrently_equal_a_rebuild() {
    let mut h = Harness::new().await;
    let owner = h.create_profile("owner").await;
    let site = h.register_site(owner, "shop.example").await;
    let mut dice = Dice(7);
    // 60 visitors over two days, 2-9 events each, gaps from 1 to 59 minutes (so both sides
    // of the 30-minute timeout), pageviews and custom events mixed.
    let start = chrono::DateTime::parse_from_rfc3339("2026-05-04T06:00:00Z").unwrap().to_utc();
    let mut events = Vec::new();
    for v in 0..60 {
        let day = v % 2;
        let mut at = start + chrono::Duration::days(day) + chrono::Duration::minutes(dice.roll(600) as i64);
        let source = SOURCES[dice.roll(3) as usize];
        for _ in 0..2 + dice.roll(8) {
            let name = if dice.roll(5) == 0 { "signup" } else { "pageview" };
            events.push((at, v, day, name, PAGES[dice.roll(5) as usize], source));
            at += chrono::Duration::minutes(1 + dice.roll(59) as i64);
        }
    }
    events.sort_by_key(|e| e.0);
    for (at, v, day, name, page, source) in events {
        let local = at + chrono::Duration::hours(2);
        let payload = v1::AnalyticsEventRecorded {
            site_id: site.to_string(),
            visitor_id: format!("v{v}-{day}"),
            name: name.into(),
            timestamp: Some(prost_types::Timestamp { seconds: at.timestamp(), nanos: 0 }),
            local_date: local.format("%Y-%m-%d").to_string(),
            utc_offset_seconds: 7200,
            pathname: page.into(),
            referrer_source: source.into(),
            device: if v % 3 == 0 { "mobile" } else { "desktop" }.into(),
            ..Default::default()
        };
        h.append(&format!("analytics-{site}"), "tally.v1.AnalyticsEventRecorded", payload.encode_to_vec()).await;
    }

    // Three "partitions" keyed by visitor, as the relay keys analytics events.
    let all = reader::read_all(&**h.store.get().await.unwrap(), 0, 10_000, &Default::default()).await.unwrap();
    let mut partitions: [Vec<Message>; 3] = Default::default();
    for event in all {
        let p = if event.category == "analytics" {
            let payload = v1::AnalyticsEventRecorded::decode(event.payload.as_slice()).unwrap();
            payload.visitor_id.bytes().map(u64::from).sum::<u64>() % 3
        } else {
            0
        } as usize;
        let mut m = Message::from_recorded(event);
        m.source = Source { topic: "tally.analytics.v1".into(), partition: p as i32, offset: m.source.offset };
        partitions[p].push(m);
    }
    let applier = Arc::new(Applier::new(h.read.clone(), "tally-projector"));
    let tasks: Vec<_> = partitions
        .into_iter()
        .zip([3, 7, 11])
        .map(|(messages, chunk)| {
            let applier = applier.clone();
            tokio::spawn(async move {
                for batch in messages.chunks(chunk) {
                    applier.apply(batch).await.unwrap();
                }
                // A re-delivery of everything changes nothing.
                let again = applier.apply(&messages).await.unwrap();
                assert_eq!(again.applied, 0, "{again:?}");
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let live = snapshot(&h, 1).await;
    assert!(live[2].len() > 100, "the log has {} events", live[2].len());

    let options = tally_projector::rebuild::Options { page: 50, ..Default::default() };
    let report =
        tally_projector::analytics::rebuild::analytics(&h.settings(), options, Default::default()).await.unwrap();
    assert_eq!(report.new_version, 2);
    let rebuilt = snapshot(&h, 2).await;
    for (i, name) in ["rollup", "sessions", "events", "visitor_days"].iter().enumerate() {
        assert_eq!(rebuilt[i], live[i], "{name} differ between the concurrent run and the rebuild");
    }
    let visits: i64 = h.query_one("SELECT sum(visits)::int8 FROM analytics_rollup WHERE dim = ''").await;
    let sessions: i64 = h.query_one("SELECT count(*) FROM analytics_sessions").await;
    assert_eq!(visits, sessions);
    // Entry and exit pages are answered from the sessions, so they have no rollup rows; the
    // page rows carry the visits that entered on them.
    let stored: i64 =
        h.query_one("SELECT count(*) FROM analytics_rollup WHERE dim IN ('entry_page', 'exit_page')").await;
    assert_eq!(stored, 0);
    let entries: Vec<String> = rows(
        &h,
        "SELECT value || '=' || sum(entries) FROM analytics_rollup WHERE dim = 'page' GROUP BY value ORDER BY 1",
    )
    .await;
    let entered: Vec<String> = rows(
        &h,
        "SELECT entry_page || '=' || count(*) FROM analytics_sessions WHERE entry_page IS NOT NULL \
         GROUP BY entry_page ORDER BY 1",
    )
    .await;
    assert_eq!(entries, entered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analytics_event_that_cannot_be_placed_is_dead_lettered_and_its_neighbours_count() {
    let mut h = Harness::new().await;
    let projector = support::Running::start(h.settings()).await;
    let owner = h.create_profile("owner").await;
    let site = h.register_site(owner, "shop.example").await;
    let event = |visitor: &str| v1::AnalyticsEventRecorded {
        site_id: site.to_string(),
        visitor_id: visitor.into(),
        name: "pageview".into(),
        timestamp: Some(prost_types::Timestamp { seconds: 1_777_000_000, nanos: 0 }),
        local_date: "2026-04-24".into(),
        utc_offset_seconds: 7200,
        pathname: "/".into(),
        ..Default::default()
    };
    let stream = format!("analytics-{site}");
    h.append(&stream, "tally.v1.AnalyticsEventRecorded", event("a").encode_to_vec()).await;
    // No visitor id: nothing to sessionise it by.
    h.append(&stream, "tally.v1.AnalyticsEventRecorded", event("").encode_to_vec()).await;
    h.append(&stream, "tally.v1.AnalyticsEventRecorded", event("b").encode_to_vec()).await;
    h.wait_projected(h.head).await;

    let visitors: i64 = h.query_one("SELECT sum(visitors)::int8 FROM analytics_rollup WHERE dim = ''").await;
    assert_eq!(visitors, 2, "the neighbours are counted");
    let reason: String = h.query_one("SELECT reason FROM dead_letters").await;
    assert!(reason.contains("visitor_id"), "{reason}");
    projector.stop().await;
}
