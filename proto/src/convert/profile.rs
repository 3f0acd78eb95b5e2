//! Profiles: event payloads, the `Profile` resource and request input.

use std::collections::{BTreeMap, HashMap};

use prost::Message as _;
use tally_domain::{
    Attributes, Bio, DisplayName, Email, Handle, HttpUrl, ProfileCreated, ProfileData, ProfileDeleted, ProfileEvent,
    ProfileInput, ProfileUpdated,
};

use super::{
    DecodeError, ResourceMeta, check_schema_version, event_types, parse_id, parse_optional, parse_value, to_timestamp,
};
use crate::v1;

// ---------------------------------------------------------------------------
// Domain events -> payload messages
// ---------------------------------------------------------------------------

impl From<&ProfileCreated> for v1::ProfileCreated {
    fn from(e: &ProfileCreated) -> Self {
        Self {
            profile_id: e.profile_id.to_string(),
            handle: e.handle.as_str().to_owned(),
            display_name: e.display_name.as_str().to_owned(),
            email: e.email.as_str().to_owned(),
            bio: e.bio.as_str().to_owned(),
            avatar_url: e.avatar_url.as_ref().map(|u| u.as_str().to_owned()).unwrap_or_default(),
            attributes: to_proto_map(&e.attributes),
        }
    }
}

impl From<&ProfileUpdated> for v1::ProfileUpdated {
    fn from(e: &ProfileUpdated) -> Self {
        Self {
            profile_id: e.profile_id.to_string(),
            handle: e.handle.as_ref().map(|v| v.as_str().to_owned()),
            display_name: e.display_name.as_ref().map(|v| v.as_str().to_owned()),
            email: e.email.as_ref().map(|v| v.as_str().to_owned()),
            bio: e.bio.as_ref().map(|v| v.as_str().to_owned()),
            // `Some(None)` (avatar removed) is stored as `""`.
            avatar_url: e.avatar_url.as_ref().map(|v| v.as_ref().map(|u| u.as_str().to_owned()).unwrap_or_default()),
            attributes: e.attributes.as_ref().map(|a| v1::AttributesValue { entries: to_proto_map(a) }),
        }
    }
}

impl From<&ProfileDeleted> for v1::ProfileDeleted {
    fn from(e: &ProfileDeleted) -> Self {
        Self { profile_id: e.profile_id.to_string() }
    }
}

/// Encodes a profile event as its payload message.
///
/// Returns the event type to store next to it (the payload's full protobuf
/// name, e.g. `"tally.v1.ProfileCreated"`) and the encoded bytes. The schema
/// version is [`super::SCHEMA_VERSION`].
#[must_use]
pub fn encode_profile_event(event: &ProfileEvent) -> (&'static str, Vec<u8>) {
    match event {
        ProfileEvent::Created(e) => (event_types::PROFILE_CREATED, v1::ProfileCreated::from(e).encode_to_vec()),
        ProfileEvent::Updated(e) => (event_types::PROFILE_UPDATED, v1::ProfileUpdated::from(e).encode_to_vec()),
        ProfileEvent::Deleted(e) => (event_types::PROFILE_DELETED, v1::ProfileDeleted::from(e).encode_to_vec()),
    }
}

// ---------------------------------------------------------------------------
// Payload messages -> domain events (re-validated)
// ---------------------------------------------------------------------------

impl TryFrom<v1::ProfileCreated> for ProfileCreated {
    type Error = DecodeError;

    fn try_from(p: v1::ProfileCreated) -> Result<Self, DecodeError> {
        Ok(Self {
            profile_id: parse_id("profile_id", &p.profile_id)?,
            handle: parse_value("handle", &p.handle, Handle::parse)?,
            display_name: parse_value("display_name", &p.display_name, DisplayName::parse)?,
            email: parse_value("email", &p.email, Email::parse)?,
            bio: parse_value("bio", &p.bio, Bio::parse)?,
            avatar_url: parse_value("avatar_url", &p.avatar_url, HttpUrl::parse_optional)?,
            attributes: parse_attributes(p.attributes)?,
        })
    }
}

impl TryFrom<v1::ProfileUpdated> for ProfileUpdated {
    type Error = DecodeError;

    fn try_from(p: v1::ProfileUpdated) -> Result<Self, DecodeError> {
        Ok(Self {
            profile_id: parse_id("profile_id", &p.profile_id)?,
            handle: parse_optional("handle", p.handle.as_deref(), Handle::parse)?,
            display_name: parse_optional("display_name", p.display_name.as_deref(), DisplayName::parse)?,
            email: parse_optional("email", p.email.as_deref(), Email::parse)?,
            bio: parse_optional("bio", p.bio.as_deref(), Bio::parse)?,
            avatar_url: parse_optional("avatar_url", p.avatar_url.as_deref(), HttpUrl::parse_optional)?,
            attributes: p.attributes.map(|a| parse_attributes(a.entries)).transpose()?,
        })
    }
}

impl TryFrom<v1::ProfileDeleted> for ProfileDeleted {
    type Error = DecodeError;

    fn try_from(p: v1::ProfileDeleted) -> Result<Self, DecodeError> {
        Ok(Self { profile_id: parse_id("profile_id", &p.profile_id)? })
    }
}

/// Decodes a stored profile event payload back into a domain event,
/// re-validating every value.
///
/// # Errors
///
/// [`DecodeError::UnknownType`] when `event_type` is not a profile event,
/// [`DecodeError::UnsupportedSchemaVersion`] for a schema version other than
/// [`super::SCHEMA_VERSION`], [`DecodeError::Malformed`] when `payload` is not
/// valid protobuf and [`DecodeError::Invalid`] when a value fails validation.
pub fn decode_profile_event(
    event_type: &str,
    schema_version: u32,
    payload: &[u8],
) -> Result<ProfileEvent, DecodeError> {
    let known = matches!(
        event_type,
        event_types::PROFILE_CREATED | event_types::PROFILE_UPDATED | event_types::PROFILE_DELETED
    );
    if !known {
        return Err(DecodeError::UnknownType(event_type.to_owned()));
    }
    check_schema_version(event_type, schema_version)?;
    Ok(match event_type {
        event_types::PROFILE_CREATED => ProfileEvent::Created(v1::ProfileCreated::decode(payload)?.try_into()?),
        event_types::PROFILE_UPDATED => ProfileEvent::Updated(v1::ProfileUpdated::decode(payload)?.try_into()?),
        _ => ProfileEvent::Deleted(v1::ProfileDeleted::decode(payload)?.try_into()?),
    })
}

// ---------------------------------------------------------------------------
// Resources and requests
// ---------------------------------------------------------------------------

/// Builds the `Profile` resource from the aggregate's state and its stream
/// bookkeeping. `sites` is left empty: only the read model knows them.
#[must_use]
pub fn profile_to_proto(data: &ProfileData, meta: &ResourceMeta) -> v1::Profile {
    v1::Profile {
        id: data.id.to_string(),
        handle: data.handle.as_str().to_owned(),
        display_name: data.display_name.as_str().to_owned(),
        email: data.email.as_str().to_owned(),
        bio: data.bio.as_str().to_owned(),
        avatar_url: data.avatar_url.as_ref().map(|u| u.as_str().to_owned()).unwrap_or_default(),
        attributes: to_proto_map(&data.attributes),
        version: meta.version,
        create_time: meta.create_time.map(to_timestamp),
        update_time: meta.update_time.map(to_timestamp),
        sites: Vec::new(),
    }
}

/// The unvalidated input of a create or update request. Output-only fields
/// (`id`, `version`, times, `sites`) are dropped.
impl From<v1::Profile> for ProfileInput {
    fn from(p: v1::Profile) -> Self {
        Self {
            handle: p.handle,
            display_name: p.display_name,
            email: p.email,
            bio: p.bio,
            avatar_url: p.avatar_url,
            attributes: p.attributes.into_iter().collect(),
        }
    }
}

/// Like `From<v1::Profile>`, for callers that keep the request.
impl From<&v1::Profile> for ProfileInput {
    fn from(p: &v1::Profile) -> Self {
        Self {
            handle: p.handle.clone(),
            display_name: p.display_name.clone(),
            email: p.email.clone(),
            bio: p.bio.clone(),
            avatar_url: p.avatar_url.clone(),
            attributes: p.attributes.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        }
    }
}

fn to_proto_map(attributes: &Attributes) -> HashMap<String, String> {
    attributes.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

fn parse_attributes(raw: HashMap<String, String>) -> Result<Attributes, DecodeError> {
    let raw: BTreeMap<String, String> = raw.into_iter().collect();
    Attributes::parse(raw).map_err(|violations| {
        // Report the first violation; the rest are rarely independent.
        violations.into_iter().next().map_or_else(
            || DecodeError::Invalid(Attributes::FIELD.to_owned(), "invalid".to_owned()),
            |v| DecodeError::Invalid(v.field, v.description),
        )
    })
}
