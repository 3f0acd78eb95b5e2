//! The analytics projection under the conditions of production: visitors spread over three
//! partitions applied concurrently in uneven micro-batches (rollup rows are shared between
//! them), and re-deliveries. Whatever the interleaving, the result equals a single-threaded
//! `rebuild analytics`, and the rebuild's verification passes.

mod support;

use std::{sync::Arc, time::Duration};

use prost::Message as _;
use support::{
    Harness,
    visits::{self, Dice, SOURCES, rows, snapshot},
};
use tally_event_store::reader;
use tally_projector::{
    batch::Applier,
    message::{Message, Source},
};
use tally_proto::v1;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_applied_concurrently_equal_a_rebuild() {
    let mut h = Harness::new().await;
    let owner = h.create_profile("owner").await;
    let site = h.register_site(owner, "shop.example").await;
    visits::append(&mut h, site, 2, 7).await;
    let partitions = visits::partitions(&h).await;
    let applier = Arc::new(Applier::new(h.read.clone(), "tally-projector"));
    visits::apply_concurrently(&applier, partitions, Duration::ZERO, true).await;
    let live = snapshot(&h, 1).await;
    assert!(live[2].len() > 100, "the log has {} events", live[2].len());

    let rebuilt = visits::rebuilt(&h).await;
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
        "SELECT value || '=' || sum(entries) FROM analytics_rollup WHERE dim = 'page' AND hour = -1 GROUP BY value ORDER BY 1",
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

/// Asserts two snapshots are equal, showing only the rows that differ.
fn assert_same(got: &[Vec<String>; 4], want: &[Vec<String>; 4], what: &str) {
    for (i, name) in ["rollup", "sessions", "events", "visitor_days"].iter().enumerate() {
        let only_got: Vec<_> = got[i].iter().filter(|r| !want[i].contains(r)).collect();
        let only_want: Vec<_> = want[i].iter().filter(|r| !got[i].contains(r)).collect();
        assert!(
            only_got.is_empty() && only_want.is_empty() && got[i].len() == want[i].len(),
            "{name} differ ({what}): only in the rebuild {only_got:?}; only in the live tables {only_want:?}"
        );
    }
}

/// Applies the whole log in order through the live path, in uneven batches.
async fn project_live(h: &Harness) {
    let all = reader::read_all(&h.store.get().await.unwrap(), 0, 100_000, &Default::default()).await.unwrap();
    let messages: Vec<Message> = all
        .into_iter()
        .map(|event| {
            let mut m = Message::from_recorded(event);
            m.source = Source { topic: "tally.analytics.v1".into(), partition: 0, offset: m.source.offset };
            m
        })
        .collect();
    let applier = Applier::new(h.read.clone(), "tally-projector");
    for batch in messages.chunks(13) {
        applier.apply(batch).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bulk_rebuild_writes_exactly_what_the_live_path_writes() {
    let mut h = Harness::new().await;
    let owner = h.create_profile("owner").await;
    let site = h.register_site(owner, "shop.example").await;
    let stream = format!("analytics-{site}");
    let event = |at: chrono::DateTime<chrono::Utc>, visitor: String, name: &str, page: String, source: &str| {
        let local = at + chrono::Duration::hours(2);
        let mut props = std::collections::HashMap::new();
        if name != "pageview" {
            props.insert("plan".to_owned(), page.clone());
        }
        let payload = v1::AnalyticsEventRecorded {
            site_id: site.to_string(),
            visitor_id: visitor,
            name: name.into(),
            timestamp: Some(prost_types::Timestamp { seconds: at.timestamp(), nanos: 0 }),
            local_date: local.format("%Y-%m-%d").to_string(),
            utc_offset_seconds: 7200,
            pathname: page,
            referrer_source: source.into(),
            props,
            ..Default::default()
        };
        ("tally.v1.AnalyticsEventRecorded".to_owned(), payload.encode_to_vec())
    };
    // 360 visitor-days over three days, 2-6 events each with gaps on both sides of the
    // 30-minute timeout, over 60 pages: with a 40 KiB budget the rebuild holds at most 6
    // visitor-days and 102 rollup keys in memory, so it evicts and reloads visitor-days and
    // adds later rollup sums to rows already written.
    let mut dice = Dice(11);
    let start = chrono::DateTime::parse_from_rfc3339("2026-05-04T06:00:00Z").unwrap().to_utc();
    let mut log = Vec::new();
    for v in 0..360 {
        let day = v % 3;
        let mut at = start + chrono::Duration::days(day) + chrono::Duration::minutes(dice.roll(600) as i64);
        let source = SOURCES[dice.roll(3) as usize];
        for _ in 0..2 + dice.roll(5) {
            let name = if dice.roll(5) == 0 { "signup" } else { "pageview" };
            log.push((at, format!("v{v}-{day}"), name, format!("/p{}", dice.roll(60)), source));
            at += chrono::Duration::minutes(1 + dice.roll(59) as i64);
        }
    }
    log.sort_by_key(|a| a.0);
    // Backfills arriving last: a first-day visitor's next event (their visitor-day left
    // memory long ago) and a new visitor of the first day.
    let (first_at, first_visitor) = (log[0].0, log[0].1.clone());
    log.push((first_at + chrono::Duration::minutes(5), first_visitor, "pageview", "/late".into(), ""));
    log.push((first_at, "late-visitor".into(), "pageview", "/late".into(), "Google"));
    let events: Vec<_> = log.into_iter().map(|(at, v, name, page, source)| event(at, v, name, page, source)).collect();
    for chunk in events.chunks(200) {
        h.append_many(&stream, chunk.to_vec()).await;
    }
    project_live(&h).await;
    let live = snapshot(&h, 1).await;
    let options = tally_projector::rebuild::Options { page: 1, memory_budget: 40 * 1024, ..Default::default() };
    let (cap_days, cap_rollup) = tally_projector::analytics::fill::caps(&options);
    assert!(live[3].len() > 2 * cap_days, "{} visitor-days", live[3].len());
    assert!(live[0].len() > 2 * cap_rollup, "{} rollup rows", live[0].len());

    let report =
        tally_projector::analytics::rebuild::analytics(&h.settings(), options, Default::default()).await.unwrap();
    assert!(!report.page_by_page, "the bulk path wrote v2: {report}");
    assert_eq!(report.dead_lettered, 0);
    assert_same(&snapshot(&h, 2).await, &live, "the bulk rebuild");
    let logged: i64 =
        h.query_one("SELECT count(*) FROM pg_class WHERE relname LIKE 'analytics_%_v2' AND relpersistence = 'p'").await;
    assert_eq!(logged, 5, "every rebuilt table is logged before the switch");
    let indexed: i64 =
        h.query_one("SELECT count(*) FROM pg_indexes WHERE indexname = 'analytics_events_v2_recent_idx'").await;
    assert_eq!(indexed, 1);

    // A NUL byte Postgres refuses to store, among good neighbours: the live path (now
    // continuing on the bulk-built v2) dead-letters it alone, and so does the rebuild, falling
    // back to the live path.
    let poison =
        h.append_many(&stream, vec![event(first_at, "poisoned".into(), "pageview", "/bad\u{0}".into(), "")]).await;
    h.append_many(&stream, vec![event(first_at, "neighbour".into(), "pageview", "/".into(), "")]).await;
    project_live(&h).await;
    let live = snapshot(&h, 2).await;
    let letters: Vec<i64> = {
        let client = h.read.get().await.unwrap();
        let rows = client.query("SELECT global_position FROM dead_letters WHERE NOT resolved", &[]).await.unwrap();
        rows.iter().map(|r| r.get(0)).collect()
    };
    assert_eq!(letters, vec![poison as i64], "the live path dead-letters the culprit alone");
    h.read.get().await.unwrap().execute("UPDATE dead_letters SET resolved = true", &[]).await.unwrap();

    let report =
        tally_projector::analytics::rebuild::analytics(&h.settings(), options, Default::default()).await.unwrap();
    assert_eq!(report.new_version, 3);
    assert!(report.page_by_page, "{report}");
    assert_eq!(report.dead_lettered, 1, "{report}");
    assert_same(&snapshot(&h, 3).await, &live, "the rebuild fallen back to the live path");
    let rebuild_letter: i64 =
        h.query_one("SELECT global_position FROM dead_letters WHERE NOT resolved AND consumer = 'rebuild'").await;
    assert_eq!(rebuild_letter, poison as i64);
}
