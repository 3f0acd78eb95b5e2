//! What has happened to profiles.
//!
//! Events are stored as JSON tagged with their type name, so the serde
//! shape here is a storage format: renaming a field needs a new schema
//! version.

use serde::{Deserialize, Serialize};

use crate::aggregate::DomainEvent;
use crate::ids::ProfileId;
use crate::values::{Attributes, Bio, DisplayName, Email, Handle, HttpUrl};

/// A profile came into being.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileCreated {
    /// The new profile.
    pub profile_id: ProfileId,
    /// Its handle.
    pub handle: Handle,
    /// Its display name.
    pub display_name: DisplayName,
    /// Its email address.
    pub email: Email,
    /// Its bio, possibly empty.
    pub bio: Bio,
    /// Its avatar, if any.
    pub avatar_url: Option<HttpUrl>,
    /// Its attributes.
    pub attributes: Attributes,
}

/// Some fields of a profile changed. Only fields whose value actually
/// changed are `Some`, so projections can apply the event blindly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileUpdated {
    /// The changed profile.
    pub profile_id: ProfileId,
    /// New handle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<Handle>,
    /// New display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<DisplayName>,
    /// New email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    /// New bio; empty when cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bio: Option<Bio>,
    /// New avatar; `Some(None)` when removed (stored as `null`, whereas an
    /// unchanged avatar is omitted).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::serde_util::double_option")]
    pub avatar_url: Option<Option<HttpUrl>>,
    /// Complete new attribute map.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Attributes>,
}

impl ProfileUpdated {
    /// Whether the event changes nothing.
    pub fn is_empty(&self) -> bool {
        self.handle.is_none()
            && self.display_name.is_none()
            && self.email.is_none()
            && self.bio.is_none()
            && self.avatar_url.is_none()
            && self.attributes.is_none()
    }
}

/// A profile was deleted and its handle released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileDeleted {
    /// The deleted profile.
    pub profile_id: ProfileId,
}

/// Every event of the profile stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ProfileEvent {
    /// See [`ProfileCreated`].
    #[serde(rename = "ProfileCreated")]
    Created(ProfileCreated),
    /// See [`ProfileUpdated`].
    #[serde(rename = "ProfileUpdated")]
    Updated(ProfileUpdated),
    /// See [`ProfileDeleted`].
    #[serde(rename = "ProfileDeleted")]
    Deleted(ProfileDeleted),
}

impl ProfileEvent {
    /// The profile the event belongs to.
    pub fn profile_id(&self) -> ProfileId {
        match self {
            ProfileEvent::Created(e) => e.profile_id,
            ProfileEvent::Updated(e) => e.profile_id,
            ProfileEvent::Deleted(e) => e.profile_id,
        }
    }
}

impl DomainEvent for ProfileEvent {
    fn event_type(&self) -> &'static str {
        match self {
            ProfileEvent::Created(_) => "ProfileCreated",
            ProfileEvent::Updated(_) => "ProfileUpdated",
            ProfileEvent::Deleted(_) => "ProfileDeleted",
        }
    }
}
