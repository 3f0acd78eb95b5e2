//! Sites: event payloads, the `Site` resource and request input.

use prost::Message as _;
use tally_domain::{
    ReadKeyId, ReadKeyLabel, SiteData, SiteDeleted, SiteDomain, SiteEvent, SiteInput, SiteName, SiteReadKeyIssued,
    SiteReadKeyRevoked, SiteRegistered, SiteUpdated, TimeZone,
};

use super::{
    DecodeError, ResourceMeta, check_schema_version, event_types, parse_id, parse_optional, parse_value, to_timestamp,
};
use crate::v1;

// ---------------------------------------------------------------------------
// Domain events -> payload messages
// ---------------------------------------------------------------------------

impl From<&SiteRegistered> for v1::SiteRegistered {
    fn from(e: &SiteRegistered) -> Self {
        Self {
            site_id: e.site_id.to_string(),
            domain: e.domain.as_str().to_owned(),
            time_zone: e.time_zone.name().to_owned(),
            owner_profile_id: e.owner_profile_id.to_string(),
            name: e.name.as_str().to_owned(),
        }
    }
}

impl From<&SiteUpdated> for v1::SiteUpdated {
    fn from(e: &SiteUpdated) -> Self {
        Self {
            site_id: e.site_id.to_string(),
            domain: e.domain.as_ref().map(|v| v.as_str().to_owned()),
            time_zone: e.time_zone.map(|v| v.name().to_owned()),
            name: e.name.as_ref().map(|v| v.as_str().to_owned()),
        }
    }
}

impl From<&SiteDeleted> for v1::SiteDeleted {
    fn from(e: &SiteDeleted) -> Self {
        Self { site_id: e.site_id.to_string() }
    }
}

impl From<&SiteReadKeyIssued> for v1::SiteReadKeyIssued {
    fn from(e: &SiteReadKeyIssued) -> Self {
        Self {
            site_id: e.site_id.to_string(),
            key_id: e.key_id.as_str().to_owned(),
            key_hash: e.key_hash.to_vec(),
            label: e.label.as_str().to_owned(),
        }
    }
}

impl From<&SiteReadKeyRevoked> for v1::SiteReadKeyRevoked {
    fn from(e: &SiteReadKeyRevoked) -> Self {
        Self { site_id: e.site_id.to_string(), key_id: e.key_id.as_str().to_owned() }
    }
}

/// Encodes a site event as its payload message.
///
/// Returns the event type to store next to it (the payload's full protobuf
/// name, e.g. `"tally.v1.SiteRegistered"`) and the encoded bytes. The schema
/// version is [`super::SCHEMA_VERSION`].
#[must_use]
pub fn encode_site_event(event: &SiteEvent) -> (&'static str, Vec<u8>) {
    match event {
        SiteEvent::Registered(e) => (event_types::SITE_REGISTERED, v1::SiteRegistered::from(e).encode_to_vec()),
        SiteEvent::Updated(e) => (event_types::SITE_UPDATED, v1::SiteUpdated::from(e).encode_to_vec()),
        SiteEvent::Deleted(e) => (event_types::SITE_DELETED, v1::SiteDeleted::from(e).encode_to_vec()),
        SiteEvent::ReadKeyIssued(e) => {
            (event_types::SITE_READ_KEY_ISSUED, v1::SiteReadKeyIssued::from(e).encode_to_vec())
        }
        SiteEvent::ReadKeyRevoked(e) => {
            (event_types::SITE_READ_KEY_REVOKED, v1::SiteReadKeyRevoked::from(e).encode_to_vec())
        }
    }
}

// ---------------------------------------------------------------------------
// Payload messages -> domain events (re-validated)
// ---------------------------------------------------------------------------

impl TryFrom<v1::SiteRegistered> for SiteRegistered {
    type Error = DecodeError;

    fn try_from(p: v1::SiteRegistered) -> Result<Self, DecodeError> {
        Ok(Self {
            site_id: parse_id("site_id", &p.site_id)?,
            domain: parse_value("domain", &p.domain, SiteDomain::parse)?,
            time_zone: parse_value("time_zone", &p.time_zone, TimeZone::parse)?,
            owner_profile_id: parse_id("owner_profile_id", &p.owner_profile_id)?,
            name: parse_value("name", &p.name, SiteName::parse)?,
        })
    }
}

impl TryFrom<v1::SiteUpdated> for SiteUpdated {
    type Error = DecodeError;

    fn try_from(p: v1::SiteUpdated) -> Result<Self, DecodeError> {
        Ok(Self {
            site_id: parse_id("site_id", &p.site_id)?,
            domain: parse_optional("domain", p.domain.as_deref(), SiteDomain::parse)?,
            time_zone: parse_optional("time_zone", p.time_zone.as_deref(), TimeZone::parse)?,
            name: parse_optional("name", p.name.as_deref(), SiteName::parse)?,
        })
    }
}

impl TryFrom<v1::SiteDeleted> for SiteDeleted {
    type Error = DecodeError;

    fn try_from(p: v1::SiteDeleted) -> Result<Self, DecodeError> {
        Ok(Self { site_id: parse_id("site_id", &p.site_id)? })
    }
}

impl TryFrom<v1::SiteReadKeyIssued> for SiteReadKeyIssued {
    type Error = DecodeError;

    fn try_from(p: v1::SiteReadKeyIssued) -> Result<Self, DecodeError> {
        let key_hash = <[u8; 32]>::try_from(p.key_hash.as_slice())
            .map_err(|_| DecodeError::invalid("key_hash", format!("must be 32 bytes, got {}", p.key_hash.len())))?;
        Ok(Self {
            site_id: parse_id("site_id", &p.site_id)?,
            key_id: parse_value("key_id", &p.key_id, ReadKeyId::parse)?,
            key_hash,
            label: parse_value("label", &p.label, ReadKeyLabel::parse)?,
        })
    }
}

impl TryFrom<v1::SiteReadKeyRevoked> for SiteReadKeyRevoked {
    type Error = DecodeError;

    fn try_from(p: v1::SiteReadKeyRevoked) -> Result<Self, DecodeError> {
        Ok(Self {
            site_id: parse_id("site_id", &p.site_id)?,
            key_id: parse_value("key_id", &p.key_id, ReadKeyId::parse)?,
        })
    }
}

/// Decodes a stored site event payload back into a domain event,
/// re-validating every value.
///
/// # Errors
///
/// [`DecodeError::UnknownType`] when `event_type` is not a site event the
/// domain models,
/// [`DecodeError::UnsupportedSchemaVersion`] for a schema version other than
/// [`super::SCHEMA_VERSION`], [`DecodeError::Malformed`] when `payload` is not
/// valid protobuf and [`DecodeError::Invalid`] when a value fails validation.
pub fn decode_site_event(event_type: &str, schema_version: u32, payload: &[u8]) -> Result<SiteEvent, DecodeError> {
    let decode: fn(&[u8]) -> Result<SiteEvent, DecodeError> = match event_type {
        event_types::SITE_REGISTERED => |b| Ok(SiteEvent::Registered(v1::SiteRegistered::decode(b)?.try_into()?)),
        event_types::SITE_UPDATED => |b| Ok(SiteEvent::Updated(v1::SiteUpdated::decode(b)?.try_into()?)),
        event_types::SITE_DELETED => |b| Ok(SiteEvent::Deleted(v1::SiteDeleted::decode(b)?.try_into()?)),
        event_types::SITE_READ_KEY_ISSUED => {
            |b| Ok(SiteEvent::ReadKeyIssued(v1::SiteReadKeyIssued::decode(b)?.try_into()?))
        }
        event_types::SITE_READ_KEY_REVOKED => {
            |b| Ok(SiteEvent::ReadKeyRevoked(v1::SiteReadKeyRevoked::decode(b)?.try_into()?))
        }
        _ => return Err(DecodeError::UnknownType(event_type.to_owned())),
    };
    check_schema_version(event_type, schema_version)?;
    decode(payload)
}

// ---------------------------------------------------------------------------
// Resources and requests
// ---------------------------------------------------------------------------

/// Builds the `Site` resource from the aggregate's state and its stream
/// bookkeeping.
#[must_use]
pub fn site_to_proto(data: &SiteData, meta: &ResourceMeta) -> v1::Site {
    v1::Site {
        id: data.id.to_string(),
        domain: data.domain.as_str().to_owned(),
        time_zone: data.time_zone.name().to_owned(),
        owner_profile_id: data.owner_profile_id.to_string(),
        name: data.name.as_str().to_owned(),
        version: meta.version,
        create_time: meta.create_time.map(to_timestamp),
        update_time: meta.update_time.map(to_timestamp),
    }
}

/// The compact `SiteSummary` of a site, as embedded in `Profile.sites`.
#[must_use]
pub fn site_summary(data: &SiteData) -> v1::SiteSummary {
    v1::SiteSummary {
        id: data.id.to_string(),
        domain: data.domain.as_str().to_owned(),
        name: data.name.as_str().to_owned(),
        time_zone: data.time_zone.name().to_owned(),
    }
}

/// The unvalidated input of a register or update request. Output-only
/// fields (`id`, `version`, times) are dropped.
impl From<v1::Site> for SiteInput {
    fn from(s: v1::Site) -> Self {
        Self { domain: s.domain, time_zone: s.time_zone, owner_profile_id: s.owner_profile_id, name: s.name }
    }
}

/// Like `From<v1::Site>`, for callers that keep the request.
impl From<&v1::Site> for SiteInput {
    fn from(s: &v1::Site) -> Self {
        s.clone().into()
    }
}
