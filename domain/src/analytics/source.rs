//! Traffic sources: which well-known site a referrer belongs to.
//!
//! No maintained Rust crate maps referrers to sources (Snowplow's
//! referer-parser has no maintained Rust port, and Plausible's list lives in
//! Elixir), so this is a small table of the sources reports are read for:
//! search engines and social networks. Anything else is reported under its
//! hostname, as Plausible does, so nothing is lost by the table being short.

use super::referrer::bare_host;

/// (source name, hostnames or hostname prefixes). A pattern ending in `.`
/// matches any top-level domain (`google.` covers `google.de`,
/// `google.co.uk`); otherwise the host must equal it or be a subdomain of it.
const SOURCES: &[(&str, &[&str])] = &[
    ("Google", &["google.", "news.google.", "googleusercontent.com"]),
    ("Bing", &["bing.com", "cn.bing.com"]),
    ("DuckDuckGo", &["duckduckgo.com"]),
    ("Yahoo!", &["yahoo.com", "search.yahoo.com", "yahoo.co.jp"]),
    ("Yandex", &["yandex.", "ya.ru"]),
    ("Baidu", &["baidu.com"]),
    ("Ecosia", &["ecosia.org"]),
    ("Brave Search", &["search.brave.com"]),
    ("Qwant", &["qwant.com"]),
    ("Startpage", &["startpage.com"]),
    ("Naver", &["naver.com"]),
    ("Twitter", &["twitter.com", "t.co", "x.com"]),
    ("Facebook", &["facebook.com", "fb.com", "fb.me", "l.facebook.com", "m.facebook.com"]),
    ("Instagram", &["instagram.com", "l.instagram.com"]),
    ("LinkedIn", &["linkedin.com", "lnkd.in"]),
    ("Reddit", &["reddit.com", "old.reddit.com", "out.reddit.com"]),
    ("Hacker News", &["news.ycombinator.com"]),
    ("YouTube", &["youtube.com", "youtu.be", "m.youtube.com"]),
    ("Pinterest", &["pinterest.com", "pin.it"]),
    ("TikTok", &["tiktok.com"]),
    ("Mastodon", &["mastodon.social"]),
    ("Bluesky", &["bsky.app"]),
    ("Threads", &["threads.net"]),
    ("GitHub", &["github.com"]),
    ("Wikipedia", &["wikipedia.org"]),
    ("Telegram", &["t.me", "telegram.org"]),
    ("WhatsApp", &["whatsapp.com", "wa.me"]),
    ("ChatGPT", &["chatgpt.com", "chat.openai.com"]),
];

fn matches(host: &str, pattern: &str) -> bool {
    if let Some(prefix) = pattern.strip_suffix('.') {
        // `google.` : `google.<tld>` or `<sub>.google.<tld>`; the remainder
        // must be a public suffix-looking tail (letters and dots only).
        let tail_ok =
            |rest: &str| !rest.is_empty() && rest.split('.').all(|l| l.chars().all(|c| c.is_ascii_alphabetic()));
        let own = host.strip_prefix(prefix).and_then(|r| r.strip_prefix('.'));
        let sub = host.split_once(&format!(".{prefix}.")).map(|(_, r)| r);
        return own.or(sub).is_some_and(|rest| tail_ok(rest) && rest.split('.').count() <= 2);
    }
    host == pattern || host.ends_with(&format!(".{pattern}"))
}

/// The traffic source: `utm_source` when set (it is the sender's own label),
/// else the well-known name of the referrer's host, else its bare hostname;
/// empty for direct traffic.
pub fn source_of(utm_source: &str, referrer_host: Option<&str>) -> String {
    if !utm_source.trim().is_empty() {
        return utm_source.trim().to_owned();
    }
    let Some(host) = referrer_host else { return String::new() };
    let host = bare_host(host);
    SOURCES
        .iter()
        .find(|(_, patterns)| patterns.iter().any(|p| matches(host, p)))
        .map(|(name, _)| (*name).to_owned())
        .unwrap_or_else(|| host.to_owned())
}
