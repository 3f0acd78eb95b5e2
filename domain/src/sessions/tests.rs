//! Given/when/then tests of the sessionisation rules: given a visitor-day's
//! earlier events, when the next one arrives, then these deltas.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, TimeZone as _, Utc};

use super::*;

/// Berlin in winter: local = UTC + 1 h.
const OFFSET: i32 = 3600;

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 15).unwrap()
}

/// A hit at local wall-clock `hh:mm:ss` on [`day`].
fn at(local: &str) -> chrono::DateTime<Utc> {
    let t = chrono::NaiveTime::parse_from_str(local, "%H:%M:%S").unwrap();
    Utc.from_utc_datetime(&day().and_time(t)) - Duration::seconds(i64::from(OFFSET))
}

fn attrs() -> SessionAttributes {
    SessionAttributes { source: "Google".into(), device: "desktop".into(), ..SessionAttributes::default() }
}

fn pageview(local: &str, path: &str) -> Hit {
    Hit {
        at: at(local),
        local_date: day(),
        utc_offset_seconds: OFFSET,
        kind: HitKind::Pageview,
        pathname: path.into(),
        attributes: attrs(),
    }
}

fn custom(local: &str, name: &str, interactive: bool) -> Hit {
    Hit { kind: HitKind::Custom { name: name.into(), interactive }, ..pageview(local, "/shop") }
}

type Key = (u8, &'static str, String, Metric);

struct Given {
    state: VisitorDay,
    rules: Rules,
}

fn given(hits: impl IntoIterator<Item = Hit>) -> Given {
    let rules = Rules::default();
    let mut state = VisitorDay::default();
    for h in hits {
        state.step(&rules, &h);
    }
    Given { state, rules }
}

struct Then {
    sums: BTreeMap<Key, i64>,
    state: VisitorDay,
}

impl Given {
    fn when(mut self, hit: Hit) -> Then {
        let deltas = self.state.step(&self.rules, &hit);
        let mut sums = BTreeMap::new();
        for d in deltas {
            assert_eq!(d.bucket.date, day(), "every delta of this test's day is on that day");
            *sums.entry((d.bucket.hour, d.dim.as_str(), d.value, d.metric)).or_insert(0) += d.amount;
        }
        sums.retain(|_, v| *v != 0);
        Then { sums, state: self.state }
    }
}

impl Then {
    /// Asserts exactly these deltas (as `(hour, dim, value, metric, amount)`)
    /// among the rows of the listed dimensions; other dimensions unchecked.
    #[track_caller]
    fn then(self, dims: &[&str], expected: &[(u8, &'static str, &str, Metric, i64)]) -> Self {
        let got: BTreeMap<Key, i64> =
            self.sums.iter().filter(|(k, _)| dims.contains(&k.1)).map(|(k, v)| (k.clone(), *v)).collect();
        let want: BTreeMap<Key, i64> =
            expected.iter().map(|(h, d, v, m, a)| ((*h, *d, (*v).to_owned(), *m), *a)).collect();
        assert_eq!(got, want);
        self
    }

    fn session(&self) -> &Session {
        self.state.session.as_ref().unwrap()
    }
}

use Metric::*;

const ALL: &[&str] = &["", "entry_page", "exit_page", "page", "event_name", "source"];

#[test]
fn a_first_pageview_starts_a_bounced_visit_counted_once_everywhere() {
    let then = given([]).when(pageview("10:05:00", "/a")).then(
        ALL,
        &[
            (10, "", "", Visits, 1),
            (10, "", "", Bounces, 1),
            (10, "", "", Visitors, 1),
            (10, "", "", HourVisitors, 1),
            (10, "", "", Pageviews, 1),
            (10, "", "", Events, 1),
            (10, "source", "Google", Visits, 1),
            (10, "source", "Google", Bounces, 1),
            (10, "source", "Google", Visitors, 1),
            (10, "source", "Google", Pageviews, 1),
            (10, "source", "Google", Events, 1),
            (10, "entry_page", "/a", Visits, 1),
            (10, "entry_page", "/a", Bounces, 1),
            (10, "entry_page", "/a", Visitors, 1),
            (10, "exit_page", "/a", Visits, 1),
            (10, "exit_page", "/a", Bounces, 1),
            (10, "page", "/a", Visits, 1),
            (10, "page", "/a", Bounces, 1),
            (10, "page", "/a", Visitors, 1),
            (10, "page", "/a", Pageviews, 1),
            (10, "page", "/a", Events, 1),
            (10, "event_name", "pageview", Visits, 1),
            (10, "event_name", "pageview", Bounces, 1),
            (10, "event_name", "pageview", Visitors, 1),
            (10, "event_name", "pageview", Pageviews, 1),
            (10, "event_name", "pageview", Events, 1),
        ],
    );
    assert_eq!(then.session().seq, 1);
    assert!(then.session().is_bounce());
}

#[test]
fn a_second_pageview_unbounces_moves_the_exit_and_adds_its_gap_to_the_start_bucket() {
    // The second pageview is in the next hour: its pageview counts there,
    // the session's bounce, exit and duration changes stay at 10:00.
    given([pageview("10:50:00", "/a")]).when(pageview("11:02:30", "/b")).then(
        &["", "entry_page", "exit_page"],
        &[
            (10, "", "", Bounces, -1),
            (10, "", "", DurationMs, 750_000),
            (11, "", "", HourVisitors, 1),
            (11, "", "", Pageviews, 1),
            (11, "", "", Events, 1),
            (10, "entry_page", "/a", Bounces, -1),
            (10, "entry_page", "/a", DurationMs, 750_000),
            (10, "exit_page", "/a", Visits, -1),
            (10, "exit_page", "/a", Bounces, -1),
            (10, "exit_page", "/b", Visits, 1),
            (10, "exit_page", "/b", DurationMs, 750_000),
        ],
    );
}

#[test]
fn a_visitor_is_counted_once_per_day_and_once_per_hour_per_row() {
    given([pageview("10:00:00", "/a"), pageview("10:10:00", "/b")]).when(pageview("10:20:00", "/a")).then(
        &["", "page"],
        &[
            (10, "", "", DurationMs, 600_000),
            (10, "", "", Pageviews, 1),
            (10, "", "", Events, 1),
            // Both pages' visit lasts 10 minutes more; /a is viewed again.
            (10, "page", "/a", DurationMs, 600_000),
            (10, "page", "/b", DurationMs, 600_000),
            (10, "page", "/a", Pageviews, 1),
            (10, "page", "/a", Events, 1),
        ],
    );
}

#[test]
fn events_less_than_the_timeout_apart_share_a_session() {
    let then = given([pageview("10:00:00", "/a")]).when(pageview("10:29:59", "/a")).then(
        &[""],
        &[
            (10, "", "", Bounces, -1),
            (10, "", "", DurationMs, 1_799_000),
            (10, "", "", Pageviews, 1),
            (10, "", "", Events, 1),
        ],
    );
    assert_eq!(then.session().seq, 1);
}

#[test]
fn an_event_the_timeout_after_the_last_starts_a_new_visit_with_its_own_attributes() {
    let mut next = pageview("10:40:00", "/c");
    next.attributes.source = "Twitter".into();
    let then = given([pageview("10:00:00", "/a"), pageview("10:10:00", "/b")]).when(next).then(
        &["", "source", "entry_page", "exit_page"],
        &[
            (10, "", "", Visits, 1),
            (10, "", "", Bounces, 1),
            (10, "", "", Pageviews, 1),
            (10, "", "", Events, 1),
            (10, "source", "Twitter", Visits, 1),
            (10, "source", "Twitter", Bounces, 1),
            (10, "source", "Twitter", Visitors, 1),
            (10, "source", "Twitter", Pageviews, 1),
            (10, "source", "Twitter", Events, 1),
            (10, "entry_page", "/c", Visits, 1),
            (10, "entry_page", "/c", Bounces, 1),
            (10, "entry_page", "/c", Visitors, 1),
            (10, "exit_page", "/c", Visits, 1),
            (10, "exit_page", "/c", Bounces, 1),
        ],
    );
    assert_eq!(then.session().seq, 2);
    assert_eq!(then.session().duration_ms(), 0);
}

#[test]
fn a_custom_event_only_session_is_a_visit_without_entry_exit_or_bounce() {
    let then = given([]).when(custom("09:00:00", "signup", true)).then(
        &["", "entry_page", "exit_page", "page", "event_name"],
        &[
            (9, "", "", Visits, 1),
            (9, "", "", Visitors, 1),
            (9, "", "", HourVisitors, 1),
            (9, "", "", Events, 1),
            (9, "event_name", "signup", Visits, 1),
            (9, "event_name", "signup", Visitors, 1),
            (9, "event_name", "signup", Events, 1),
        ],
    );
    assert_eq!(then.session().entry_page, None);
}

#[test]
fn a_pageview_after_custom_events_sets_the_entry_page_and_is_no_bounce() {
    given([custom("09:00:00", "signup", true)]).when(pageview("09:01:00", "/x")).then(
        &["", "entry_page", "exit_page"],
        &[
            (9, "", "", DurationMs, 60_000),
            (9, "", "", Pageviews, 1),
            (9, "", "", Events, 1),
            (9, "entry_page", "/x", Visits, 1),
            (9, "entry_page", "/x", DurationMs, 60_000),
            (9, "entry_page", "/x", Visitors, 1),
            (9, "exit_page", "/x", Visits, 1),
            (9, "exit_page", "/x", DurationMs, 60_000),
        ],
    );
}

#[test]
fn an_interactive_custom_event_unbounces_and_a_non_interactive_one_does_not() {
    given([pageview("10:00:00", "/a")]).when(custom("10:00:30", "click", true)).then(
        &["", "exit_page"],
        &[
            (10, "", "", Bounces, -1),
            (10, "", "", DurationMs, 30_000),
            (10, "", "", Events, 1),
            (10, "exit_page", "/a", Bounces, -1),
            (10, "exit_page", "/a", DurationMs, 30_000),
        ],
    );
    given([pageview("10:00:00", "/a")])
        .when(custom("10:00:30", "scroll", false))
        .then(&[""], &[(10, "", "", DurationMs, 30_000), (10, "", "", Events, 1)]);
}

#[test]
fn an_event_older_than_the_sessions_last_joins_it_without_duration_in_its_own_hour() {
    let then = given([pageview("09:50:00", "/a"), pageview("10:15:00", "/b")]).when(pageview("09:55:00", "/c")).then(
        &["", "exit_page"],
        &[
            (9, "", "", Pageviews, 1),
            (9, "", "", Events, 1),
            (9, "exit_page", "/b", Visits, -1),
            (9, "exit_page", "/b", DurationMs, -1_500_000),
            (9, "exit_page", "/c", Visits, 1),
            (9, "exit_page", "/c", DurationMs, 1_500_000),
        ],
    );
    assert_eq!(then.session().seq, 1);
    assert_eq!(then.session().last_at, at("10:15:00"));
}

#[test]
fn the_hour_is_local_even_when_the_utc_date_differs() {
    // 00:30 local on the 15th is 23:30 UTC on the 14th.
    let hit = pageview("00:30:00", "/a");
    assert_eq!(hit.at.date_naive(), day().pred_opt().unwrap());
    assert_eq!(hit.bucket(), Bucket { date: day(), hour: 0 });
    // A 30-minute offset (India, +05:30): 18:45 UTC is 00:15 local.
    let india = Hit { at: Utc.with_ymd_and_hms(2026, 1, 14, 18, 45, 0).unwrap(), utc_offset_seconds: 19_800, ..hit };
    assert_eq!(india.bucket(), Bucket { date: day(), hour: 0 });
}

#[test]
fn a_new_local_day_is_a_new_visitor_day_so_sessions_never_span_midnight() {
    // The visitor id changes at midnight: the projector keys state by
    // (site, local date, visitor), so the next day starts from nothing.
    let mut late = given([pageview("23:55:00", "/a")]);
    let mut next_day = VisitorDay::default();
    let mut after = pageview("00:05:00", "/b");
    after.local_date = day().succ_opt().unwrap();
    after.at = at("23:55:00") + Duration::minutes(10);
    let deltas = next_day.step(&late.rules, &after);
    assert!(deltas.iter().any(|d| d.dim == Dim::Total && d.metric == Metric::Visits && d.amount == 1));
    assert!(deltas.iter().all(|d| d.bucket == Bucket { date: after.local_date, hour: 0 }));
    late.state.step(&Rules::default(), &pageview("23:56:00", "/a"));
    assert_eq!(late.state.session.unwrap().seq, 1);
}

#[test]
fn a_shorter_timeout_splits_what_the_default_keeps_together() {
    let rules = Rules { timeout: Duration::minutes(5) };
    let mut state = VisitorDay::default();
    state.step(&rules, &pageview("10:00:00", "/a"));
    state.step(&rules, &pageview("10:06:00", "/a"));
    assert_eq!(state.session.unwrap().seq, 2);
}

#[test]
fn summed_deltas_equal_the_final_sessions_from_scratch() {
    // Whatever the path, Σ deltas = what the final sessions contribute.
    let hits = [
        pageview("10:00:00", "/a"),
        custom("10:01:00", "click", true),
        pageview("10:05:00", "/b"),
        pageview("10:50:00", "/a"),
        pageview("11:30:00", "/c"),
        pageview("11:31:00", "/d"),
    ];
    let (rules, mut state) = (Rules::default(), VisitorDay::default());
    let mut total: BTreeMap<(&str, String, Metric), i64> = BTreeMap::new();
    for h in &hits {
        for d in state.step(&rules, h) {
            *total.entry((d.dim.as_str(), d.value, d.metric)).or_default() += d.amount;
        }
    }
    let get = |d: &str, v: &str, m| total.get(&(d, v.to_owned(), m)).copied().unwrap_or(0);
    // Sessions: [10:00 /a, click, 10:05 /b], [10:50 /a] (a bounce), [11:30 /c, 11:31 /d].
    assert_eq!(get("", "", Visits), 3);
    assert_eq!(get("", "", Bounces), 1);
    assert_eq!(get("", "", DurationMs), 300_000 + 60_000);
    assert_eq!(get("", "", Pageviews), 5);
    assert_eq!(get("", "", Events), 6);
    assert_eq!(get("", "", Visitors), 1);
    assert_eq!(get("", "", HourVisitors), 2);
    assert_eq!(get("exit_page", "/b", Visits), 1);
    assert_eq!(get("exit_page", "/a", Visits), 1);
    assert_eq!(get("exit_page", "/d", Visits), 1);
    assert_eq!(get("exit_page", "/c", Visits), 0);
    assert_eq!(get("entry_page", "/a", Visits), 2);
    assert_eq!(get("entry_page", "/a", Bounces), 1);
    assert_eq!(get("page", "/a", Visitors), 1);
    assert_eq!(get("page", "/a", Pageviews), 2);
    // Visits containing a page or an event name, and their bounces and durations.
    assert_eq!(get("page", "/a", Visits), 2);
    assert_eq!(get("page", "/a", Bounces), 1);
    assert_eq!(get("page", "/a", DurationMs), 300_000);
    assert_eq!(get("page", "/d", Visits), 1);
    assert_eq!(get("event_name", "pageview", Visits), 3);
    assert_eq!(get("event_name", "click", Visits), 1);
    assert_eq!(get("event_name", "click", DurationMs), 300_000);
}

#[test]
fn a_state_stored_with_seen_as_a_set_of_pairs_reads_back_and_writes_the_same() {
    // States written before `Seen` existed were a `BTreeSet<(Dim, String)>`.
    let old: std::collections::BTreeSet<(Dim, String)> =
        [(Dim::Total, String::new()), (Dim::Page, "/b".into()), (Dim::Page, "/a".into()), (Dim::Hour, "10".into())]
            .into();
    let json = serde_json::json!({ "session": null, "seen": old });
    let state: VisitorDay = serde_json::from_value(json.clone()).unwrap();
    assert!(state.seen.contains(Dim::Page, "/a") && state.seen.contains(Dim::Hour, "10"));
    assert!(!state.seen.contains(Dim::Page, "/c"));
    assert_eq!(serde_json::to_value(&state).unwrap(), json);
}
