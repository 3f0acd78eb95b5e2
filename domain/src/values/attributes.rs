//! Free-form key/value attributes attached to a profile.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{FieldViolation, ValidationError};

/// Up to 50 string attributes with restricted keys.
///
/// A `BTreeMap` keeps keys sorted so serialised events and comparisons are
/// deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "BTreeMap<String, String>", into = "BTreeMap<String, String>")]
pub struct Attributes(BTreeMap<String, String>);

impl Attributes {
    /// Field path violations are reported under.
    pub const FIELD: &'static str = "attributes";
    /// Most entries allowed.
    pub const MAX_ENTRIES: usize = 50;
    /// Longest key, in characters.
    pub const MAX_KEY_LEN: usize = 64;
    /// Longest value, in characters.
    pub const MAX_VALUE_LEN: usize = 1000;

    /// Checks every entry.
    ///
    /// Unlike the other value types this returns complete violations, since
    /// each one must name its entry (`attributes["Bad Key"]`) and there may
    /// be several.
    pub fn parse(raw: BTreeMap<String, String>) -> Result<Self, Vec<FieldViolation>> {
        let mut found = Vec::new();
        if raw.len() > Self::MAX_ENTRIES {
            found.push(FieldViolation::new(Self::FIELD, format!("must have at most {} entries", Self::MAX_ENTRIES)));
        }
        for (key, value) in &raw {
            // Debug formatting quotes and escapes the key, so odd keys still
            // produce an unambiguous path.
            let field = || format!("{}[{key:?}]", Self::FIELD);
            if !(1..=Self::MAX_KEY_LEN).contains(&key.chars().count()) {
                found.push(FieldViolation::new(field(), format!("key must be 1 to {} characters", Self::MAX_KEY_LEN)));
            } else if !key.chars().all(is_key_char) {
                found.push(FieldViolation::new(field(), "key may only contain letters, digits, '_', '.' and '-'"));
            }
            if value.chars().count() > Self::MAX_VALUE_LEN {
                found.push(FieldViolation::new(
                    field(),
                    format!("value must be at most {} characters", Self::MAX_VALUE_LEN),
                ));
            }
        }
        if found.is_empty() { Ok(Self(raw)) } else { Err(found) }
    }

    /// The entries, sorted by key.
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

impl TryFrom<BTreeMap<String, String>> for Attributes {
    type Error = ValidationError;

    fn try_from(raw: BTreeMap<String, String>) -> Result<Self, ValidationError> {
        Self::parse(raw).map_err(|violations| ValidationError { violations })
    }
}

impl From<Attributes> for BTreeMap<String, String> {
    fn from(value: Attributes) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map<const N: usize>(entries: [(&str, &str); N]) -> BTreeMap<String, String> {
        entries.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn accepts_valid_entries() {
        let attrs = Attributes::parse(map([("team.name", "core"), ("Tier-1_x", "")])).unwrap();
        assert_eq!(attrs.get("team.name"), Some("core"));
        assert_eq!(attrs.len(), 2);
    }

    #[test]
    fn names_each_bad_entry() {
        let long_value = "v".repeat(1001);
        let found = Attributes::parse(map([("Bad Key", "x"), ("", "x"), ("ok", &long_value), (&"k".repeat(65), "x")]))
            .unwrap_err();
        let fields: Vec<_> = found.iter().map(|v| v.field.as_str()).collect();
        let long_key = format!("attributes[\"{}\"]", "k".repeat(65));
        assert_eq!(fields, ["attributes[\"\"]", "attributes[\"Bad Key\"]", long_key.as_str(), "attributes[\"ok\"]"]);
        assert_eq!(found[0].description, "key must be 1 to 64 characters");
        assert_eq!(found[1].description, "key may only contain letters, digits, '_', '.' and '-'");
        assert_eq!(found[3].description, "value must be at most 1000 characters");
    }

    #[test]
    fn value_length_counts_characters() {
        let value = "ü".repeat(1000);
        assert!(Attributes::parse(map([("k", &value)])).is_ok());
    }

    #[test]
    fn limits_entry_count() {
        let raw: BTreeMap<_, _> = (0..51).map(|i| (format!("k{i}"), String::new())).collect();
        let found = Attributes::parse(raw).unwrap_err();
        assert_eq!(found, [FieldViolation::new("attributes", "must have at most 50 entries")]);
    }

    #[test]
    fn serde_validates() {
        assert!(serde_json::from_str::<Attributes>(r#"{"a b":"c"}"#).is_err());
        let attrs: Attributes = serde_json::from_str(r#"{"a":"b"}"#).unwrap();
        assert_eq!(serde_json::to_string(&attrs).unwrap(), r#"{"a":"b"}"#);
    }
}
