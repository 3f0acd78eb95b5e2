//! The hand-computed analytics log shared by the statistics tests, and every answer it must
//! give. `analytics_stats.rs` appends it to the event store as recorded events;
//! `analytics_golden.rs` imports it as raw log lines through the backfill endpoint.
//!
//! The site is in Asia/Kolkata (UTC+05:30, a half-hour offset), so local hours and local
//! midnight differ from UTC's. Two days, D1 = 2026-01-10 and D2 = 2026-01-11; times are local.
//!
//! ```text
//!  #  visitor  local time     event              session
//!  1  a1 (A)   D1 10:00:00    pageview /         S1 starts (Google, desktop)
//!  2  a1       D1 10:05:00    pageview /pricing  S1: bounce undone, exit / -> /pricing, +300 s
//!  8  b1 (B)   D1 10:10:00    pageview /pricing  S5 starts (direct, mobile)
//!  3  a1       D1 10:20:00    signup             S1: +900 s (S1 = 1200 s, 2 pv, 3 events)
//!  9  b1       D1 10:39:59    pageview /         S5: 29:59 later: same visit, exit -> /, 1799 s
//!  4  a1       D1 10:50:00    pageview /blog     30:00 after #3: new visit S2 (Google)
//!  5  a1       D1 11:15:00    pageview /blog/post S2: exit moves, 1500 s (counts in hour 11)
//! 10  b1       D1 12:00:00    signup {plan=pro}  S6: custom-event-only visit (no bounce)
//!  6  a1       D1 23:50:00    pageview /         S3 (Google): a bounce
//!  7  a2 (A)   D2 00:05:00    pageview /pricing  midnight: new visitor id, S4 (direct), bounce
//! 11  c2 (C)   D2 09:00:00    pageview /blog     S7 (Twitter, mobile), bounce
//! ```
//! #7 is 18:35 UTC on D1: only the site's own day puts it on D2.
//!
//! Sessions: S1 (D1 h10, 1200 s, entry /, exit /pricing), S2 (D1 h10, 1500 s, /blog ->
//! /blog/post), S3 (D1 h23, bounce, /), S4 (D2 h0, bounce, /pricing), S5 (D1 h10, 1799 s,
//! /pricing -> /), S6 (D1 h12, custom only), S7 (D2 h9, bounce, /blog).

use crate::analytics::{Api, expect, rows};
use chrono::{DateTime, NaiveDateTime, TimeZone as _, Utc};

/// Asia/Kolkata's offset from UTC, in seconds.
pub const OFFSET: i32 = 19_800;
pub const D1: &str = "2026-01-10";
pub const D2: &str = "2026-01-11";
pub const BOTH_DAYS: &str = "period=custom&start_date=2026-01-10&end_date=2026-01-11";
pub const DAY_ONE: &str = "period=custom&start_date=2026-01-10&end_date=2026-01-10";

/// The UTC instant of a Kolkata local `date` (`YYYY-MM-DD`) and `time` (`HH:MM:SS`).
pub fn utc(date: &str, time: &str) -> DateTime<Utc> {
    let local = NaiveDateTime::parse_from_str(&format!("{date} {time}"), "%Y-%m-%d %H:%M:%S").unwrap();
    Utc.from_utc_datetime(&(local - chrono::Duration::seconds(OFFSET.into())))
}

/// Every hand-computed answer of the log above; run before and after rebuilds.
pub async fn check_everything(api: &Api) {
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

    check_series(api).await;
    check_breakdowns(api).await;
}

async fn check_series(api: &Api) {
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
}

async fn check_breakdowns(api: &Api) {
    // Pages: /pricing #2 #7 #8 (3 visitors, visits S1 S4 S5, entered: S4 bounce, S5 -> 50 %);
    // / #1 #6 #9 (a1, b1; S1 S3 S5; entered S1, S3 bounce -> 50 %); /blog #4 #11 (S2, S7 ->
    // 50 %); /blog/post #5 (S2, entered by none -> 0 %). Two per page.
    let first = api.get("breakdown", &format!("{BOTH_DAYS}&dimension=page&limit=2")).await;
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
    // Compared with the previous period (D1 is in the one before D2..D3): the rollups look the
    // previous figures up for the shown values only; the exact path reads that period whole.
    let compared = format!("period=custom&start_date={D2}&end_date=2026-01-12&dimension=page&compare_previous=true");
    let fast_compared = api.get("breakdown", &compared).await;
    let exact_compared = api.get("breakdown", &format!("{compared}&filter=country:is_not:XX")).await;
    assert_eq!(fast_compared["rows"], exact_compared["rows"], "previous figures of both paths agree");
    let previous: u64 = fast_compared["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["previous"]["visitors"].as_u64().expect("a previous period per row"))
        .sum();
    assert!(previous > 0, "D1 counts in the previous period: {fast_compared}");
    let durations: Vec<f64> =
        fast["rows"].as_array().unwrap().iter().map(|r| r["metrics"]["visit_duration"].as_f64().unwrap()).collect();
    assert_eq!(durations, [1000.0, 1000.0, 750.0, 1500.0]);
    // Longer ranges are read as whole weeks and months, plus or minus days: January is one
    // month row; Jan 6-11 is the week of Jan 5 minus Jan 5; the 30 days from D1 are January
    // minus its first nine days plus days of February; the six weeks around D1 mix all three.
    // Every one holds exactly D1 and D2.
    for (first, last) in [
        ("2026-01-01", "2026-01-31"),
        ("2026-01-06", "2026-01-11"),
        ("2026-01-10", "2026-02-08"),
        ("2025-12-20", "2026-01-31"),
    ] {
        let wide =
            api.get("breakdown", &format!("period=custom&start_date={first}&end_date={last}&dimension=page")).await;
        assert_eq!(wide["rows"], fast["rows"], "{first}..{last}");
    }

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
    let devices = api.rows(&format!("{BOTH_DAYS}&dimension=device")).await;
    assert_eq!(devices, [("desktop".into(), 2, 4, 6, 50.0), ("mobile".into(), 2, 3, 3, 33.0)]);
    // A custom property, filtered to mobile.
    let plans = api.rows(&format!("{BOTH_DAYS}&dimension=prop&prop_key=plan&filter=device:is:mobile")).await;
    assert_eq!(plans, [("pro".into(), 1, 1, 0, 0.0)]);
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
