//! Per-site read keys: every statistics read presents `Authorization: Bearer
//! <key_id>.<secret>` (gRPC metadata `authorization`), checked against the
//! projector's `site_read_keys` view.
//!
//! Only the secret's SHA-256 is ever stored; the secret is hashed as soon as it
//! is parsed, so nothing here holds (or can log) it. Every way a key can fail
//! for a site (unknown, revoked, wrong secret, another site's, a site that does
//! not exist) gets the same answer, so a refusal tells a caller nothing about
//! which keys or sites exist.

use chrono::NaiveDate;
use subtle::ConstantTimeEq;
use tally_domain::{ReadKeyToken, TimeZone};
use uuid::Uuid;

use crate::read::{ReadError, Reads};

/// The header (gRPC: metadata key) a read key travels in.
pub const AUTHORIZATION: &str = "authorization";

/// A well-formed key as presented: its id and the SHA-256 of its secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    key_id: String,
    digest: [u8; 32],
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

/// What a request carried in its `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    Missing,
    Malformed,
    Key(Credential),
}

/// Why a statistics read was refused; the text is the client's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("a read key is required: send the Authorization header as `Bearer <key_id>.<secret>`")]
    Missing,
    #[error(
        "the Authorization header is malformed: expected `Bearer <key_id>.<secret>` (16 lowercase hex digits, a \
         dot, 43 base64url characters)"
    )]
    Malformed,
    #[error("the read key is not valid for this site")]
    Invalid,
}

impl Presented {
    /// Parses the raw header value (`None` when absent). The scheme is case-insensitive
    /// (RFC 9110); the token is not.
    pub fn parse(header: Option<&[u8]>) -> Presented {
        let Some(raw) = header else { return Presented::Missing };
        let token = std::str::from_utf8(raw).ok().and_then(tally_platform::http::bearer);
        match token.map(ReadKeyToken::parse) {
            Some(Ok(token)) => {
                Presented::Key(Credential { key_id: token.key_id().as_str().to_owned(), digest: token.digest() })
            }
            _ => Presented::Malformed,
        }
    }
}

/// Whether `presented` is the secret of `stored`, in time independent of where they differ.
fn matches(stored: &[u8], presented: &[u8; 32]) -> bool {
    bool::from(stored.ct_eq(presented))
}

/// A statistics read of a site that [`Reads::authorize`] let through, with the site's time
/// zone (read in the same statement as the key, so a statistics read costs no extra round
/// trip for it). Only `authorize` makes one, so a statistics read cannot skip the check.
#[derive(Debug, Clone)]
pub struct Access {
    site: Uuid,
    zone: TimeZone,
    open_from: Option<NaiveDate>,
}

impl Access {
    pub fn site(&self) -> Uuid {
        self.site
    }

    /// The site's time zone: its buckets and "today".
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// The site's first open day, if it has one: from it on, its days are not yet in their
    /// weeks' and months' rollup rows (`tally_domain::sessions::cover_open`). Read with the
    /// key; the projector only ever moves it later, and an earlier one is still exact (more
    /// days are read as days), so it holds for the whole read.
    pub fn open_from(&self) -> Option<NaiveDate> {
        self.open_from
    }
}

/// The key's stored hash, its site's time zone and first open day. A deleted site's keys go
/// with it, and a key without its site's row (never expected) reads as no key.
const KEY_HASH: &str = "SELECT k.key_hash, s.time_zone, o.open_from FROM site_read_keys k \
                        JOIN sites s ON s.id = k.site_id LEFT JOIN analytics_open o ON o.site_id = k.site_id \
                        WHERE k.site_id = $1 AND k.key_id = $2 AND NOT k.revoked";

impl Reads {
    /// Lets a statistics read of `site` go ahead only with a valid key for that site. With a
    /// key, it first waits for `min_position`, so a key issued by the command at that position
    /// is seen (so the reads that follow need not wait again); a missing or malformed header is
    /// refused without waiting.
    #[tracing::instrument(skip_all, fields(%site))]
    pub async fn authorize(
        &self,
        site: Uuid,
        min_position: Option<u64>,
        presented: &Presented,
    ) -> Result<Access, ReadError> {
        let key = match presented {
            Presented::Missing => return Err(refused(site, None, Refusal::Missing)),
            Presented::Malformed => return Err(refused(site, None, Refusal::Malformed)),
            Presented::Key(key) => key,
        };
        self.wait_for(min_position).await?;
        let client = self.pool().get().await?;
        let stmt = client.prepare_cached(KEY_HASH).await?;
        let row = client.query_opt(&stmt, &[&site, &key.key_id]).await?;
        let Some(row) = row.filter(|row| row.try_get::<_, &[u8]>(0).is_ok_and(|hash| matches(hash, &key.digest)))
        else {
            return Err(refused(site, Some(&key.key_id), Refusal::Invalid));
        };
        let name: &str = row.try_get(1)?;
        let zone =
            TimeZone::parse(name).map_err(|e| ReadError::Decode(format!("site {site} has time zone {name:?}: {e}")))?;
        Ok(Access { site, zone, open_from: row.try_get(2)? })
    }
}

fn refused(site: Uuid, key_id: Option<&str>, why: Refusal) -> ReadError {
    tracing::debug!(%site, key_id, reason = ?why, "statistics read refused");
    metrics::counter!("query_read_key_refusals_total", "reason" => reason_label(why)).increment(1);
    ReadError::Unauthenticated(why)
}

fn reason_label(why: Refusal) -> &'static str {
    match why {
        Refusal::Missing => "missing",
        Refusal::Malformed => "malformed",
        Refusal::Invalid => "invalid",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use sha2::{Digest, Sha256};

    const SECRET: &str = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde";

    fn parse(raw: &str) -> Presented {
        Presented::parse(Some(raw.as_bytes()))
    }

    #[test]
    fn a_bearer_key_parses_into_its_id_and_the_digest_of_its_secret() {
        assert_eq!(SECRET.len(), tally_domain::READ_KEY_SECRET_CHARS);
        let Presented::Key(key) = parse(&format!("Bearer 0123456789abcdef.{SECRET}")) else { panic!("not a key") };
        assert_eq!(key.key_id, "0123456789abcdef");
        assert_eq!(key.digest, <[u8; 32]>::from(Sha256::digest(SECRET.as_bytes())));
        assert!(matches!(parse(&format!("bearer 0123456789abcdef.{SECRET}")), Presented::Key(_)));
        assert!(!format!("{key:?}").contains(SECRET), "the secret is not even kept");
    }

    #[test]
    fn anything_else_is_malformed_or_missing() {
        assert_eq!(Presented::parse(None), Presented::Missing);
        for raw in [
            "",
            "Bearer",
            &format!("Basic 0123456789abcdef.{SECRET}"),
            &format!("Bearer 0123456789ABCDEF.{SECRET}"),
            &format!("Bearer 0123456789abcde.{SECRET}"),
            &format!("Bearer 0123456789abcdef{SECRET}"),
            &format!("Bearer 0123456789abcdef.{SECRET}="),
            &format!("Bearer 0123456789abcdef.{}", &SECRET[1..]),
            &format!("Bearer 0123456789abcdef.{}+", &SECRET[1..]),
            &format!("Bearer 0123456789abcdef.{SECRET} extra"),
        ] {
            assert_eq!(parse(raw), Presented::Malformed, "{raw:?}");
        }
        assert_eq!(Presented::parse(Some(b"Bearer \xff")), Presented::Malformed);
    }

    #[test]
    fn a_secret_matches_only_its_own_digest() {
        let digest: [u8; 32] = Sha256::digest(SECRET.as_bytes()).into();
        assert!(matches(&digest, &digest));
        let mut other = digest;
        other[31] ^= 1;
        assert!(!matches(&other, &digest));
        assert!(!matches(&digest[..31], &digest), "a truncated hash never matches");
    }
}
