//! The workload's analytics events: many sites, visitors, pages, user agents and referrers,
//! generated deterministically from a seed so every run (and the COPY baseline) sends the
//! same rows.
//!
//! Traffic is skewed like real sites: site `k` of `n` gets events with probability falling
//! as a cube (a few big sites, a long tail), each site has its own visitor pool, and a
//! visitor (an IP and a user agent) keeps its agent, so sessions really form.

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tally_proto::v1::AnalyticsEventInput;

/// Real browser agents (desktop, mobile, tablet; none is a bot, so none is dropped).
const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36 Edg/125.0.2535.85",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
];

/// Referrers; empty ones are direct traffic.
const REFERRERS: &[&str] = &[
    "",
    "",
    "",
    "https://www.google.com/",
    "https://www.google.com/",
    "https://duckduckgo.com/",
    "https://www.bing.com/search?q=tally",
    "https://news.ycombinator.com/item?id=4242",
    "https://twitter.com/someone/status/1",
    "https://www.reddit.com/r/rust/comments/abc/",
    "https://github.com/tally-dev/tally",
    "https://blog.example.org/links",
];

const SECTIONS: &[&str] = &["", "pricing", "about", "blog", "docs", "changelog", "contact"];
const SCREENS: &[u32] = &[390, 414, 768, 1024, 1280, 1440, 1920];

/// The site time zones, cycled (two with non-hour offsets).
pub const TIME_ZONES: &[&str] = &["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Adelaide"];

/// The domain of site `k`.
pub fn domain(k: usize) -> String {
    format!("site{k}.bench.example")
}

/// One generated event, with the site it belongs to.
#[derive(Debug, Clone)]
pub struct Event {
    pub site: usize,
    pub client_event_id: String,
    pub name: &'static str,
    pub url: String,
    pub referrer: &'static str,
    pub screen_width: u32,
    pub ip: String,
    pub user_agent: &'static str,
    pub utm_source: &'static str,
    pub props: Vec<(String, String)>,
}

impl Event {
    pub fn to_proto(&self) -> AnalyticsEventInput {
        AnalyticsEventInput {
            client_event_id: self.client_event_id.clone(),
            name: self.name.to_owned(),
            url: self.url.clone(),
            referrer: self.referrer.to_owned(),
            screen_width: self.screen_width,
            props: self.props.iter().cloned().collect::<HashMap<_, _>>(),
            utm_source: self.utm_source.to_owned(),
            ip: self.ip.clone(),
            user_agent: self.user_agent.to_owned(),
            ..Default::default()
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "client_event_id": self.client_event_id,
            "name": self.name,
            "url": self.url,
            "referrer": self.referrer,
            "screen_width": self.screen_width,
            "props": self.props.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
            "utm_source": self.utm_source,
            "ip": self.ip,
            "user_agent": self.user_agent,
        })
    }

    /// Props as JSON text (the COPY baseline's column).
    pub fn props_json(&self) -> String {
        serde_json::Value::Object(
            self.props.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect(),
        )
        .to_string()
    }
}

/// One client's deterministic stream of batches.
pub struct Generator {
    rng: StdRng,
    client: u32,
    sites: usize,
    visitors_per_site: u32,
    with_ids: bool,
    seq: u64,
}

impl Generator {
    pub fn new(seed: u64, client: u32, sites: usize, visitors_per_site: u32, with_ids: bool) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed ^ (u64::from(client) << 32)),
            client,
            sites,
            visitors_per_site,
            with_ids,
            seq: 0,
        }
    }

    /// The next batch: `size` events of one site (a request names one site).
    pub fn batch(&mut self, size: usize) -> (usize, Vec<Event>) {
        // Cubic skew: site 0 gets the most traffic, the tail little.
        let u: f64 = self.rng.random();
        let site = ((u * u * u) * self.sites as f64) as usize % self.sites;
        let events = (0..size).map(|_| self.event(site)).collect();
        (site, events)
    }

    fn event(&mut self, site: usize) -> Event {
        let r = &mut self.rng;
        let visitor = r.random_range(0..self.visitors_per_site);
        // A visitor keeps its address and agent: both feed the visitor id.
        let ip = format!("10.{}.{}.{}", site % 250, visitor / 250 % 250, visitor % 250 + 1);
        let user_agent = USER_AGENTS[(visitor as usize * 7 + site) % USER_AGENTS.len()];
        let section = SECTIONS[r.random_range(0..SECTIONS.len())];
        let path = match section {
            "" => "/".to_owned(),
            "blog" | "docs" => format!("/{section}/{}", r.random_range(0..200)),
            s => format!("/{s}"),
        };
        let custom = r.random_range(0..10) == 0;
        let utm_source = if r.random_range(0..20) == 0 { "newsletter" } else { "" };
        self.seq += 1;
        Event {
            site,
            client_event_id: if self.with_ids { format!("b{}-{}", self.client, self.seq) } else { String::new() },
            name: if custom { "signup" } else { "pageview" },
            url: format!("https://{}{path}", domain(site)),
            referrer: REFERRERS[r.random_range(0..REFERRERS.len())],
            screen_width: SCREENS[r.random_range(0..SCREENS.len())],
            ip,
            user_agent,
            utm_source,
            props: if custom {
                vec![("plan".to_owned(), ["free", "pro"][r.random_range(0..2)].to_owned())]
            } else {
                Vec::new()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_batches() {
        let a: Vec<_> = (0..3).map(|_| Generator::new(7, 1, 50, 100, true).batch(20)).collect();
        let mut g = Generator::new(7, 1, 50, 100, true);
        let (site, events) = g.batch(20);
        assert_eq!(site, a[0].0);
        assert_eq!(
            events.iter().map(|e| &e.url).collect::<Vec<_>>(),
            a[0].1.iter().map(|e| &e.url).collect::<Vec<_>>()
        );
        assert!(events.iter().all(|e| e.site == site && e.url.contains(&domain(site))));
    }

    #[test]
    fn clients_send_distinct_client_event_ids() {
        let (_, a) = Generator::new(7, 1, 5, 10, true).batch(5);
        let (_, b) = Generator::new(7, 2, 5, 10, true).batch(5);
        assert!(a.iter().all(|x| b.iter().all(|y| x.client_event_id != y.client_event_id)));
    }
}
