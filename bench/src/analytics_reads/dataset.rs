//! The pageviews of the analytics-reads benchmark, generated deterministically day by day.
//!
//! One big site takes `BIG_SHARE` of the traffic, the others share the rest. Each visitor-day
//! has one to three sessions separated by more than the 30-minute timeout, each session one
//! to thirty pageviews less than the timeout apart, and nothing crosses midnight: Tally's
//! sessions and the raw table's `session_id` then describe the same visits, so both sides
//! answer the same question. Pages follow a power law (a few pages take most views); the
//! source, device and country are drawn per session. A day is regenerated from its own seed,
//! so the event store and the raw table can be written from one pass without holding the set.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::dims::{self, Zipf};

/// The big site's share of all pageviews.
pub const BIG_SHARE: f64 = 0.8;

/// What to generate.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Shape {
    pub pageviews: u64,
    pub sites: u32,
    pub days: u32,
    /// Distinct pages of the big site (small sites have `dims::SMALL_PAGES`).
    pub big_pages: u32,
    pub seed: u64,
    /// The last local day (UTC sites): the benchmark asks for the 30 days up to today.
    pub last_day: NaiveDate,
}

/// One pageview; dimensions are indices into [`dims`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pageview {
    /// 0 is the big site.
    pub site: u32,
    pub at: DateTime<Utc>,
    /// Unique per visitor-day (as Tally's daily visitor ids are).
    pub visitor: u64,
    pub session: u64,
    pub page: u32,
    pub source: u8,
    pub device: u8,
    pub country: u8,
}

/// The samplers shared by every day.
pub struct Generator {
    shape: Shape,
    big_pages: Zipf,
    small_pages: Zipf,
}

impl Generator {
    pub fn new(shape: Shape) -> Self {
        Self { shape, big_pages: Zipf::new(shape.big_pages, 1.1), small_pages: Zipf::new(dims::SMALL_PAGES, 1.0) }
    }

    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// The local date of day `d` (0 = the first of the range).
    pub fn date(&self, d: u32) -> NaiveDate {
        self.shape.last_day - Duration::days(i64::from(self.shape.days - 1 - d))
    }

    /// Pageviews of day `d`, in time order; the days add up to exactly `shape.pageviews`.
    pub fn day(&self, d: u32) -> Vec<Pageview> {
        let s = &self.shape;
        let per_day = s.pageviews / u64::from(s.days);
        let target = if d + 1 == s.days { s.pageviews - per_day * u64::from(s.days - 1) } else { per_day };
        let mut rng = StdRng::seed_from_u64(s.seed ^ u64::from(d).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let midnight = self.date(d).and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
        let ids = u64::from(d) << 40;
        let mut out = Vec::with_capacity(usize::try_from(target).unwrap_or(0));
        let (mut visitor, mut session) = (ids, ids);
        while (out.len() as u64) < target {
            visitor += 1;
            let site = if s.sites == 1 || rng.random_bool(BIG_SHARE) { 0 } else { rng.random_range(1..s.sites) };
            let sessions = match rng.random_range(0..100) {
                0..85 => 1,
                85..97 => 2,
                _ => 3,
            };
            // Seconds after midnight; visitors arrive during the first 14 hours.
            let mut t: i64 = rng.random_range(0..14 * 3600);
            for _ in 0..sessions {
                if t >= 86_400 - 60 || out.len() as u64 >= target {
                    break;
                }
                session += 1;
                let (source, device, country) =
                    (dims::pick_source(&mut rng), dims::pick_device(&mut rng), dims::pick_country(&mut rng));
                let views =
                    if rng.random_bool(0.45) { 1 } else { 2 + (rng.random::<f64>().ln() / 0.65f64.ln()) as u32 }
                        .min(30);
                for v in 0..views {
                    if v > 0 {
                        t += rng.random_range(5..600);
                    }
                    if t >= 86_400 || out.len() as u64 >= target {
                        break;
                    }
                    let pages = if site == 0 { &self.big_pages } else { &self.small_pages };
                    let at = midnight + Duration::seconds(t) + Duration::milliseconds(rng.random_range(0..1000));
                    out.push(Pageview {
                        site,
                        at,
                        visitor,
                        session,
                        page: pages.sample(&mut rng),
                        source,
                        device,
                        country,
                    });
                }
                // The next session starts after the 30-minute timeout.
                t += rng.random_range(31 * 60..4 * 3600);
            }
        }
        out.sort_by_key(|p| (p.at, p.visitor));
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    fn shape(pageviews: u64) -> Shape {
        Shape {
            pageviews,
            sites: 10,
            days: 3,
            big_pages: 200,
            seed: 7,
            last_day: NaiveDate::from_ymd_opt(2026, 3, 3).unwrap(),
        }
    }

    #[test]
    fn days_add_up_to_the_total_and_are_reproducible() {
        let g = Generator::new(shape(10_001));
        let days: Vec<_> = (0..3).map(|d| g.day(d)).collect();
        assert_eq!(days.iter().map(Vec::len).sum::<usize>(), 10_001);
        assert_eq!(days[1], Generator::new(shape(10_001)).day(1));
        let big = days.iter().flatten().filter(|p| p.site == 0).count() as f64 / 10_001.0;
        assert!((0.75..0.85).contains(&big), "big site share {big}");
    }

    #[test]
    fn sessions_stay_within_their_day_and_the_timeout_separates_them() {
        let g = Generator::new(shape(20_000));
        for d in 0..3 {
            let day = g.day(d);
            assert!(day.windows(2).all(|w| w[0].at <= w[1].at), "time order");
            assert!(day.iter().all(|p| p.at.date_naive() == g.date(d)), "within the day");
            let mut last: HashMap<u64, (u64, DateTime<Utc>)> = HashMap::new();
            let mut ended = HashSet::new();
            for p in &day {
                if let Some((session, at)) = last.insert(p.visitor, (p.session, p.at)) {
                    let gap = p.at - at;
                    if session == p.session {
                        assert!(gap < Duration::minutes(30), "{gap} inside a session");
                    } else {
                        assert!(gap > Duration::minutes(30), "{gap} between sessions");
                        assert!(ended.insert(session), "a session never resumes");
                    }
                }
            }
        }
    }
}
