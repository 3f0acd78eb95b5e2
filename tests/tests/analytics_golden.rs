//! The golden statistics test through the real path: the hand-computed log of
//! `tally_tests::golden` written as raw log lines (timestamp, domain, name, url, referrer, ip,
//! user_agent, props), imported with the admin token through `POST /v1/import/events` on the
//! real command-service, published by its relay to Tansu, sessionised by a Kafka-mode
//! projector and answered by the query-service — every number as computed by hand, again
//! after `projector rebuild analytics`. Then the same kind of log from 16 concurrent clients
//! through two command-service instances must give exactly a sequential client's numbers.
//!
//! Who is who (visitor = ip + User-Agent within one local day):
//! - A: 203.0.113.10, Firefox on Linux (desktop): a1 on D1, a2 on D2 (same ip and UA; the
//!   site's local midnight makes a new visitor id);
//! - B: 198.51.100.20, Safari on an iPhone (mobile): b1 on D1;
//! - C: 203.0.113.10 — A's household connection — with Chrome on an Android phone: c2 on D2,
//!   a visitor of its own next to a2 only because the User-Agent differs.
//!
//! Referrers: a session's first event carries the external one (Google's search page, its
//! home page, google.de, a t.co link), later events the site's own pages, which count as no
//! referrer; #7 (S4) arrives from the site's own page after midnight: direct.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use tally_tests::{
    analytics::{
        ADMIN_TOKEN, Api, CHROME_ANDROID, FIREFOX, GOOGLEBOT, SAFARI, import_lines, issue_read_key, rebuild,
        register_site, revoke_read_key, rows,
    },
    app, devstack,
    golden::{BOTH_DAYS, D1, D2, check_everything, utc},
};
use uuid::Uuid;

const SITE: &str = "shop.example";
const A: (&str, &str) = ("203.0.113.10", FIREFOX);
const B: (&str, &str) = ("198.51.100.20", SAFARI);
const C: (&str, &str) = ("203.0.113.10", CHROME_ANDROID);

/// One raw line of the golden log: who, local date and time, name, path, referrer, props
/// (as a logging table's text column holds them).
type Line =
    ((&'static str, &'static str), &'static str, &'static str, &'static str, &'static str, &'static str, &'static str);

/// The log of `tally_tests::golden` (numbered as there), in the order it is imported.
const LOG: [Line; 11] = [
    (A, D1, "10:00:00", "pageview", "/", "https://www.google.com/search?q=tally+shop", ""), // 1
    (A, D1, "10:05:00", "pageview", "/pricing", "https://shop.example/", ""),               // 2
    (B, D1, "10:10:00", "pageview", "/pricing", "", ""),                                    // 8
    (A, D1, "10:20:00", "signup", "/pricing", "https://shop.example/", ""),                 // 3
    (B, D1, "10:39:59", "pageview", "/", "https://shop.example/pricing", ""),               // 9
    (A, D1, "10:50:00", "pageview", "/blog", "https://www.google.com/", ""),                // 4
    (A, D1, "11:15:00", "pageview", "/blog/post", "https://shop.example/blog", ""),         // 5
    (B, D1, "12:00:00", "signup", "/pricing", "", r#"{"plan": "pro"}"#),                    // 10
    (A, D1, "23:50:00", "pageview", "/", "https://www.google.de/", ""),                     // 6
    (A, D2, "00:05:00", "pageview", "/pricing", "https://shop.example/blog/post", ""),      // 7
    // The query string is dropped from the page; its utm_campaign is kept.
    (C, D2, "09:00:00", "pageview", "/blog?utm_campaign=launch", "https://t.co/x1Yz", ""), // 11
];

/// A line's timestamp in one of the shapes logging tables use, by turns: RFC 3339 with the
/// site's own offset, `YYYY-MM-DD HH:MM:SS` in UTC, Unix seconds.
fn timestamp(i: usize, date: &str, time: &str) -> Value {
    let at = utc(date, time);
    match i % 3 {
        0 => json!(format!("{date}T{time}+05:30")),
        1 => json!(at.format("%Y-%m-%d %H:%M:%S").to_string()),
        _ => json!(at.timestamp()),
    }
}

fn raw(id: String, at: Value, domain: &str, name: &str, path: &str, referrer: &str, who: (&str, &str)) -> Value {
    json!({"client_event_id": id, "timestamp": at, "domain": domain, "name": name,
           "url": format!("https://{domain}{path}"), "referrer": referrer, "ip": who.0, "user_agent": who.1})
}

/// The golden lines, then three that must not count (a crawler, an unregistered site, a
/// timestamp nobody can read), then someone on the site right now (for realtime).
fn lines(now: DateTime<Utc>) -> Vec<Value> {
    let mut lines: Vec<Value> = LOG
        .iter()
        .enumerate()
        .map(|(i, &(who, date, time, name, path, referrer, props))| {
            let mut line = raw(format!("golden:{i}"), timestamp(i, date, time), SITE, name, path, referrer, who);
            line["props"] = json!(props);
            line
        })
        .collect();
    let at = json!(format!("{D1}T10:30:00+05:30"));
    lines.push(raw("golden:bot".into(), at.clone(), SITE, "pageview", "/pricing", "", ("66.249.66.1", GOOGLEBOT)));
    lines.push(raw("golden:elsewhere".into(), at, "elsewhere.example", "pageview", "/", "", A));
    lines.push(raw("golden:when".into(), json!("last tuesday"), SITE, "pageview", "/", "", A));
    lines.push(raw("golden:now".into(), json!(now.to_rfc3339()), SITE, "pageview", "/", "", ("192.0.2.40", FIREFOX)));
    lines
}

/// (accepted, duplicate, dropped_bot, violated fields) of each line of an import answer.
fn outcomes(answer: &Value) -> Vec<(bool, bool, bool, Vec<String>)> {
    answer["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let fields = o["violations"].as_array().unwrap().iter().map(|v| v["field"].as_str().unwrap().to_owned());
            (o["accepted"] == true, o["duplicate"] == true, o["dropped_bot"] == true, fields.collect::<Vec<_>>())
        })
        .collect()
}

/// What only a real ingest can get right, computed by hand from the log above.
async fn check_what_ingest_derives(api: &Api) {
    // Browsers from the User-Agents: Firefox = A (a1, a2): S1-S4, pageviews #1 #2 #4 #5 #6 #7,
    // bounces S3 S4 = 50 %; Chrome = C: S7, a bounce; Safari = B: S5 S6, #8 #9, no bounce.
    let browsers = api.rows(&format!("{BOTH_DAYS}&dimension=browser")).await;
    assert_eq!(
        browsers,
        [("Firefox".into(), 2, 4, 6, 50.0), ("Chrome".into(), 1, 1, 1, 100.0), ("Safari".into(), 1, 2, 2, 0.0)]
    );
    let systems = api.rows(&format!("{BOTH_DAYS}&dimension=os")).await;
    assert_eq!(
        systems,
        [("GNU/Linux".into(), 2, 4, 6, 50.0), ("Android".into(), 1, 1, 1, 100.0), ("iOS".into(), 1, 2, 2, 0.0)]
    );
    // Referrers of the sessions' first events: direct S4 (internal referrer) S5 S6 = a2, b1,
    // pageviews #7 #8 #9, S4 bounced = 1/3; google.com S2 (#4 #5); google.com/search S1
    // (#1 #2); google.de S3 and t.co/x1Yz S7, both bounces.
    let referrers = api.get("breakdown", &format!("{BOTH_DAYS}&dimension=referrer")).await;
    assert_eq!(
        rows(&referrers),
        [
            ("Direct / None".into(), 2, 3, 3, 33.0),
            ("google.com".into(), 1, 1, 2, 0.0),
            ("google.com/search".into(), 1, 1, 2, 0.0),
            ("google.de".into(), 1, 1, 1, 100.0),
            ("t.co/x1Yz".into(), 1, 1, 1, 100.0),
        ]
    );
    let exact = api.get("breakdown", &format!("{BOTH_DAYS}&dimension=referrer&filter=country:is_not:XX")).await;
    assert_eq!(exact["rows"], referrers["rows"], "rollups and the exact path agree");
    // Entry pages: /blog S2 (a1: #4 #5) and S7 (c2: #11, bounce); /pricing S4 (a2: #7, bounce)
    // and S5 (b1: #8 #9); / S1 (#1 #2) and S3 (#6, bounce), both a1 on D1: one visitor.
    let entries = api.rows(&format!("{BOTH_DAYS}&dimension=entry_page")).await;
    assert_eq!(
        entries,
        [("/blog".into(), 2, 2, 3, 50.0), ("/pricing".into(), 2, 2, 3, 50.0), ("/".into(), 1, 2, 3, 50.0)]
    );
    // The campaign from #11's query string: S7 only; every other session has none.
    let campaigns = api.rows(&format!("{BOTH_DAYS}&dimension=utm_campaign")).await;
    assert_eq!(campaigns, [("(none)".into(), 3, 6, 8, 33.0), ("launch".into(), 1, 1, 1, 100.0)]);
    // The realtime visitor (192.0.2.40) is the only one in the last 5 minutes.
    assert_eq!(api.get("realtime", "").await["visitors"], 1);
}

#[tokio::test]
async fn a_raw_log_imported_through_the_backfill_gives_the_hand_computed_numbers_through_kafka_and_after_a_rebuild() {
    let (_cluster, write_url) = devstack::fresh_database().await.unwrap();
    let (_, read_url) = devstack::fresh_database().await.unwrap();
    let broker = devstack::Broker::start(devstack::BrokerOptions::default()).await.unwrap();
    for topic in ["tally.profile.v1", "tally.analytics.v1"] {
        broker.create_topic(topic, 3).await.unwrap();
    }
    let brokers = broker.bootstrap();
    let token = vec![("TALLY_INGEST__ADMIN_TOKEN", ADMIN_TOKEN.to_owned())];
    let (_command, base) =
        app::spawn_command_service_with_env(&write_url, Some(brokers.as_str()), token).await.unwrap();
    let site: Uuid = register_site(&base, SITE, "Asia/Kolkata").await.parse().unwrap();
    let (key, _) = issue_read_key(&base, &site.to_string()).await;
    let _projector = app::spawn_projector(&read_url, &write_url, Some(brokers.as_str())).await.unwrap();
    let (_query, query_base) = app::spawn_query_service(&read_url).await.unwrap();

    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let lines = lines(Utc::now());
    let (first, second) = lines.split_at(6);
    let mut answers = outcomes(&import_lines(&http, &base, first).await);
    let last = import_lines(&http, &base, second).await;
    answers.extend(outcomes(&last));
    let recorded: (bool, bool, bool, Vec<String>) = (true, false, false, vec![]);
    let mut expected = vec![recorded.clone(); LOG.len()];
    expected.push((false, false, true, vec![]));
    expected.push((false, false, false, vec!["domain".into()]));
    expected.push((false, false, false, vec!["timestamp".into()]));
    expected.push(recorded);
    assert_eq!(answers, expected);

    let min = last["global_position"].as_u64().unwrap();
    let api = Api { http: http.clone(), base: query_base, site, min, key };
    check_everything(&api).await;
    check_what_ingest_derives(&api).await;

    // The same file again (an operator re-running the import): every line was seen, nothing
    // new is recorded, the answers stay.
    let again = import_lines(&http, &base, &lines).await;
    assert_eq!((again["accepted"].as_u64(), again["global_position"].as_u64()), (Some(12), Some(0)), "{again}");
    assert!(outcomes(&again).iter().filter(|o| o.0).all(|o| o.1), "every accepted line is a duplicate: {again}");
    check_everything(&api).await;

    rebuild(&read_url, &write_url, Some(brokers.as_str()), 30);
    check_everything(&api).await;
    check_what_ingest_derives(&api).await;

    // Revoked through the command-service, the key reads nothing once the projector has
    // seen the revocation (asked with its position).
    let key_id = api.key.split('.').next().unwrap();
    let position = revoke_read_key(&base, &site.to_string(), key_id).await;
    let resp = http
        .get(format!("{}/v1/sites/{site}/aggregate?{BOTH_DAYS}", api.base))
        .header("X-Min-Position", position.to_string())
        .bearer_auth(&api.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "a revoked key: {:?}", resp.text().await);
}

/// One event of the synthetic log of the concurrency test.
struct Hit {
    person: usize,
    local: NaiveDateTime,
    gap_minutes: i64,
    custom: bool,
    path: &'static str,
}

const PEOPLE: usize = 48;
/// Minutes between a person's events: either side of the 30-minute timeout, and on it.
const GAPS: [i64; 7] = [4, 29, 30, 1, 45, 12, 31];
const PAGES: [&str; 5] = ["/", "/pricing", "/blog", "/docs", "/blog/post"];
const REFERRERS: [&str; 4] = ["https://www.google.com/", "https://t.co/abc", "", "https://news.ycombinator.com/item"];
const AGENTS: [&str; 3] = [FIREFOX, SAFARI, CHROME_ANDROID];

/// 48 people, 7 events each, starting 97 minutes apart (mod a day) on D1, so some cross
/// local midnight; every fifth event is a `signup`. Each person's events in time order.
fn people() -> Vec<Vec<Hit>> {
    let day = NaiveDate::from_ymd_opt(2026, 1, 10).unwrap().and_hms_opt(0, 0, 0).unwrap();
    (0..PEOPLE)
        .map(|p| {
            let mut local = day + TimeDelta::minutes((p as i64 * 97) % 1440) + TimeDelta::seconds(p as i64 % 60);
            (0..7)
                .map(|k| {
                    let gap_minutes = if k == 0 { 0 } else { GAPS[(p + k) % 7] };
                    local += TimeDelta::minutes(gap_minutes);
                    Hit { person: p, local, gap_minutes, custom: (p + k) % 5 == 4, path: PAGES[(p * 3 + k) % 5] }
                })
                .collect()
        })
        .collect()
}

/// A hit as a raw line for `domain`; pairs of people share an IP with different browsers.
fn line(h: &Hit, domain: &str) -> Value {
    let ip = format!("203.0.113.{}", h.person / 2 + 1);
    let agent = AGENTS[h.person % 3];
    let starts = h.gap_minutes == 0 || h.gap_minutes >= 30;
    let referrer = if starts { REFERRERS[h.person % 4].to_owned() } else { format!("https://{domain}/") };
    let name = if h.custom { "signup" } else { "pageview" };
    let at = json!(h.local.format("%Y-%m-%dT%H:%M:%S+05:30").to_string());
    let id = format!("{}:{}", h.person, h.local.format("%Y%m%dT%H%M%S"));
    let mut line = raw(id, at, domain, name, h.path, &referrer, (ip.as_str(), agent));
    if h.custom {
        let plan = ["free", "pro"][h.person % 2];
        line["props"] = json!({ "plan": plan });
    }
    line
}

/// (visitors, visits, pageviews, events, bounces) by the rules of architecture.md: a visitor
/// per person and local day; a new visit after a gap of 30 minutes or more, or at midnight;
/// a bounce is a visit of exactly one pageview and no custom event.
fn model(people: &[Vec<Hit>]) -> (u64, u64, u64, u64, u64) {
    let (mut visitors, mut visits, mut pageviews, mut events, mut bounces) = (0, 0, 0, 0, 0);
    for hits in people {
        let mut session: Option<(u64, u64)> = None; // (pageviews, custom events) of the open visit
        let mut close = |s: Option<(u64, u64)>| bounces += u64::from(s == Some((1, 0)));
        for (k, h) in hits.iter().enumerate() {
            let new_day = k == 0 || h.local.date() != hits[k - 1].local.date();
            visitors += u64::from(new_day);
            if new_day || h.gap_minutes >= 30 {
                close(session.take());
                visits += 1;
            }
            let (pv, custom) = session.get_or_insert((0, 0));
            if h.custom {
                *custom += 1
            } else {
                *pv += 1
            }
            pageviews += u64::from(!h.custom);
            events += 1;
        }
        close(session);
    }
    (visitors, visits, pageviews, events, bounces)
}

/// Every answer the comparison covers: aggregates (plain, with a goal, filtered), hourly
/// and daily series, and a breakdown by every dimension the log varies.
fn comparisons() -> Vec<(&'static str, String)> {
    let mut q = vec![
        ("aggregate", BOTH_DAYS.to_owned()),
        ("aggregate", format!("{BOTH_DAYS}&goal=event:signup")),
        ("aggregate", format!("{BOTH_DAYS}&goal=page:/pricing&filter=source:is:Google")),
        ("aggregate", format!("{BOTH_DAYS}&filter=device:is:mobile&filter=page:contains:blog")),
        ("timeseries", format!("{BOTH_DAYS}&interval=hour")),
        ("timeseries", format!("{BOTH_DAYS}&interval=day&filter=browser:is_not:Safari")),
        ("breakdown", format!("{BOTH_DAYS}&dimension=prop&prop_key=plan")),
    ];
    for d in ["page", "entry_page", "exit_page", "source", "referrer", "device", "browser", "os", "event_name"] {
        q.push(("breakdown", format!("{BOTH_DAYS}&dimension={d}&limit=1000")));
    }
    q
}

#[tokio::test]
async fn sixteen_concurrent_clients_through_two_instances_give_a_sequential_clients_numbers() {
    let (_cluster, write_url) = devstack::fresh_database().await.unwrap();
    let (_, read_url) = devstack::fresh_database().await.unwrap();
    let token = || vec![("TALLY_INGEST__ADMIN_TOKEN", ADMIN_TOKEN.to_owned())];
    let (_one, one) = app::spawn_command_service_with_env(&write_url, None, token()).await.unwrap();
    let (_two, two) = app::spawn_command_service_with_env(&write_url, None, token()).await.unwrap();
    let sequential: Uuid = register_site(&one, "sequential.example", "Asia/Kolkata").await.parse().unwrap();
    let concurrent: Uuid = register_site(&two, "concurrent.example", "Asia/Kolkata").await.parse().unwrap();
    let keys =
        [issue_read_key(&one, &sequential.to_string()).await.0, issue_read_key(&two, &concurrent.to_string()).await.0];
    let _projector = app::spawn_projector(&read_url, &write_url, None).await.unwrap();
    let (_query, query_base) = app::spawn_query_service(&read_url).await.unwrap();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let people = people();

    // One client, the whole log in time order, 25 lines a request, to one instance.
    let mut in_time_order: Vec<&Hit> = people.iter().flatten().collect();
    in_time_order.sort_by_key(|h| (h.local, h.person));
    let mut min = 0;
    for chunk in in_time_order.chunks(25) {
        let lines: Vec<Value> = chunk.iter().map(|h| line(h, "sequential.example")).collect();
        let answer = import_lines(&http, &one, &lines).await;
        assert_eq!(answer["accepted"].as_u64(), Some(lines.len() as u64), "{answer}");
        min = min.max(answer["global_position"].as_u64().unwrap());
    }

    // 16 clients, each with its own people (a browser sends its own events in order), one
    // line a request, alternating between the two instances; every third line is sent again
    // to the other instance, as a client retrying after a lost answer would.
    let bases = [one.clone(), two.clone()];
    let clients = (0..16).map(|c| {
        let (http, bases) = (http.clone(), bases.clone());
        let mine: Vec<Value> =
            people.iter().filter(|h| h[0].person % 16 == c).flatten().map(|h| line(h, "concurrent.example")).collect();
        tokio::spawn(async move {
            let mut last = 0;
            for (n, l) in mine.iter().enumerate() {
                let answer = import_lines(&http, &bases[(c + n) % 2], std::slice::from_ref(l)).await;
                assert_eq!(
                    (answer["accepted"].as_u64(), answer["outcomes"][0]["duplicate"].as_bool()),
                    (Some(1), Some(false)),
                    "{answer}"
                );
                last = last.max(answer["global_position"].as_u64().unwrap());
                if n % 3 == 2 {
                    let retry = import_lines(&http, &bases[(c + n + 1) % 2], std::slice::from_ref(l)).await;
                    assert_eq!(retry["outcomes"][0]["duplicate"], true, "a retry through the other instance: {retry}");
                }
            }
            last
        })
    });
    for client in futures::future::join_all(clients).await {
        min = min.max(client.unwrap());
    }

    let api = |site, key: &String| Api { http: http.clone(), base: query_base.clone(), site, min, key: key.clone() };
    let (sequential, concurrent) = (api(sequential, &keys[0]), api(concurrent, &keys[1]));
    // The numbers themselves, from the model above: 336 events in all.
    let (visitors, visits, pageviews, events, bounces) = model(&people);
    assert_eq!(events, (PEOPLE * 7) as u64);
    let m = sequential.aggregate(BOTH_DAYS).await;
    let got = ["visitors", "visits", "pageviews", "events"].map(|k| m[k].as_u64().unwrap());
    assert_eq!(got, [visitors, visits, pageviews, events], "{m}");
    assert_eq!(m["bounce_rate"].as_f64(), Some((100.0 * bounces as f64 / visits as f64).round()), "{m}");
    // And the concurrent site answers every question exactly as the sequential one.
    for (path, query) in comparisons() {
        let (a, b) = (sequential.get(path, &query).await, concurrent.get(path, &query).await);
        assert_eq!(a, b, "{path}?{query}");
    }
}
