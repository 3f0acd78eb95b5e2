//! Analytics traffic for the projector's tests: visitors of one site over a few
//! days, appended to the event store, and the log split into partitions keyed by
//! visitor as the relay keys them.

use std::{sync::Arc, time::Duration};

use prost::Message as _;
use tally_event_store::reader;
use tally_projector::{
    batch::Applier,
    message::{Message, Source},
};
use tally_proto::v1;
use uuid::Uuid;

use super::Harness;

/// A deterministic pseudo-random sequence (no dependency for a test's dice).
pub struct Dice(pub u64);

impl Dice {
    pub fn roll(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

pub const PAGES: [&str; 5] = ["/", "/pricing", "/blog", "/blog/a", "/docs"];
pub const SOURCES: [&str; 3] = ["", "Google", "Twitter"];

pub async fn rows(h: &Harness, sql: &str) -> Vec<String> {
    let client = h.read.get().await.unwrap();
    client.query(sql, &[]).await.unwrap().iter().map(|r| r.get(0)).collect()
}

pub async fn snapshot(h: &Harness, version: i32) -> [Vec<String>; 4] {
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

/// 60 visitors of `site` (Europe/Paris, UTC+2 in May) over `days` days from 2026-05-04, 2-9
/// events each, gaps from 1 to 59 minutes (so both sides of the 30-minute timeout),
/// pageviews and custom events mixed; `seed` picks them.
pub async fn append(h: &mut Harness, site: Uuid, days: u64, seed: u64) {
    let mut dice = Dice(seed);
    let start = chrono::DateTime::parse_from_rfc3339("2026-05-04T06:00:00Z").unwrap().to_utc();
    let mut events = Vec::new();
    for v in 0..60 {
        let day = v % days;
        let mut at = start + chrono::Duration::days(day as i64) + chrono::Duration::minutes(dice.roll(600) as i64);
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
}

/// The whole log in three "partitions" keyed by visitor, as the relay keys analytics events
/// (everything else in the first).
pub async fn partitions(h: &Harness) -> [Vec<Message>; 3] {
    let all = reader::read_all(&h.store.get().await.unwrap(), 0, 10_000, &Default::default()).await.unwrap();
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
    partitions
}

/// Applies the three partitions at once, each in its own task and batch size (3, 7 and 11
/// messages: uneven boundaries), pausing `pause` after each batch; with `redeliver`, each
/// task then delivers its whole partition again, which must apply nothing.
pub async fn apply_concurrently(
    applier: &Arc<Applier>,
    partitions: [Vec<Message>; 3],
    pause: Duration,
    redeliver: bool,
) {
    let tasks: Vec<_> = partitions
        .into_iter()
        .zip([3, 7, 11])
        .map(|(messages, chunk)| {
            let applier = applier.clone();
            tokio::spawn(async move {
                for batch in messages.chunks(chunk) {
                    applier.apply(batch).await.unwrap();
                    tokio::time::sleep(pause).await;
                }
                if redeliver {
                    let again = applier.apply(&messages).await.unwrap();
                    assert_eq!(again.applied, 0, "a re-delivery of everything changes nothing: {again:?}");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

/// Runs `projector rebuild analytics` (pages of 50 events) into version 2 and returns its
/// snapshot, to compare with the live version's.
pub async fn rebuilt(h: &Harness) -> [Vec<String>; 4] {
    let options = tally_projector::rebuild::Options { page: 50, ..Default::default() };
    let report =
        tally_projector::analytics::rebuild::analytics(&h.settings(), options, Default::default()).await.unwrap();
    assert_eq!(report.new_version, 2);
    snapshot(h, 2).await
}
