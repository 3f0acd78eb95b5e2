//! Email addresses.

use serde::{Deserialize, Serialize};

use super::string_value;

/// A syntactically plausible email address.
///
/// Deliberately practical rather than RFC 5322 complete: quoted local parts,
/// comments and IP-literal domains are refused because no real user needs
/// them and they complicate every downstream system. Only sending a message
/// proves an address works, so this just catches typos.
///
/// The domain is lowercased (it is case-insensitive); the local part keeps
/// its case because some mail servers treat it as significant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Longest allowed address, in bytes (RFC 5321 path limit).
    pub const MAX_LEN: usize = 254;
    /// Longest allowed local part, in bytes (RFC 5321).
    pub const MAX_LOCAL_LEN: usize = 64;

    /// Trims and checks `raw`, lowercasing the domain.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let email = raw.trim();
        if email.len() > Self::MAX_LEN {
            return Err(format!("must be at most {} bytes", Self::MAX_LEN));
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must not contain whitespace".to_owned());
        }
        let Some((local, domain)) = email.split_once('@').filter(|(_, d)| !d.contains('@')) else {
            return Err("must contain exactly one '@'".to_owned());
        };
        if local.is_empty() || local.len() > Self::MAX_LOCAL_LEN {
            return Err(format!("must have 1 to {} bytes before the '@'", Self::MAX_LOCAL_LEN));
        }
        let plausible_domain =
            domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !domain.contains("..");
        if !plausible_domain {
            return Err("must have a domain like example.com after the '@'".to_owned());
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    /// The part before the '@'.
    pub fn local_part(&self) -> &str {
        self.0.split_once('@').map_or("", |(local, _)| local)
    }

    /// The lowercased part after the '@'.
    pub fn domain(&self) -> &str {
        self.0.split_once('@').map_or("", |(_, domain)| domain)
    }
}

string_value!(Email);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercases_only_the_domain() {
        let email = Email::parse(" Ada.L@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Ada.L@example.com");
        assert_eq!(email.local_part(), "Ada.L");
        assert_eq!(email.domain(), "example.com");
    }

    #[test]
    fn at_sign_rules() {
        let err = "must contain exactly one '@'";
        assert_eq!(Email::parse("ada.example.com").unwrap_err(), err);
        assert_eq!(Email::parse("a@b@example.com").unwrap_err(), err);
        assert_eq!(Email::parse("@example.com").unwrap_err(), "must have 1 to 64 bytes before the '@'");
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(64))).is_ok());
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
    }

    #[test]
    fn domain_needs_a_dot() {
        let err = "must have a domain like example.com after the '@'";
        for bad in ["ada@localhost", "ada@", "ada@.com", "ada@example.", "ada@ex..com"] {
            assert_eq!(Email::parse(bad).unwrap_err(), err, "{bad}");
        }
    }

    #[test]
    fn whitespace_and_length() {
        assert_eq!(Email::parse("a da@example.com").unwrap_err(), "must not contain whitespace");
        let long = format!("{}@{}.com", "a".repeat(64), "b".repeat(190));
        assert_eq!(Email::parse(&long).unwrap_err(), "must be at most 254 bytes");
    }
}
