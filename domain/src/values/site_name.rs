//! Human-readable site names.

use serde::{Deserialize, Serialize};

use super::{SiteDomain, single_line_name, string_value};

/// A site's label in dashboards.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SiteName(String);

impl SiteName {
    /// Longest allowed name, in characters.
    pub const MAX_LEN: usize = 100;

    /// Trims and checks `raw`: 1 to 100 characters, no control characters.
    pub fn parse(raw: &str) -> Result<Self, String> {
        single_line_name(raw, Self::MAX_LEN).map(Self)
    }

    /// The name a site gets when none is given: its domain, cut to the name
    /// limit because domains may be longer than names.
    pub fn for_domain(domain: &SiteDomain) -> Self {
        Self(domain.as_str().chars().take(Self::MAX_LEN).collect())
    }
}

string_value!(SiteName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_a_display_name() {
        assert_eq!(SiteName::parse(" My Blog ").unwrap().as_str(), "My Blog");
        assert_eq!(SiteName::parse("").unwrap_err(), "must be 1 to 100 characters");
        assert!(SiteName::parse(&"名".repeat(100)).is_ok());
        assert!(SiteName::parse("a\u{7}").is_err());
    }

    #[test]
    fn defaults_to_a_truncated_domain() {
        let short = SiteDomain::parse("example.com").unwrap();
        assert_eq!(SiteName::for_domain(&short).as_str(), "example.com");
        let long = SiteDomain::parse(&format!("{}.{}.com", "a".repeat(63), "b".repeat(63))).unwrap();
        assert_eq!(SiteName::for_domain(&long).as_str().len(), 100);
    }
}
