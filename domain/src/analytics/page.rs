//! The page an event happened on: only hostname and pathname are kept.

use url::Url;

use super::input::Utm;
use super::limits::MAX_URL_BYTES;

/// What is kept of an event's URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Lower-case hostname, e.g. `www.example.com`.
    pub hostname: String,
    /// The path, e.g. `/blog/hello`; never empty (at least `/`).
    pub pathname: String,
    /// `utm_*` parameters found in the query string (which is then dropped).
    pub utm: Utm,
}

impl Page {
    /// Parses an absolute URL with a host. The query string and fragment
    /// are dropped after the campaign parameters are read from them.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.len() > MAX_URL_BYTES {
            return Err(format!("must be at most {MAX_URL_BYTES} bytes"));
        }
        let url =
            Url::parse(raw).map_err(|e| format!("must be an absolute URL like https://example.com/page ({e})"))?;
        let hostname = match url.host_str() {
            Some(host) if !host.is_empty() => host.trim_end_matches('.').to_ascii_lowercase(),
            _ => return Err("must have a hostname, like https://example.com/page".to_owned()),
        };
        let pathname = if url.path().is_empty() { "/".to_owned() } else { url.path().to_owned() };
        Ok(Page { hostname, pathname, utm: utm_of(&url) })
    }
}

fn utm_of(url: &Url) -> Utm {
    let mut utm = Utm::default();
    for (key, value) in url.query_pairs() {
        let slot = match key.as_ref() {
            "utm_source" => &mut utm.source,
            "utm_medium" => &mut utm.medium,
            "utm_campaign" => &mut utm.campaign,
            "utm_content" => &mut utm.content,
            "utm_term" => &mut utm.term,
            _ => continue,
        };
        // The first occurrence wins, as in browsers' URLSearchParams.get.
        if slot.is_empty() {
            *slot = value.trim().to_owned();
        }
    }
    utm
}
