//! Profile state and how events change it.

use crate::aggregate::{Aggregate, UniqueClaim};
use crate::error::DomainError;
use crate::ids::ProfileId;
use crate::values::{Attributes, Bio, DisplayName, Email, Handle, HttpUrl};

use super::{ProfileCommand, ProfileEvent, claims, decide};

/// The lifecycle of one profile stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per loaded stream, almost always Active; boxing would only \
              complicate construction and matching for callers"
)]
pub enum Profile {
    /// Nothing has happened in the stream yet.
    #[default]
    Absent,
    /// The profile exists.
    Active(ProfileData),
    /// The profile was deleted; kept distinct from `Absent` so the id
    /// cannot be reused and callers learn it was deleted, not mistyped.
    Deleted {
        /// The deleted profile's id.
        id: ProfileId,
    },
}

/// Everything known about a live profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileData {
    /// The profile's id.
    pub id: ProfileId,
    /// Unique public handle.
    pub handle: Handle,
    /// Name shown to others.
    pub display_name: DisplayName,
    /// Contact address.
    pub email: Email,
    /// Free text; empty when unset.
    pub bio: Bio,
    /// Avatar image, if any.
    pub avatar_url: Option<HttpUrl>,
    /// Free-form attributes.
    pub attributes: Attributes,
}

impl Profile {
    /// The live profile's data, or `None` when absent or deleted.
    pub fn data(&self) -> Option<&ProfileData> {
        match self {
            Profile::Active(data) => Some(data),
            Profile::Absent | Profile::Deleted { .. } => None,
        }
    }

    /// The id, once the profile has been created.
    pub fn id(&self) -> Option<ProfileId> {
        match self {
            Profile::Absent => None,
            Profile::Active(data) => Some(data.id),
            Profile::Deleted { id } => Some(*id),
        }
    }

    /// Whether the profile was deleted.
    pub fn is_deleted(&self) -> bool {
        matches!(self, Profile::Deleted { .. })
    }
}

impl Aggregate for Profile {
    type Command = ProfileCommand;
    type Event = ProfileEvent;
    const CATEGORY: &'static str = "profile";

    fn decide(&self, command: &ProfileCommand) -> Result<Vec<ProfileEvent>, DomainError> {
        decide::decide(self, command)
    }

    fn evolve(&mut self, event: &ProfileEvent) {
        match event {
            ProfileEvent::Created(e) => {
                *self = Profile::Active(ProfileData {
                    id: e.profile_id,
                    handle: e.handle.clone(),
                    display_name: e.display_name.clone(),
                    email: e.email.clone(),
                    bio: e.bio.clone(),
                    avatar_url: e.avatar_url.clone(),
                    attributes: e.attributes.clone(),
                });
            }
            ProfileEvent::Updated(e) => {
                // An update to a non-live profile cannot have been decided;
                // ignoring it keeps replay total instead of panicking on
                // damaged history.
                let Profile::Active(data) = self else { return };
                if let Some(handle) = &e.handle {
                    data.handle = handle.clone();
                }
                if let Some(display_name) = &e.display_name {
                    data.display_name = display_name.clone();
                }
                if let Some(email) = &e.email {
                    data.email = email.clone();
                }
                if let Some(bio) = &e.bio {
                    data.bio = bio.clone();
                }
                if let Some(avatar_url) = &e.avatar_url {
                    data.avatar_url = avatar_url.clone();
                }
                if let Some(attributes) = &e.attributes {
                    data.attributes = attributes.clone();
                }
            }
            ProfileEvent::Deleted(e) => *self = Profile::Deleted { id: e.profile_id },
        }
    }

    fn claims(&self, event: &ProfileEvent) -> Vec<UniqueClaim> {
        claims::claims(self, event)
    }
}
