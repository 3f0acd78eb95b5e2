//! Profile biographies.

use serde::{Deserialize, Serialize};

use super::string_value;

/// A profile's free text about itself. Empty means "no bio", so clearing it
/// needs no separate representation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Bio(String);

impl Bio {
    /// Longest allowed bio, in characters.
    pub const MAX_LEN: usize = 500;

    /// Checks `raw` as given: whitespace and line breaks are part of the
    /// author's formatting, so nothing is trimmed.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().count() > Self::MAX_LEN {
            return Err(format!("must be at most {} characters", Self::MAX_LEN));
        }
        if raw.chars().any(|c| c.is_control() && c != '\n') {
            return Err("must not contain control characters other than newlines".to_owned());
        }
        Ok(Self(raw.to_owned()))
    }

    /// Whether the bio is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

string_value!(Bio);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_fine() {
        assert!(Bio::parse("").unwrap().is_empty());
    }

    #[test]
    fn newlines_allowed_other_controls_not() {
        assert!(Bio::parse("line one\nline two").is_ok());
        let err = "must not contain control characters other than newlines";
        assert_eq!(Bio::parse("tab\there").unwrap_err(), err);
        assert_eq!(Bio::parse("crlf\r\n").unwrap_err(), err);
    }

    #[test]
    fn length_in_characters() {
        assert!(Bio::parse(&"ß".repeat(500)).is_ok());
        assert_eq!(Bio::parse(&"ß".repeat(501)).unwrap_err(), "must be at most 500 characters");
    }
}
