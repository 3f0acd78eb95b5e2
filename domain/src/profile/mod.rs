//! The profile aggregate: one user's public identity.
//!
//! A profile is created once, updated field by field, and deleted for good;
//! its handle is unique across all profiles, enforced through claims.

mod claims;
mod command;
mod decide;
mod event;
mod state;
#[cfg(test)]
mod tests;

pub use command::{CreateProfile, DeleteProfile, ProfileChanges, ProfileCommand, ProfileInput, UpdateProfile};
pub use event::{ProfileCreated, ProfileDeleted, ProfileEvent, ProfileUpdated};
pub use state::{Profile, ProfileData};

/// Claim scope under which handles are unique.
pub const HANDLE_CLAIM_SCOPE: &str = "profile.handle";
