//! Read keys: bearer credentials that let a dashboard read one site's
//! statistics.
//!
//! The secret itself never enters the domain. The edge draws it, shows it to
//! the caller once and hands the domain only its SHA-256 digest, so neither
//! the event store nor Kafka nor the read model can leak a usable key.

use serde::{Deserialize, Serialize};

use crate::error::{ValidationError, Violations};
use crate::ids::SiteId;

/// Active keys a site may hold. Each is a row the query side checks and a
/// credential someone must rotate; past a hundred, revoke some first.
pub const MAX_ACTIVE_READ_KEYS: usize = 100;

/// Characters a key label may have.
pub const MAX_LABEL_CHARS: usize = 100;

/// A key's id: 16 lowercase hex digits, unique within its site. Presented
/// in front of the secret (`<key_id>.<secret>`) so the query side finds the
/// digest to compare without scanning.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReadKeyId(String);

impl ReadKeyId {
    /// Validates a key id.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() == 16 && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(raw.to_owned()))
        } else {
            Err("must be 16 lowercase hex digits".to_owned())
        }
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The secret's length: 32 random bytes in base64url without padding.
pub const SECRET_CHARS: usize = 43;

/// A key's bearer credential, `<key_id>.<secret>`: the one definition of its shape, which
/// the command-service draws, the query-service parses and only the digest of which is kept.
#[derive(Clone, PartialEq, Eq)]
pub struct ReadKeyToken {
    key_id: ReadKeyId,
    secret: String,
}

impl ReadKeyToken {
    /// A token from random bytes the caller drew (the domain has no random source): 64 bits
    /// of id, 256 of secret, so guessing is hopeless and no lockout is needed.
    pub fn from_random(id: [u8; 8], secret: [u8; 32]) -> Self {
        use base64::Engine as _;
        let key_id = ReadKeyId(hex::encode(id));
        Self { key_id, secret: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret) }
    }

    /// Parses `<key_id>.<secret>`: 16 lowercase hex digits, a dot, 43 base64url characters.
    pub fn parse(token: &str) -> Result<Self, String> {
        let malformed = || "must be `<key_id>.<secret>`: 16 lowercase hex digits, a dot, 43 base64url characters";
        let (id, secret) = token.split_once('.').ok_or_else(|| malformed().to_owned())?;
        let key_id = ReadKeyId::parse(id).map_err(|_| malformed().to_owned())?;
        let base64url = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        if secret.len() != SECRET_CHARS || !secret.bytes().all(base64url) {
            return Err(malformed().to_owned());
        }
        Ok(Self { key_id, secret: secret.to_owned() })
    }

    /// The key's id.
    pub fn key_id(&self) -> &ReadKeyId {
        &self.key_id
    }

    /// The secret, to show its owner once.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// SHA-256 of the secret's text: what events and the read model keep instead of it.
    pub fn digest(&self) -> [u8; 32] {
        use sha2::Digest as _;
        sha2::Sha256::digest(self.secret.as_bytes()).into()
    }
}

/// `<key_id>.<secret>`, the credential to send.
impl std::fmt::Display for ReadKeyToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.key_id.0, self.secret)
    }
}

/// Never the secret: a token may end up in a log line.
impl std::fmt::Debug for ReadKeyToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadKeyToken").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

/// What a key is for, e.g. `grafana dashboard`; may be empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReadKeyLabel(String);

impl ReadKeyLabel {
    /// Trims and validates a label.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let label = raw.trim();
        if label.chars().count() > MAX_LABEL_CHARS {
            return Err(format!("must be at most {MAX_LABEL_CHARS} characters"));
        }
        if label.chars().any(char::is_control) {
            return Err("must not contain control characters".to_owned());
        }
        Ok(Self(label.to_owned()))
    }

    /// The label's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Issue a read key for a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueReadKey {
    /// The site the key reads.
    pub site_id: SiteId,
    /// The new key's id, drawn by the edge.
    pub key_id: ReadKeyId,
    /// SHA-256 of the secret's text.
    pub key_hash: [u8; 32],
    /// What the key is for.
    pub label: ReadKeyLabel,
}

impl IssueReadKey {
    /// Validates the caller's label; id and digest come from the edge's
    /// random source, not from the caller.
    pub fn new(site_id: SiteId, key_id: ReadKeyId, key_hash: [u8; 32], label: &str) -> Result<Self, ValidationError> {
        let mut v = Violations::new();
        let label = v.check("label", ReadKeyLabel::parse(label));
        let Some(label) = label else { return Err(v.into_error()) };
        Ok(Self { site_id, key_id, key_hash, label })
    }
}

/// Revoke one of a site's read keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeReadKey {
    /// The key's site.
    pub site_id: SiteId,
    /// The key to revoke.
    pub key_id: ReadKeyId,
}

impl RevokeReadKey {
    /// Validates the key id the caller named.
    pub fn new(site_id: SiteId, key_id: &str) -> Result<Self, ValidationError> {
        let mut v = Violations::new();
        let key_id = v.required("key_id", key_id, ReadKeyId::parse);
        let Some(key_id) = key_id else { return Err(v.into_error()) };
        Ok(Self { site_id, key_id })
    }
}

/// A read key was issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteReadKeyIssued {
    /// The key's site.
    pub site_id: SiteId,
    /// The key's id.
    pub key_id: ReadKeyId,
    /// SHA-256 of the secret.
    pub key_hash: [u8; 32],
    /// What the key is for.
    pub label: ReadKeyLabel,
}

/// A read key was revoked; it reads nothing from now on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteReadKeyRevoked {
    /// The key's site.
    pub site_id: SiteId,
    /// The revoked key.
    pub key_id: ReadKeyId,
}

/// The keys a live site has issued.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadKeys {
    /// Keys that read the site's statistics.
    pub active: std::collections::BTreeSet<ReadKeyId>,
    /// Keys revoked; their ids stay taken.
    pub revoked: std::collections::BTreeSet<ReadKeyId>,
}

impl ReadKeys {
    /// Whether `id` was ever issued.
    pub fn contains(&self, id: &ReadKeyId) -> bool {
        self.active.contains(id) || self.revoked.contains(id)
    }
}
