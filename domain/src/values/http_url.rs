//! Absolute web URLs, used for avatars.

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

/// An absolute `http` or `https` URL with a host.
///
/// Stored in the `url` crate's normalised form (`https://Example.com` becomes
/// `https://example.com/`) so equal URLs compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HttpUrl(Url);

impl HttpUrl {
    /// Longest allowed URL, in bytes; longer ones break some browsers and
    /// caches.
    pub const MAX_LEN: usize = 2000;

    /// Trims and checks `raw`.
    ///
    /// Credentials (`https://user:pass@host/`) are refused too: the URL is
    /// shown to every visitor, so a password in it would be published.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let too_long = || format!("must be at most {} bytes", Self::MAX_LEN);
        let raw = raw.trim();
        // Checked before parsing so an oversized input is not parsed at all.
        if raw.len() > Self::MAX_LEN {
            return Err(too_long());
        }
        let url = Url::parse(raw).map_err(|_| "must be an absolute http or https URL".to_owned())?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("must use the http or https scheme".to_owned());
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("must have a host".to_owned());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not contain a username or password".to_owned());
        }
        // Normalisation percent-encodes, which can push a URL over the limit.
        if url.as_str().len() > Self::MAX_LEN {
            return Err(too_long());
        }
        Ok(Self(url))
    }

    /// Parses an optional URL, where empty or blank input means "none"
    /// (how proto3 and forms say a string field is unset).
    pub fn parse_optional(raw: &str) -> Result<Option<Self>, String> {
        if raw.trim().is_empty() { Ok(None) } else { Self::parse(raw).map(Some) }
    }

    /// The normalised URL text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The parsed URL.
    pub fn as_url(&self) -> &Url {
        &self.0
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for HttpUrl {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::str::FromStr for HttpUrl {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        Self::parse(raw)
    }
}

impl TryFrom<String> for HttpUrl {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw)
    }
}

impl From<HttpUrl> for String {
    fn from(value: HttpUrl) -> String {
        value.0.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() {
        let url = HttpUrl::parse(" HTTPS://Example.COM ").unwrap();
        assert_eq!(url.as_str(), "https://example.com/");
        assert_eq!(HttpUrl::parse(url.as_str()).unwrap(), url);
    }

    #[test]
    fn scheme_and_host() {
        assert_eq!(HttpUrl::parse("ftp://example.com/a.png").unwrap_err(), "must use the http or https scheme");
        assert_eq!(HttpUrl::parse("javascript:alert(1)").unwrap_err(), "must use the http or https scheme");
        assert_eq!(HttpUrl::parse("/avatar.png").unwrap_err(), "must be an absolute http or https URL");
        assert!(HttpUrl::parse("https://").is_err());
    }

    #[test]
    fn refuses_credentials() {
        assert_eq!(
            HttpUrl::parse("https://me:secret@example.com/").unwrap_err(),
            "must not contain a username or password"
        );
    }

    #[test]
    fn length_limit() {
        let base = "https://example.com/";
        let ok = format!("{base}{}", "a".repeat(2000 - base.len()));
        assert!(HttpUrl::parse(&ok).is_ok());
        let long = format!("{ok}a");
        assert_eq!(HttpUrl::parse(&long).unwrap_err(), "must be at most 2000 bytes");
        // A space becomes %20: under the limit raw, over it normalised.
        let grows = format!("{base}{}", " ".repeat(700));
        assert_eq!(HttpUrl::parse(&format!("{grows}x")).unwrap_err(), "must be at most 2000 bytes");
    }

    #[test]
    fn empty_means_none() {
        assert_eq!(HttpUrl::parse_optional("  "), Ok(None));
        assert!(HttpUrl::parse_optional("http://a.example").unwrap().is_some());
    }
}
