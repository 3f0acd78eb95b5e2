//! Display names: the free-form name shown next to a profile.

use serde::{Deserialize, Serialize};

use super::{single_line_name, string_value};

/// A profile's human-readable name; any script is welcome.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);

impl DisplayName {
    /// Longest allowed name, in characters.
    pub const MAX_LEN: usize = 100;

    /// Trims and checks `raw`: 1 to 100 characters, no control characters.
    pub fn parse(raw: &str) -> Result<Self, String> {
        single_line_name(raw, Self::MAX_LEN).map(Self)
    }
}

string_value!(DisplayName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_characters_not_bytes() {
        assert!(DisplayName::parse(&"é".repeat(100)).is_ok());
        assert!(DisplayName::parse(&"🦀".repeat(100)).is_ok());
        assert_eq!(DisplayName::parse(&"é".repeat(101)).unwrap_err(), "must be 1 to 100 characters");
    }

    #[test]
    fn trims_and_refuses_blank() {
        assert_eq!(DisplayName::parse("  Ada Lovelace ").unwrap().as_str(), "Ada Lovelace");
        assert!(DisplayName::parse("   ").is_err());
    }

    #[test]
    fn refuses_control_characters() {
        assert_eq!(DisplayName::parse("Ada\u{1b}[31m").unwrap_err(), "must not contain control characters");
        assert!(DisplayName::parse("Ada\nLovelace").is_err());
    }
}
