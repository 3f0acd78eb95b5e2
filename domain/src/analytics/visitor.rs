//! The anonymous visitor id.
//!
//! `HMAC-SHA256(key = salt of (site, local day), site ‖ IP ‖ User-Agent)`.
//! The salt is random, exists per site per local day and is destroyed two
//! days later; after that nobody, Tally included, can link an id back to an
//! IP address or link the same visitor across days. Within one day and site,
//! the same IP and User-Agent always give the same id, which is what makes
//! "distinct visitors per day" countable.

use std::fmt;
use std::net::IpAddr;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::SiteId;

/// Salt length in bytes (a SHA-256 block's worth of key material is plenty).
pub const SALT_LEN: usize = 32;

/// A day's secret salt. `Debug` does not print it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Salt(pub [u8; SALT_LEN]);

impl Salt {
    /// Wraps stored bytes; `None` when they are not [`SALT_LEN`] long.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Salt)
    }
}

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Salt(<redacted>)")
    }
}

/// Bytes of the hash kept: 128 bits make collisions between a site's
/// visitors of one day vanishingly unlikely while keeping keys short.
const ID_BYTES: usize = 16;

/// The visitor id of (site, IP, User-Agent) under `salt`, hex-encoded.
pub fn visitor_id(salt: &Salt, site: SiteId, ip: Option<IpAddr>, user_agent: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&salt.0).expect("HMAC takes keys of any length");
    mac.update(site.as_uuid().as_bytes());
    // Separators keep ("1.2.3.4", "5x") and ("1.2.3.45", "x") apart.
    mac.update(&[0]);
    mac.update(ip.map(|ip| ip.to_string()).unwrap_or_default().as_bytes());
    mac.update(&[0]);
    mac.update(user_agent.as_bytes());
    let digest = mac.finalize().into_bytes();
    hex::encode(&digest[..ID_BYTES])
}
