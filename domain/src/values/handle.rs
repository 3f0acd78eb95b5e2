//! Profile handles: the public, unique username.

use serde::{Deserialize, Serialize};

use super::string_value;

/// A profile's unique handle, lowercased so that uniqueness is
/// case-insensitive (`Alice` and `alice` are the same person).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Handle(String);

impl Handle {
    /// Shortest allowed handle, in characters.
    pub const MIN_LEN: usize = 3;
    /// Longest allowed handle, in characters.
    pub const MAX_LEN: usize = 30;

    /// Trims, lowercases and checks `raw`. Handles are ASCII-only so they
    /// are safe in URLs and cannot be spoofed with look-alike letters.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let handle = raw.trim().to_lowercase();
        let len = handle.chars().count();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&len) {
            return Err(format!("must be {} to {} characters", Self::MIN_LEN, Self::MAX_LEN));
        }
        if !handle.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err("may only contain letters, digits and underscores".to_owned());
        }
        if !handle.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err("must start with a letter".to_owned());
        }
        Ok(Self(handle))
    }
}

string_value!(Handle);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_whitespace() {
        assert_eq!(Handle::parse("  Alice_99 ").unwrap().as_str(), "alice_99");
    }

    #[test]
    fn length_bounds() {
        assert!(Handle::parse("abc").is_ok());
        assert!(Handle::parse(&"a".repeat(30)).is_ok());
        assert_eq!(Handle::parse("ab").unwrap_err(), "must be 3 to 30 characters");
        assert_eq!(Handle::parse(&"a".repeat(31)).unwrap_err(), "must be 3 to 30 characters");
    }

    #[test]
    fn charset_and_first_letter() {
        let charset = "may only contain letters, digits and underscores";
        assert_eq!(Handle::parse("al-ice").unwrap_err(), charset);
        assert_eq!(Handle::parse("al ice").unwrap_err(), charset);
        assert_eq!(Handle::parse("jösé").unwrap_err(), charset);
        assert_eq!(Handle::parse("9lives").unwrap_err(), "must start with a letter");
        assert_eq!(Handle::parse("_alice").unwrap_err(), "must start with a letter");
    }

    #[test]
    fn serde_validates() {
        assert_eq!(serde_json::from_str::<Handle>("\"Bob\"").unwrap().as_str(), "bob");
        assert!(serde_json::from_str::<Handle>("\"b\"").is_err());
    }
}
