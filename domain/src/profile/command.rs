//! What callers can ask of a profile, and how raw input becomes a
//! validated command.

use std::collections::BTreeMap;

use crate::error::{ValidationError, Violations};
use crate::field_mask::FieldMask;
use crate::ids::ProfileId;
use crate::values::{Attributes, Bio, DisplayName, Email, Handle, HttpUrl};

/// Unvalidated profile fields as the edge received them (proto or JSON).
///
/// Plain strings because that is what proto3 gives us: an unset string is
/// empty, so "empty" stands for "not given" throughout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileInput {
    /// Requested handle.
    pub handle: String,
    /// Requested display name.
    pub display_name: String,
    /// Requested email address.
    pub email: String,
    /// Requested bio; empty for none.
    pub bio: String,
    /// Requested avatar URL; empty for none.
    pub avatar_url: String,
    /// Requested attributes.
    pub attributes: BTreeMap<String, String>,
}

/// Create a profile with the given id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateProfile {
    /// Id of the new profile, chosen by the caller so retries are idempotent.
    pub profile_id: ProfileId,
    /// Unique handle.
    pub handle: Handle,
    /// Display name.
    pub display_name: DisplayName,
    /// Email address.
    pub email: Email,
    /// Bio, possibly empty.
    pub bio: Bio,
    /// Avatar, if any.
    pub avatar_url: Option<HttpUrl>,
    /// Attributes, possibly empty.
    pub attributes: Attributes,
}

impl CreateProfile {
    /// Validates every field of `input`, reporting all violations at once.
    /// Handle, display name and email are required.
    pub fn new(profile_id: ProfileId, input: ProfileInput) -> Result<Self, ValidationError> {
        let mut v = Violations::new();
        let handle = v.required("handle", &input.handle, Handle::parse);
        let display_name = v.required("display_name", &input.display_name, DisplayName::parse);
        let email = v.required("email", &input.email, Email::parse);
        let bio = v.check("bio", Bio::parse(&input.bio));
        let avatar_url = v.check("avatar_url", HttpUrl::parse_optional(&input.avatar_url));
        let attributes = v.merge(Attributes::parse(input.attributes));
        let (Some(handle), Some(display_name), Some(email), Some(bio), Some(avatar_url), Some(attributes)) =
            (handle, display_name, email, bio, avatar_url, attributes)
        else {
            return Err(v.into_error());
        };
        Ok(Self { profile_id, handle, display_name, email, bio, avatar_url, attributes })
    }
}

/// The fields an update sets; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChanges {
    /// New handle.
    pub handle: Option<Handle>,
    /// New display name.
    pub display_name: Option<DisplayName>,
    /// New email address.
    pub email: Option<Email>,
    /// New bio; an empty bio clears it.
    pub bio: Option<Bio>,
    /// New avatar: `Some(None)` removes it.
    pub avatar_url: Option<Option<HttpUrl>>,
    /// Replacement attributes (the whole map, not a merge).
    pub attributes: Option<Attributes>,
}

/// Change some fields of a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateProfile {
    /// The profile to change.
    pub profile_id: ProfileId,
    /// What to change.
    pub changes: ProfileChanges,
}

impl UpdateProfile {
    /// Field-mask paths an update accepts; `"*"` stands for all of them.
    pub const UPDATABLE_FIELDS: [&'static str; 6] =
        ["handle", "display_name", "email", "bio", "avatar_url", "attributes"];

    /// Validates the fields named by `mask` (AIP-134 paths) and ignores the
    /// rest of `input`, so a client may send a whole resource and change
    /// only part of it. All violations, mask ones included, come back at
    /// once.
    pub fn new(profile_id: ProfileId, input: ProfileInput, mask: &[String]) -> Result<Self, ValidationError> {
        let mut v = Violations::new();
        let mask = FieldMask::resolve(mask, &Self::UPDATABLE_FIELDS, &[], &mut v);
        let ProfileInput { handle, display_name, email, bio, avatar_url, attributes } = input;
        let changes = ProfileChanges {
            handle: mask.contains("handle").then(|| v.required("handle", &handle, Handle::parse)).flatten(),
            display_name: mask
                .contains("display_name")
                .then(|| v.required("display_name", &display_name, DisplayName::parse))
                .flatten(),
            email: mask.contains("email").then(|| v.required("email", &email, Email::parse)).flatten(),
            bio: mask.contains("bio").then(|| v.check("bio", Bio::parse(&bio))).flatten(),
            avatar_url: mask
                .contains("avatar_url")
                .then(|| v.check("avatar_url", HttpUrl::parse_optional(&avatar_url)))
                .flatten(),
            attributes: mask.contains("attributes").then(|| v.merge(Attributes::parse(attributes))).flatten(),
        };
        v.finish()?;
        Ok(Self { profile_id, changes })
    }
}

/// Delete a profile, releasing its handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteProfile {
    /// The profile to delete.
    pub profile_id: ProfileId,
}

/// Every command a profile accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileCommand {
    /// See [`CreateProfile`].
    Create(CreateProfile),
    /// See [`UpdateProfile`].
    Update(UpdateProfile),
    /// See [`DeleteProfile`].
    Delete(DeleteProfile),
}

impl ProfileCommand {
    /// The profile the command targets, which names the stream to load.
    pub fn profile_id(&self) -> ProfileId {
        match self {
            ProfileCommand::Create(c) => c.profile_id,
            ProfileCommand::Update(c) => c.profile_id,
            ProfileCommand::Delete(c) => c.profile_id,
        }
    }
}

impl From<CreateProfile> for ProfileCommand {
    fn from(command: CreateProfile) -> Self {
        ProfileCommand::Create(command)
    }
}

impl From<UpdateProfile> for ProfileCommand {
    fn from(command: UpdateProfile) -> Self {
        ProfileCommand::Update(command)
    }
}

impl From<DeleteProfile> for ProfileCommand {
    fn from(command: DeleteProfile) -> Self {
        ProfileCommand::Delete(command)
    }
}
