//! The pure domain model of Tally.
//!
//! This crate holds the rules of the service and nothing else: validated
//! value types, the `Profile` and `Site` aggregates, the commands they accept
//! and the events they emit. Every decision is a pure function of the current
//! state and a command, so the rules can be tested without a database,
//! network or clock — and so every other crate (gRPC edge, event store,
//! projector) agrees on one definition of what is valid.
//!
//! The shape follows the "decider" pattern: `decide` turns a command into
//! events without mutating anything, `evolve` folds events into state and
//! never fails, and `claims` tells the event store which unique keys
//! (handles, domains) an event takes or gives back.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod aggregate;
pub mod analytics;
pub mod error;
mod field_mask;
pub mod ids;
pub mod profile;
mod serde_util;
pub mod sessions;
pub mod site;
pub mod values;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use aggregate::{Aggregate, ClaimAction, DomainEvent, UniqueClaim, claims_for, replay, stream_id};
pub use error::{DomainError, FieldViolation, ValidationError, Violations};
pub use ids::{ProfileId, SiteId};
pub use profile::{
    CreateProfile, DeleteProfile, HANDLE_CLAIM_SCOPE, Profile, ProfileChanges, ProfileCommand, ProfileCreated,
    ProfileData, ProfileDeleted, ProfileEvent, ProfileInput, ProfileUpdated, UpdateProfile,
};
pub use site::{
    DOMAIN_CLAIM_SCOPE, DeleteSite, IssueReadKey, READ_KEY_SECRET_CHARS, ReadKeyId, ReadKeyLabel, ReadKeyToken,
    ReadKeys, RegisterSite, RevokeReadKey, Site, SiteChanges, SiteCommand, SiteData, SiteDeleted, SiteEvent, SiteInput,
    SiteReadKeyIssued, SiteReadKeyRevoked, SiteRegistered, SiteUpdated, UpdateSite,
};
pub use values::{Attributes, Bio, DisplayName, Email, Handle, HttpUrl, SiteDomain, SiteName, TimeZone};
