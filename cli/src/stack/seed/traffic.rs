//! A few days of plausible analytics traffic for the demo sites, recorded through the
//! ingest API's backfill (`POST /v1/import/events`, through the gateway): live ingest
//! (`RecordEvents`, `POST /v1/events`) refuses timestamps more than a bounded skew old,
//! backfill takes original timestamps from an admin-token holder — here the launcher,
//! which gives the command-service a fresh token at each start.
//!
//! Deterministic per site and day (seeded RNG, stable `client_event_id`s), so a second
//! `tally up` the same day records nothing twice: the service reports duplicates. A
//! command-service without the ingest API (404) is skipped with a note; no data is ever
//! written behind the API's back.

use anyhow::{Context, Result};
use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Days of history, today included.
const DAYS: i64 = 4;

const PAGES: &[(&str, u32)] = &[
    ("/", 40),
    ("/blog", 15),
    ("/blog/first-program", 12),
    ("/blog/notes-on-engines", 8),
    ("/about", 10),
    ("/contact", 4),
    ("/pricing", 6),
];
const REFERRERS: &[(&str, u32)] = &[
    ("", 45),
    ("https://www.google.com/", 25),
    ("https://duckduckgo.com/", 6),
    ("https://news.ycombinator.com/", 8),
    ("https://www.reddit.com/r/programming/", 5),
    ("https://mastodon.social/", 4),
    ("https://github.com/", 7),
];
const AGENTS: &[(&str, u32, u32)] = &[
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        1920,
        35,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
        1440,
        20,
    ),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0", 1920, 10),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        390,
        20,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
        412,
        15,
    ),
];
/// Relative traffic per hour of the (UTC) day: quiet nights, busy afternoons.
const HOURLY: [u32; 24] = [2, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 10, 9, 10, 11, 11, 10, 9, 8, 7, 6, 5, 4, 3];

/// The backfill takes at most this many lines per request.
const BATCH: usize = 1000;

/// Records the traffic for every `(domain, site id)` through the REST gateway at `http`.
pub async fn traffic(http: &str, admin_token: &str, sites: &[(String, String)]) -> Result<Traffic> {
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(60)).build()?;
    let url = format!("{http}/v1/import/events");
    let now = Utc::now();
    let mut lines = Vec::new();
    for (domain, _) in sites {
        for back in (0..DAYS).rev() {
            lines.extend(day_of_traffic(domain, now.date_naive() - Days::days(back), now));
        }
    }
    let mut totals = Traffic { sites: sites.len(), ..Traffic::default() };
    for batch in lines.chunks(BATCH) {
        let resp = client
            .post(&url)
            .bearer_auth(admin_token)
            .json(&json!({ "lines": batch }))
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        match status {
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED => {
                totals.skipped = Some(format!("this command-service has no ingest API yet ({status} from {url})"));
                return Ok(totals);
            }
            s if !s.is_success() => anyhow::bail!("POST {url}: {status} {body}"),
            _ => totals.add(&body, batch.len()),
        }
    }
    Ok(totals)
}

/// One site's events for one day, up to `now`, in time order.
fn day_of_traffic(domain: &str, day: NaiveDate, now: DateTime<Utc>) -> Vec<Value> {
    let mut rng = StdRng::seed_from_u64(seed(domain, day));
    let visitors = rng.random_range(60..140);
    let start = day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
    let mut events = Vec::new();
    for visitor in 0..visitors {
        let (agent, width) = pick3(&mut rng, AGENTS);
        let ip = format!("203.0.113.{}", rng.random_range(1..255));
        let hour = pick_hour(&mut rng);
        let mut at = start + Days::hours(hour as i64) + Days::seconds(rng.random_range(0..3600));
        let referrer = pick(&mut rng, REFERRERS);
        let utm = (referrer.is_empty() && rng.random_bool(0.15)).then_some(("newsletter", "email"));
        let pageviews = 1 + rng.random_range(0..4) * rng.random_range(0..2);
        for n in 0..pageviews {
            let path = pick(&mut rng, PAGES);
            // Campaign parameters ride in the URL, as a tracker would see them.
            let query = match (n, utm) {
                (0, Some((source, medium))) => {
                    format!("?utm_source={source}&utm_medium={medium}&utm_campaign={}-digest", day.format("%Y-%m"))
                }
                _ => String::new(),
            };
            events.push((
                at,
                json!({
                    "client_event_id": format!("demo-{domain}-{day}-{visitor}-{n}"),
                    "timestamp": at.to_rfc3339(),
                    "domain": domain,
                    "name": "pageview",
                    "url": format!("https://{domain}{path}{query}"),
                    "referrer": if n == 0 { referrer.to_owned() } else { format!("https://{domain}/") },
                    "ip": ip,
                    "user_agent": agent,
                    "screen_width": width,
                }),
            ));
            if path == "/pricing" && rng.random_bool(0.3) {
                let signup_at = at + Days::seconds(rng.random_range(20..200));
                events.push((
                    signup_at,
                    json!({
                        "client_event_id": format!("demo-{domain}-{day}-{visitor}-{n}-signup"),
                        "timestamp": signup_at.to_rfc3339(),
                        "domain": domain,
                        "name": "signup",
                        "url": format!("https://{domain}/pricing"),
                        "referrer": "",
                        "ip": ip,
                        "user_agent": agent,
                        "screen_width": width,
                        "props": { "plan": pick(&mut rng, &[("free", 3), ("pro", 1)]) },
                    }),
                ));
            }
            at += Days::seconds(rng.random_range(15..240));
        }
    }
    // The whole day is drawn before cutting at `now`, so the same event keeps the same
    // id (and content) whenever the day is seeded again.
    events.retain(|(at, _)| *at <= now);
    events.sort_by_key(|(at, _)| *at);
    events.into_iter().map(|(_, event)| event).collect()
}

fn seed(domain: &str, day: NaiveDate) -> u64 {
    // FNV-1a: a stable hash (std's hasher may change between releases).
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for byte in format!("{domain}/{day}").bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn pick<'a>(rng: &mut StdRng, weighted: &[(&'a str, u32)]) -> &'a str {
    let total: u32 = weighted.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total);
    for (item, weight) in weighted {
        if roll < *weight {
            return item;
        }
        roll -= weight;
    }
    weighted[0].0
}

fn pick3<'a>(rng: &mut StdRng, weighted: &[(&'a str, u32, u32)]) -> (&'a str, u32) {
    let total: u32 = weighted.iter().map(|(_, _, w)| w).sum();
    let mut roll = rng.random_range(0..total);
    for (item, width, weight) in weighted {
        if roll < *weight {
            return (item, *width);
        }
        roll -= weight;
    }
    (weighted[0].0, weighted[0].1)
}

fn pick_hour(rng: &mut StdRng) -> u32 {
    let total: u32 = HOURLY.iter().sum();
    let mut roll = rng.random_range(0..total);
    for (hour, weight) in HOURLY.iter().enumerate() {
        if roll < *weight {
            return hour as u32;
        }
        roll -= weight;
    }
    23
}

/// What [`traffic`] did.
#[derive(Debug, Default, Clone)]
pub struct Traffic {
    /// Why nothing was sent, when the service has no ingest API.
    pub skipped: Option<String>,
    pub sites: usize,
    pub sent: usize,
    /// Recorded now or earlier (duplicates included).
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub bots: u64,
    /// The first rejection's field and reason.
    pub first_problem: Option<String>,
}

impl Traffic {
    /// Adds one backfill answer (`RecordEventsResponse` in JSON) for `sent` lines.
    fn add(&mut self, r: &Value, sent: usize) {
        let count = |k: &str| r[k].as_u64().unwrap_or(0);
        self.sent += sent;
        self.accepted += count("accepted");
        self.rejected += count("rejected");
        self.bots += count("dropped_bots");
        let outcomes = r["outcomes"].as_array().map(Vec::as_slice).unwrap_or_default();
        self.duplicates += outcomes.iter().filter(|o| o["duplicate"] == true).count() as u64;
        if self.first_problem.is_none() {
            self.first_problem =
                outcomes.iter().filter_map(|o| o["violations"].as_array()?.first().cloned()).next().map(|v| {
                    format!("{}: {}", v["field"].as_str().unwrap_or("?"), v["description"].as_str().unwrap_or("?"))
                });
        }
    }

    /// One line for the progress output.
    pub fn summary(&self) -> String {
        if let Some(why) = &self.skipped {
            return format!("skipped: {why}");
        }
        let mut text = format!(
            "{} events over {DAYS} days for {} sites: {} accepted ({} already recorded), {} rejected, {} bots",
            self.sent, self.sites, self.accepted, self.duplicates, self.rejected, self.bots
        );
        if let Some(problem) = &self.first_problem {
            text.push_str(&format!("; first rejection: {problem}"));
        }
        text
    }
}
