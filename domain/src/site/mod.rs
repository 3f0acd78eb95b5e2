//! The site aggregate: one web site whose traffic Tally counts.
//!
//! A site belongs to a profile, is identified to the tracker by its domain
//! (unique across all sites, enforced through claims) and reports in its
//! own time zone.

mod claims;
mod command;
mod decide;
mod event;
mod read_key;
mod state;
#[cfg(test)]
mod tests;

pub use command::{DeleteSite, RegisterSite, SiteChanges, SiteCommand, SiteInput, UpdateSite};
pub use event::{SiteDeleted, SiteEvent, SiteRegistered, SiteUpdated};
pub use read_key::{
    IssueReadKey, MAX_ACTIVE_READ_KEYS, MAX_LABEL_CHARS, ReadKeyId, ReadKeyLabel, ReadKeyToken, ReadKeys,
    RevokeReadKey, SECRET_CHARS as READ_KEY_SECRET_CHARS, SiteReadKeyIssued, SiteReadKeyRevoked,
};
pub use state::{Site, SiteData};

/// Claim scope under which site domains are unique.
pub const DOMAIN_CLAIM_SCOPE: &str = "site.domain";
