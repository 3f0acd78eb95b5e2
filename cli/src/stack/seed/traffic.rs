//! A few days of plausible analytics traffic for the demo sites, recorded through the
//! public ingest API (`tally.v1.CommandService/RecordEvents`, through the gateway).
//!
//! Deterministic per site and day (seeded RNG, stable `client_event_id`s), so a second
//! `tally up` the same day records nothing twice: the service reports duplicates. A
//! command-service without the ingest API (UNIMPLEMENTED) is skipped with a note; no
//! data is ever written behind the API's back.

use std::collections::HashMap;

use anyhow::{Context, Result};
use chrono::{DateTime, Duration as Days, NaiveDate, Timelike, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tally_proto::v1::{AnalyticsEventInput, RecordEventsRequest, command_service_client::CommandServiceClient};
use tonic::Code;

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

/// Records the traffic for every `(domain, site id)` through the gRPC gateway at `grpc`.
pub async fn traffic(grpc: &str, sites: &[(String, String)]) -> Result<String> {
    let mut client =
        CommandServiceClient::connect(grpc.to_owned()).await.with_context(|| format!("connect to {grpc}"))?;
    let now = Utc::now();
    let mut totals = Totals::default();
    for (domain, site_id) in sites {
        for back in (0..DAYS).rev() {
            let day = now.date_naive() - Days::days(back);
            let events = day_of_traffic(domain, day, now);
            if events.is_empty() {
                continue;
            }
            totals.sent += events.len();
            let request = RecordEventsRequest { site_id: site_id.clone(), domain: String::new(), events };
            let response = match client.record_events(request).await {
                Ok(r) => r.into_inner(),
                Err(status) if matches!(status.code(), Code::Unimplemented | Code::NotFound) => {
                    return Ok(format!(
                        "skipped: this command-service does not serve RecordEvents yet ({})",
                        status.message()
                    ));
                }
                Err(status) => anyhow::bail!("RecordEvents for {domain} on {day}: {status}"),
            };
            totals.add(&response);
        }
    }
    Ok(totals.summary(sites.len()))
}

/// One site's events for one day, up to `now`.
fn day_of_traffic(domain: &str, day: NaiveDate, now: DateTime<Utc>) -> Vec<AnalyticsEventInput> {
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
            if at > now {
                break;
            }
            let path = pick(&mut rng, PAGES);
            let mut event = AnalyticsEventInput {
                client_event_id: format!("demo-{domain}-{day}-{visitor}-{n}"),
                name: "pageview".to_owned(),
                url: format!("https://{domain}{path}"),
                referrer: if n == 0 { referrer.to_owned() } else { format!("https://{domain}/") },
                screen_width: width,
                timestamp: Some(prost_types::Timestamp { seconds: at.timestamp(), nanos: 0 }),
                ip: ip.clone(),
                user_agent: agent.to_owned(),
                ..Default::default()
            };
            if let (0, Some((source, medium))) = (n, utm) {
                event.utm_source = source.to_owned();
                event.utm_medium = medium.to_owned();
                event.utm_campaign = format!("{}-digest", day.format("%Y-%m"));
            }
            events.push(event);
            if path == "/pricing" && rng.random_bool(0.3) {
                let signup_at = at + Days::seconds(rng.random_range(20..200));
                if signup_at <= now {
                    events.push(AnalyticsEventInput {
                        client_event_id: format!("demo-{domain}-{day}-{visitor}-{n}-signup"),
                        name: "signup".to_owned(),
                        url: format!("https://{domain}/pricing"),
                        screen_width: width,
                        props: HashMap::from([(
                            "plan".to_owned(),
                            pick(&mut rng, &[("free", 3), ("pro", 1)]).to_owned(),
                        )]),
                        timestamp: Some(prost_types::Timestamp { seconds: signup_at.timestamp(), nanos: 0 }),
                        ip: ip.clone(),
                        user_agent: agent.to_owned(),
                        ..Default::default()
                    });
                }
            }
            at += Days::seconds(rng.random_range(15..240));
        }
    }
    events.sort_by_key(|e| e.timestamp.map(|t| t.seconds));
    events
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
    Utc::now().hour()
}

#[derive(Default)]
struct Totals {
    sent: usize,
    accepted: u64,
    duplicates: u64,
    rejected: u64,
    bots: u64,
    first_problem: Option<String>,
}

impl Totals {
    fn add(&mut self, r: &tally_proto::v1::RecordEventsResponse) {
        self.accepted += u64::from(r.accepted);
        self.rejected += u64::from(r.rejected);
        self.bots += u64::from(r.dropped_bots);
        self.duplicates += r.outcomes.iter().filter(|o| o.duplicate).count() as u64;
        if self.first_problem.is_none() {
            self.first_problem =
                r.outcomes.iter().flat_map(|o| &o.violations).next().map(|v| format!("{}: {}", v.field, v.description));
        }
    }

    fn summary(&self, sites: usize) -> String {
        let mut text = format!(
            "{} events over {DAYS} days for {sites} sites: {} accepted ({} already recorded), {} rejected, {} bots",
            self.sent, self.accepted, self.duplicates, self.rejected, self.bots
        );
        if let Some(problem) = &self.first_problem {
            text.push_str(&format!("; first rejection: {problem}"));
        }
        text
    }
}
