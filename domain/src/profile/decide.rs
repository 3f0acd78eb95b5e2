//! The profile's business rules: which commands are allowed, and what
//! they cause.

use crate::error::DomainError;
use crate::ids::ProfileId;

use super::{
    CreateProfile, DeleteProfile, Profile, ProfileCommand, ProfileCreated, ProfileData, ProfileDeleted, ProfileEvent,
    ProfileUpdated, UpdateProfile,
};

const KIND: &str = "profile";

pub(super) fn decide(state: &Profile, command: &ProfileCommand) -> Result<Vec<ProfileEvent>, DomainError> {
    match command {
        ProfileCommand::Create(c) => create(state, c),
        ProfileCommand::Update(c) => update(state, c),
        ProfileCommand::Delete(c) => delete(state, c),
    }
}

fn create(state: &Profile, c: &CreateProfile) -> Result<Vec<ProfileEvent>, DomainError> {
    // A deleted id stays taken: reusing it would splice a new profile onto
    // an old stream's history.
    if !matches!(state, Profile::Absent) {
        return Err(DomainError::AlreadyExists { kind: KIND, id: c.profile_id.to_string() });
    }
    Ok(vec![ProfileEvent::Created(ProfileCreated {
        profile_id: c.profile_id,
        handle: c.handle.clone(),
        display_name: c.display_name.clone(),
        email: c.email.clone(),
        bio: c.bio.clone(),
        avatar_url: c.avatar_url.clone(),
        attributes: c.attributes.clone(),
    })])
}

fn update(state: &Profile, c: &UpdateProfile) -> Result<Vec<ProfileEvent>, DomainError> {
    let data = live(state, c.profile_id)?;
    let changes = &c.changes;
    let event = ProfileUpdated {
        profile_id: data.id,
        handle: changed(&changes.handle, &data.handle),
        display_name: changed(&changes.display_name, &data.display_name),
        email: changed(&changes.email, &data.email),
        bio: changed(&changes.bio, &data.bio),
        avatar_url: changed(&changes.avatar_url, &data.avatar_url),
        attributes: changed(&changes.attributes, &data.attributes),
    };
    // Writing the same values again is accepted but records nothing, so
    // retries and "save" buttons do not flood the stream.
    if event.is_empty() { Ok(Vec::new()) } else { Ok(vec![ProfileEvent::Updated(event)]) }
}

fn delete(state: &Profile, c: &DeleteProfile) -> Result<Vec<ProfileEvent>, DomainError> {
    let data = live(state, c.profile_id)?;
    Ok(vec![ProfileEvent::Deleted(ProfileDeleted { profile_id: data.id })])
}

/// The live profile, or the error explaining why there is none.
fn live(state: &Profile, id: ProfileId) -> Result<&ProfileData, DomainError> {
    match state {
        Profile::Active(data) => Ok(data),
        Profile::Absent => Err(DomainError::NotFound { kind: KIND, id: id.to_string() }),
        Profile::Deleted { .. } => Err(DomainError::Gone { kind: KIND, id: id.to_string() }),
    }
}

/// The requested value, if one was requested and it differs from the
/// current one.
fn changed<T: PartialEq + Clone>(requested: &Option<T>, current: &T) -> Option<T> {
    requested.as_ref().filter(|new| *new != current).cloned()
}
