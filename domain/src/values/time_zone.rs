//! IANA time zones of sites.

use std::fmt;
use std::str::FromStr;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// A time zone from the IANA database, such as `Europe/Berlin`.
///
/// Sites report daily figures in their own zone; keeping the parsed `Tz`
/// lets later code convert timestamps without parsing again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZone(Tz);

impl TimeZone {
    /// Trims and looks `raw` up in the IANA database (case-sensitive, as
    /// the database names are).
    pub fn parse(raw: &str) -> Result<Self, String> {
        Tz::from_str(raw.trim()).map(Self).map_err(|_| "must be an IANA time zone name like Europe/Berlin".to_owned())
    }

    /// The IANA name.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The IANA name; same as [`TimeZone::name`], for symmetry with the
    /// other value types.
    pub fn as_str(&self) -> &'static str {
        self.0.name()
    }

    /// The zone, for date arithmetic.
    pub fn tz(&self) -> Tz {
        self.0
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TimeZone {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        Self::parse(raw)
    }
}

impl TryFrom<String> for TimeZone {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw)
    }
}

impl From<TimeZone> for String {
    fn from(value: TimeZone) -> String {
        value.name().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_zones() {
        assert_eq!(TimeZone::parse(" Europe/Berlin ").unwrap().name(), "Europe/Berlin");
        assert_eq!(TimeZone::parse("UTC").unwrap().tz(), Tz::UTC);
    }

    #[test]
    fn unknown_zones() {
        for bad in ["Mars/Olympus", "", "CEST+1"] {
            assert_eq!(TimeZone::parse(bad).unwrap_err(), "must be an IANA time zone name like Europe/Berlin");
        }
    }

    #[test]
    fn serde_uses_the_name() {
        let tz = TimeZone::parse("America/New_York").unwrap();
        let json = serde_json::to_string(&tz).unwrap();
        assert_eq!(json, "\"America/New_York\"");
        assert_eq!(serde_json::from_str::<TimeZone>(&json).unwrap(), tz);
    }
}
