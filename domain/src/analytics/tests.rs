use std::collections::BTreeMap;

use chrono::{Duration, TimeZone as _, Utc};
use chrono_tz::Tz;

use super::*;
use crate::SiteId;

const FIREFOX_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 \
                             (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
const CHROME_ANDROID_TABLET: &str = "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) \
                                     Chrome/126.0.0.0 Safari/537.36";

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap()
}

fn live() -> TimePolicy {
    TimePolicy::Live { now: now(), max_past: Duration::hours(1), max_future: Duration::minutes(5) }
}

fn input() -> EventInput {
    EventInput {
        name: "pageview".into(),
        url: "https://www.example.com/blog/hello?utm_source=news&x=1#fragzz".into(),
        referrer: "https://news.ycombinator.com/item?id=1".into(),
        user_agent: FIREFOX_LINUX.into(),
        ip: "203.0.113.7".into(),
        ..EventInput::default()
    }
}

fn fields(err: &crate::ValidationError) -> Vec<&str> {
    err.fields()
}

#[test]
fn a_valid_pageview_keeps_hostname_and_path_and_reads_utm_from_the_query() {
    let e = validate(input(), live()).unwrap();
    assert_eq!(e.page.hostname, "www.example.com");
    assert_eq!(e.page.pathname, "/blog/hello");
    assert_eq!(e.utm.source, "news");
    assert_eq!(e.timestamp, now(), "no timestamp means now");
}

#[test]
fn explicit_utm_fields_win_over_the_query_string() {
    let mut i = input();
    i.utm.medium = "email".into();
    let e = validate(i, live()).unwrap();
    assert_eq!((e.utm.source.as_str(), e.utm.medium.as_str()), ("", "email"));
}

#[test]
fn every_limit_is_reported_under_its_field() {
    let mut i = input();
    i.url = format!("https://example.com/{}", "a".repeat(2000));
    i.referrer = format!("https://r.com/{}", "a".repeat(2000));
    i.name = "n".repeat(121);
    i.client_event_id = "c".repeat(129);
    i.props = (0..31).map(|k| (format!("k{k}"), "v".into())).collect();
    i.utm.term = "t".repeat(2001);
    let err = validate(i, live()).unwrap_err();
    assert_eq!(fields(&err), ["client_event_id", "name", "url", "referrer", "utm_term", "props"]);
}

#[test]
fn limits_are_inclusive() {
    let mut i = input();
    i.name = "é".repeat(120);
    i.client_event_id = "c".repeat(128);
    i.props = (0..30).map(|k| (format!("{k:0>300}"), "v".repeat(2000))).collect();
    i.url = format!("https://example.com/{}", "a".repeat(2000 - "https://example.com/".len()));
    validate(i, live()).unwrap();
}

#[test]
fn prop_keys_and_values_are_checked_one_by_one() {
    let mut i = input();
    i.props = BTreeMap::from([("k".repeat(301), "v".into()), ("ok".into(), "v".repeat(2001)), ("".into(), "x".into())]);
    let err = validate(i, live()).unwrap_err();
    let f = fields(&err);
    assert_eq!(f.len(), 3, "{f:?}");
    assert!(f.contains(&"props[\"ok\"]"));
    assert!(err.violations.iter().any(|v| v.description.contains("key must be at most 300")));
}

#[test]
fn required_fields_and_malformed_values() {
    let i = EventInput { ip: "999.1.1.1".into(), referrer: "not a url".into(), ..EventInput::default() };
    let err = validate(i, live()).unwrap_err();
    assert_eq!(fields(&err), ["name", "url", "referrer", "ip"]);
    let err = validate(EventInput { url: "/relative".into(), ..input() }, live()).unwrap_err();
    assert_eq!(fields(&err), ["url"]);
    let err = validate(EventInput { url: "mailto:a@b.c".into(), ..input() }, live()).unwrap_err();
    assert_eq!(fields(&err), ["url"]);
}

#[test]
fn live_ingest_bounds_the_clock_skew_and_backfill_does_not() {
    let old = now() - Duration::days(40);
    let err = validate(EventInput { timestamp: Some(old), ..input() }, live()).unwrap_err();
    assert_eq!(fields(&err), ["timestamp"]);
    let future = now() + Duration::minutes(6);
    assert!(validate(EventInput { timestamp: Some(future), ..input() }, live()).is_err());
    let ok = now() - Duration::minutes(59);
    assert_eq!(validate(EventInput { timestamp: Some(ok), ..input() }, live()).unwrap().timestamp, ok);

    let backfill = TimePolicy::Backfill { now: now(), max_future: Duration::minutes(5) };
    assert_eq!(validate(EventInput { timestamp: Some(old), ..input() }, backfill).unwrap().timestamp, old);
    let err = validate(input(), backfill).unwrap_err();
    assert_eq!(err.violation("timestamp").unwrap().description, "is required for a backfill");
}

#[test]
fn revenue_is_normalised_or_rejected_per_field() {
    let ok = Revenue::parse("eur", "0019.900").unwrap();
    assert_eq!((ok.currency.as_str(), ok.amount.as_str()), ("EUR", "19.9"));
    assert_eq!(Revenue::parse("USD", "-0.50").unwrap().amount, "-0.5");
    assert_eq!(Revenue::parse("USD", "0.000").unwrap().amount, "0");
    for bad in ["", "1e3", "1,000", "1.", ".5", "12.3.4", "abc", "1 000"] {
        let err = Revenue::parse("EUR", bad).unwrap_err();
        assert_eq!(err[0].field, "revenue.amount", "{bad}");
    }
    assert_eq!(Revenue::parse("EURO", "1").unwrap_err()[0].field, "revenue.currency");
}

#[test]
fn referrers_from_the_site_itself_are_ignored() {
    let url = |s: &str| url::Url::parse(s).unwrap();
    let r = |s: &str| reduce_referrer(Some(&url(s)), "www.example.com", "example.com");
    assert_eq!(r("https://example.com/a"), None);
    assert_eq!(r("https://www.example.com/a"), None);
    assert_eq!(r("https://shop.example.com/"), None);
    assert_eq!(r("https://www.google.com/"), Some("google.com".into()));
    assert_eq!(r("https://news.ycombinator.com/item?id=1"), Some("news.ycombinator.com/item".into()));
    assert_eq!(r("https://notexample.com/x/"), Some("notexample.com/x".into()));
    assert_eq!(reduce_referrer(None, "example.com", "example.com"), None);
}

#[test]
fn sources_come_from_utm_source_or_the_referrer_host() {
    assert_eq!(source_of("Newsletter", Some("google.com")), "Newsletter");
    assert_eq!(source_of("", Some("google.co.uk")), "Google");
    assert_eq!(source_of("", Some("www.google.de")), "Google");
    assert_eq!(source_of("", Some("t.co")), "Twitter");
    assert_eq!(source_of("", Some("m.facebook.com")), "Facebook");
    assert_eq!(source_of("", Some("news.ycombinator.com")), "Hacker News");
    assert_eq!(source_of("", Some("googlefans.org")), "googlefans.org", "a prefix is not a match");
    assert_eq!(source_of("", Some("blog.example.org")), "blog.example.org");
    assert_eq!(source_of("", None), "");
}

#[test]
fn bots_and_headless_browsers_are_recognised() {
    for bot in [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36",
        "curl/8.5.0",
        "python-requests/2.32",
    ] {
        assert!(is_bot(bot), "{bot}");
    }
    for human in [FIREFOX_LINUX, SAFARI_IPHONE, CHROME_ANDROID_TABLET, ""] {
        assert!(!is_bot(human), "{human}");
    }
}

#[test]
fn agents_are_classified_into_browser_os_and_device() {
    let ff = classify_agent(FIREFOX_LINUX, 0);
    assert_eq!(
        (ff.browser.as_str(), ff.browser_version.as_str(), ff.os.as_str(), ff.device.as_str()),
        ("Firefox", "128.0", "GNU/Linux", "desktop")
    );
    let iphone = classify_agent(SAFARI_IPHONE, 0);
    assert_eq!((iphone.browser.as_str(), iphone.os.as_str(), iphone.device.as_str()), ("Safari", "iOS", "mobile"));
    assert_eq!(classify_agent(CHROME_ANDROID_TABLET, 0).device, "tablet");
    assert_eq!(classify_agent("", 400).device, "mobile", "the screen width breaks the tie");
    assert_eq!(classify_agent("", 800).device, "tablet");
    assert_eq!(classify_agent("", 1440).device, "desktop");
    assert_eq!(classify_agent("", 0), Agent::default());
    let tablet_ua_wins = UserAgentInfo::parse(CHROME_ANDROID_TABLET);
    assert_eq!(tablet_ua_wins.agent(400).device, "tablet", "a conclusive UA is not overruled by the width");
    assert!(!tablet_ua_wins.bot);
}

#[test]
fn local_days_follow_the_site_zone_including_half_hour_offsets() {
    let tz: Tz = "Asia/Kolkata".parse().unwrap(); // UTC+05:30
    let at = Utc.with_ymd_and_hms(2026, 3, 10, 18, 29, 59).unwrap();
    let day = local_day(at, tz);
    assert_eq!(day.date.to_string(), "2026-03-10");
    assert_eq!(day.utc_offset_seconds, 19_800);
    assert_eq!(local_day(at + Duration::seconds(1), tz).date.to_string(), "2026-03-11");
    let berlin: Tz = "Europe/Berlin".parse().unwrap();
    let summer = Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap();
    assert_eq!(local_day(summer, berlin).utc_offset_seconds, 7_200);
}

#[test]
fn visitor_ids_depend_on_salt_site_ip_and_agent() {
    let site = SiteId::new_v7();
    let (a, b) = (Salt([1; SALT_LEN]), Salt([2; SALT_LEN]));
    let ip = Some("203.0.113.7".parse().unwrap());
    let id = visitor_id(&a, site, ip, FIREFOX_LINUX);
    assert_eq!(id.len(), 32);
    assert_eq!(id, visitor_id(&a, site, ip, FIREFOX_LINUX), "stable within a salt");
    assert_ne!(id, visitor_id(&b, site, ip, FIREFOX_LINUX), "a new day's salt gives a new id");
    assert_ne!(id, visitor_id(&a, SiteId::new_v7(), ip, FIREFOX_LINUX));
    assert_ne!(id, visitor_id(&a, site, Some("203.0.113.8".parse().unwrap()), FIREFOX_LINUX));
    assert_ne!(id, visitor_id(&a, site, ip, SAFARI_IPHONE));
    assert!(!format!("{a:?}").contains('1'), "salts are not printed");
}

#[test]
fn a_record_holds_no_ip_user_agent_or_query_string() {
    let site = SiteInfo { id: SiteId::new_v7(), domain: "example.com".into(), time_zone: Tz::UTC };
    let mut i = input();
    i.props = BTreeMap::from([("plan".into(), "pro".into())]);
    i.revenue = Some(RevenueInput { currency: "eur".into(), amount: "10".into() });
    let event = validate(i, live()).unwrap();
    let agent = UserAgentInfo::parse(&event.user_agent).agent(event.screen_width);
    let r = record(&site, event, &Salt([7; SALT_LEN]), agent, "DE".into());
    let text = format!("{r:?}");
    for secret in ["203.0.113.7", "Mozilla", "Gecko", "x=1", "fragzz"] {
        assert!(!text.contains(secret), "{secret} leaked into {text}");
    }
    assert_eq!(r.pathname, "/blog/hello");
    assert_eq!(r.referrer, "news.ycombinator.com/item");
    assert_eq!(r.referrer_source, "news", "utm_source from the URL wins");
    assert_eq!(r.local_date.to_string(), "2026-03-10");
    assert_eq!(r.browser, "Firefox");
    assert_eq!(r.country_code, "DE");
    assert_eq!(r.revenue.unwrap().currency, "EUR");
}
