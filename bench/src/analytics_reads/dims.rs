//! The dimension values of generated pageviews: page paths, sources, devices, countries,
//! each drawn with a realistic skew.

use rand::Rng;

/// Distinct pages of each small site.
pub const SMALL_PAGES: u32 = 40;

/// A power-law sampler over ranks `0..n` (rank 0 most frequent), by inverse CDF.
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub fn new(n: u32, exponent: f64) -> Self {
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = (1..=n.max(1))
            .map(|k| {
                acc += 1.0 / f64::from(k).powf(exponent);
                acc
            })
            .collect();
        cdf.iter_mut().for_each(|c| *c /= acc);
        Self { cdf }
    }

    pub fn sample(&self, rng: &mut impl Rng) -> u32 {
        let u: f64 = rng.random();
        let i = self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1);
        u32::try_from(i).expect("fewer than 2^32 ranks")
    }
}

const SECTIONS: [&str; 6] = ["blog", "docs", "products", "news", "guides", "changelog"];
const SMALL: [&str; 8] = ["/", "/about", "/pricing", "/contact", "/blog", "/features", "/signup", "/login"];

/// The path of page `rank` on `site` (0 = the big site).
pub fn path(site: u32, rank: u32) -> String {
    match (site, rank) {
        (_, 0) => "/".to_owned(),
        (0, r) => format!("/{}/{}-{r}", SECTIONS[r as usize % SECTIONS.len()], ["a", "b", "c", "d"][r as usize % 4]),
        (_, r) if (r as usize) < SMALL.len() => SMALL[r as usize].to_owned(),
        (_, r) => format!("/p/{r}"),
    }
}

/// (source, referrer, weight %); empty = direct.
pub const SOURCES: [(&str, &str, u32); 9] = [
    ("", "", 38),
    ("Google", "google.com/", 30),
    ("Bing", "bing.com/", 5),
    ("DuckDuckGo", "duckduckgo.com/", 4),
    ("Twitter", "t.co/x", 6),
    ("Facebook", "facebook.com/", 5),
    ("Reddit", "reddit.com/r/programming", 4),
    ("Hacker News", "news.ycombinator.com/item", 4),
    ("Newsletter", "", 4),
];

/// (device, browser, os, weight %).
pub const DEVICES: [(&str, &str, &str, u32); 5] = [
    ("Desktop", "Chrome", "Windows", 35),
    ("Desktop", "Firefox", "Linux", 10),
    ("Desktop", "Safari", "Mac", 10),
    ("Mobile", "Chrome", "Android", 25),
    ("Mobile", "Safari", "iOS", 20),
];

/// Country codes, most frequent first (drawn with a power law).
pub const COUNTRIES: [&str; 12] = ["US", "DE", "GB", "IN", "FR", "BR", "CA", "NL", "JP", "ES", "PL", "SE"];

fn weighted(rng: &mut impl Rng, weights: impl Iterator<Item = u32> + Clone) -> u8 {
    let mut x = rng.random_range(0..weights.clone().sum::<u32>());
    for (i, w) in weights.enumerate() {
        if x < w {
            return i as u8;
        }
        x -= w;
    }
    0
}

pub fn pick_source(rng: &mut impl Rng) -> u8 {
    weighted(rng, SOURCES.iter().map(|s| s.2))
}

pub fn pick_device(rng: &mut impl Rng) -> u8 {
    weighted(rng, DEVICES.iter().map(|d| d.3))
}

pub fn pick_country(rng: &mut impl Rng) -> u8 {
    weighted(rng, (1..=COUNTRIES.len() as u32).map(|k| 120 / k))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn the_power_law_favours_low_ranks_and_stays_in_range() {
        let z = Zipf::new(1000, 1.1);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let draws: Vec<u32> = (0..10_000).map(|_| z.sample(&mut rng)).collect();
        assert!(draws.iter().all(|&r| r < 1000));
        let top = draws.iter().filter(|&&r| r < 10).count();
        assert!(top > 3000, "the top 10 pages take a large share: {top}");
    }

    #[test]
    fn paths_are_distinct_per_site() {
        let big: std::collections::HashSet<String> = (0..3000).map(|r| path(0, r)).collect();
        assert_eq!(big.len(), 3000);
        let small: std::collections::HashSet<String> = (0..SMALL_PAGES).map(|r| path(5, r)).collect();
        assert_eq!(small.len(), SMALL_PAGES as usize);
    }
}
