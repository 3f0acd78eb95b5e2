//! Domains of tracked sites.

use serde::{Deserialize, Serialize};

use super::string_value;

/// A bare, lowercased hostname such as `blog.example.com`.
///
/// Analytics events are matched to sites by hostname, so anything that is
/// not one (schemes, paths, ports, IP addresses) is refused rather than
/// stripped: guessing what the user meant would register the wrong site.
/// Internationalised names must be given in punycode (`xn--…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SiteDomain(String);

impl SiteDomain {
    /// Longest allowed domain, in characters (DNS limit).
    pub const MAX_LEN: usize = 253;
    /// Longest allowed label, in characters (DNS limit).
    pub const MAX_LABEL_LEN: usize = 63;

    /// Trims, lowercases and checks `raw`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let domain = raw.trim().to_lowercase();
        if domain.starts_with("http://") || domain.starts_with("https://") || domain.contains(['/', ':', '?', '#', '@'])
        {
            return Err("must be a bare domain like example.com, without scheme or path".to_owned());
        }
        if domain.len() > Self::MAX_LEN {
            return Err(format!("must be at most {} characters", Self::MAX_LEN));
        }
        if !domain.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.') {
            return Err(
                "may only contain letters, digits, hyphens and dots (use punycode for non-ASCII names)".to_owned()
            );
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return Err("must have at least two labels, like example.com".to_owned());
        }
        if labels.iter().any(|l| l.is_empty() || l.len() > Self::MAX_LABEL_LEN) {
            return Err(format!("each dot-separated label must be 1 to {} characters", Self::MAX_LABEL_LEN));
        }
        if labels.iter().any(|l| l.starts_with('-') || l.ends_with('-')) {
            return Err("labels must not start or end with a hyphen".to_owned());
        }
        // No top-level domain is numeric, so this is an IPv4 address.
        if labels.last().is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit())) {
            return Err("must be a domain name, not an IP address".to_owned());
        }
        Ok(Self(domain))
    }
}

string_value!(SiteDomain);

#[cfg(test)]
mod tests {
    use super::*;

    const BARE: &str = "must be a bare domain like example.com, without scheme or path";

    #[test]
    fn normalises() {
        assert_eq!(SiteDomain::parse(" Blog.Example.COM ").unwrap().as_str(), "blog.example.com");
        assert!(SiteDomain::parse("xn--bcher-kva.example").is_ok());
        assert!(SiteDomain::parse("a-b.co").is_ok());
    }

    #[test]
    fn refuses_urls() {
        for bad in ["https://example.com", "HTTP://example.com", "example.com/path", "example.com:8080"] {
            assert_eq!(SiteDomain::parse(bad).unwrap_err(), BARE, "{bad}");
        }
    }

    #[test]
    fn label_rules() {
        assert_eq!(SiteDomain::parse("localhost").unwrap_err(), "must have at least two labels, like example.com");
        let label = "each dot-separated label must be 1 to 63 characters";
        assert_eq!(SiteDomain::parse("example.com.").unwrap_err(), label);
        assert_eq!(SiteDomain::parse("a..com").unwrap_err(), label);
        assert_eq!(SiteDomain::parse(&format!("{}.com", "a".repeat(64))).unwrap_err(), label);
        assert!(SiteDomain::parse(&format!("{}.com", "a".repeat(63))).is_ok());
        assert_eq!(SiteDomain::parse("-a.com").unwrap_err(), "labels must not start or end with a hyphen");
        assert!(SiteDomain::parse("exa_mple.com").unwrap_err().starts_with("may only contain"));
        assert!(SiteDomain::parse("bücher.de").unwrap_err().starts_with("may only contain"));
        assert_eq!(SiteDomain::parse("192.168.0.1").unwrap_err(), "must be a domain name, not an IP address");
    }

    #[test]
    fn total_length() {
        let label = "a".repeat(63);
        let ok = format!("{label}.{label}.{label}.{}", "b".repeat(61));
        assert_eq!(ok.len(), 253);
        assert!(SiteDomain::parse(&ok).is_ok());
        assert_eq!(SiteDomain::parse(&format!("c{ok}")).unwrap_err(), "must be at most 253 characters");
    }
}
