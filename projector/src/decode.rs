//! Turning an envelope into a change of the profiles projection.
//!
//! The projector decodes the `tally.v1` payload messages directly and checks
//! only what it needs to place the change (ids are UUIDs and match the
//! stream, required fields are present). It deliberately does not re-run
//! today's domain validation: events are facts, and a rule tightened later
//! must not make history unprojectable. (The rebuild's verifier, by
//! contrast, decodes through `tally_proto::convert` so the two paths are
//! independent.)

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tally_proto::{
    convert::{SCHEMA_VERSION, event_types as t, from_timestamp},
    v1,
};
use uuid::Uuid;

/// The event type of the relay's watermark envelopes.
pub const WATERMARK: &str = tally_streaming::WATERMARK_TYPE;

/// A change to one profile or site, with the event's bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub position: i64,
    /// The stream version after this event (the resource's `ETag`).
    pub version: i64,
    pub recorded_at: DateTime<Utc>,
    pub change: Change,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    ProfileCreated(ProfileFields),
    ProfileUpdated(ProfilePatch),
    ProfileDeleted {
        id: Uuid,
    },
    SiteRegistered(SiteFields),
    SiteUpdated(SitePatch),
    SiteDeleted {
        id: Uuid,
    },
    /// A read key of the statistics API: a row of its own, and the site's
    /// version and update time move.
    ReadKeyIssued(ReadKeyFields),
    ReadKeyRevoked {
        site_id: Uuid,
        key_id: String,
    },
}

impl Change {
    /// The aggregate the change belongs to.
    pub fn id(&self) -> Uuid {
        match self {
            Change::ProfileCreated(f) => f.id,
            Change::ProfileUpdated(p) => p.id,
            Change::SiteRegistered(f) => f.id,
            Change::SiteUpdated(p) => p.id,
            Change::ProfileDeleted { id } | Change::SiteDeleted { id } => *id,
            Change::ReadKeyIssued(k) => k.site_id,
            Change::ReadKeyRevoked { site_id, .. } => *site_id,
        }
    }

    pub fn is_profile(&self) -> bool {
        matches!(self, Change::ProfileCreated(_) | Change::ProfileUpdated(_) | Change::ProfileDeleted { .. })
    }

    /// The read key this change is about, as `(site, key_id)`.
    pub fn read_key(&self) -> Option<(Uuid, &str)> {
        match self {
            Change::ReadKeyIssued(k) => Some((k.site_id, k.key_id.as_str())),
            Change::ReadKeyRevoked { site_id, key_id } => Some((*site_id, key_id.as_str())),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProfileFields {
    pub id: Uuid,
    pub handle: String,
    pub display_name: String,
    pub email: String,
    pub bio: String,
    pub avatar_url: String,
    pub attributes: BTreeMap<String, String>,
}

/// Only changed fields are `Some` (the event carries only those).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProfilePatch {
    pub id: Uuid,
    pub handle: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub bio: Option<String>,
    /// `Some("")` when the avatar was removed.
    pub avatar_url: Option<String>,
    pub attributes: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SiteFields {
    pub id: Uuid,
    pub domain: String,
    pub name: String,
    pub time_zone: String,
    pub owner_profile_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SitePatch {
    pub id: Uuid,
    pub domain: Option<String>,
    pub name: Option<String>,
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReadKeyFields {
    pub site_id: Uuid,
    pub key_id: String,
    /// SHA-256 of the secret; never the secret.
    pub key_hash: Vec<u8>,
    pub label: String,
}

/// The length of a read key's `key_hash` (SHA-256). Another length could never match a
/// secret, so such an event is refused rather than stored as a key nobody can use.
pub const KEY_HASH_LEN: usize = 32;

/// What an envelope means to this projection.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    Event(Event),
    /// Not for this projection (watermarks, analytics, …): only its position counts.
    Ignored,
}

/// Why an envelope cannot be projected; becomes a dead letter's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown event type {0:?} in category {1:?} (written by a newer release?)")]
    UnknownType(String, String),
    #[error("unsupported schema version {1} of {0}")]
    SchemaVersion(String, u32),
    #[error("payload of {0} is not valid protobuf: {1}")]
    Malformed(String, String),
    #[error("{event_type}.{field}: {problem}")]
    Invalid { event_type: String, field: &'static str, problem: String },
}

/// Decodes one envelope.
pub fn decode(e: &v1::EventEnvelope) -> Result<Decoded, DecodeError> {
    let ty = e.event_type.as_str();
    let change = match ty {
        t::PROFILE_CREATED | t::PROFILE_UPDATED | t::PROFILE_DELETED => profile(e)?,
        t::SITE_REGISTERED | t::SITE_UPDATED | t::SITE_DELETED | t::SITE_READ_KEY_ISSUED | t::SITE_READ_KEY_REVOKED => {
            site(e)?
        }
        _ if e.category == "profile" || e.category == "site" => {
            return Err(DecodeError::UnknownType(ty.to_owned(), e.category.clone()));
        }
        _ => return Ok(Decoded::Ignored),
    };
    let recorded_at = e
        .recorded_at
        .as_ref()
        .ok_or_else(|| invalid(ty, "recorded_at", "missing"))
        .and_then(|ts| from_timestamp(ts).map_err(|err| invalid(ty, "recorded_at", err.to_string())))?;
    let position = i64::try_from(e.global_position)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| invalid(ty, "global_position", format!("{} is out of range", e.global_position)))?;
    let version = i64::try_from(e.stream_version)
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| invalid(ty, "stream_version", format!("{} is out of range", e.stream_version)))?;
    Ok(Decoded::Event(Event { position, version, recorded_at, change }))
}

fn invalid(event_type: &str, field: &'static str, problem: impl Into<String>) -> DecodeError {
    DecodeError::Invalid { event_type: event_type.to_owned(), field, problem: problem.into() }
}

fn payload<M: prost::Message + Default>(e: &v1::EventEnvelope) -> Result<M, DecodeError> {
    if e.schema_version != SCHEMA_VERSION {
        return Err(DecodeError::SchemaVersion(e.event_type.clone(), e.schema_version));
    }
    M::decode(e.payload.as_slice()).map_err(|err| DecodeError::Malformed(e.event_type.clone(), err.to_string()))
}

/// Parses the payload's aggregate id and checks it is the envelope's stream:
/// a payload that decodes by accident (protobuf is lenient) fails here.
fn aggregate_id(e: &v1::EventEnvelope, field: &'static str, raw: &str, category: &str) -> Result<Uuid, DecodeError> {
    let id = Uuid::parse_str(raw).map_err(|_| invalid(&e.event_type, field, format!("must be a UUID, got {raw:?}")))?;
    let expected = format!("{category}-{}", id.hyphenated());
    if e.stream_id != expected {
        return Err(invalid(&e.event_type, field, format!("{id} does not belong to stream {:?}", e.stream_id)));
    }
    Ok(id)
}

fn required(ty: &str, field: &'static str, value: String) -> Result<String, DecodeError> {
    if value.is_empty() { Err(invalid(ty, field, "missing")) } else { Ok(value) }
}

fn profile(e: &v1::EventEnvelope) -> Result<Change, DecodeError> {
    let ty = e.event_type.as_str();
    Ok(match ty {
        t::PROFILE_CREATED => {
            let p: v1::ProfileCreated = payload(e)?;
            Change::ProfileCreated(ProfileFields {
                id: aggregate_id(e, "profile_id", &p.profile_id, "profile")?,
                handle: required(ty, "handle", p.handle)?,
                display_name: p.display_name,
                email: p.email,
                bio: p.bio,
                avatar_url: p.avatar_url,
                attributes: p.attributes.into_iter().collect(),
            })
        }
        t::PROFILE_UPDATED => {
            let p: v1::ProfileUpdated = payload(e)?;
            if p.handle.as_deref() == Some("") {
                return Err(invalid(ty, "handle", "must not be empty"));
            }
            Change::ProfileUpdated(ProfilePatch {
                id: aggregate_id(e, "profile_id", &p.profile_id, "profile")?,
                handle: p.handle,
                display_name: p.display_name,
                email: p.email,
                bio: p.bio,
                avatar_url: p.avatar_url,
                attributes: p.attributes.map(|a| a.entries.into_iter().collect()),
            })
        }
        _ => {
            let p: v1::ProfileDeleted = payload(e)?;
            Change::ProfileDeleted { id: aggregate_id(e, "profile_id", &p.profile_id, "profile")? }
        }
    })
}

fn site(e: &v1::EventEnvelope) -> Result<Change, DecodeError> {
    let ty = e.event_type.as_str();
    Ok(match ty {
        t::SITE_REGISTERED => {
            let p: v1::SiteRegistered = payload(e)?;
            let owner = Uuid::parse_str(&p.owner_profile_id).map_err(|_| {
                invalid(ty, "owner_profile_id", format!("must be a UUID, got {:?}", p.owner_profile_id))
            })?;
            Change::SiteRegistered(SiteFields {
                id: aggregate_id(e, "site_id", &p.site_id, "site")?,
                domain: required(ty, "domain", p.domain)?,
                name: p.name,
                time_zone: required(ty, "time_zone", p.time_zone)?,
                owner_profile_id: owner,
            })
        }
        t::SITE_UPDATED => {
            let p: v1::SiteUpdated = payload(e)?;
            if p.domain.as_deref() == Some("") {
                return Err(invalid(ty, "domain", "must not be empty"));
            }
            Change::SiteUpdated(SitePatch {
                id: aggregate_id(e, "site_id", &p.site_id, "site")?,
                domain: p.domain,
                name: p.name,
                time_zone: p.time_zone,
            })
        }
        t::SITE_DELETED => {
            let p: v1::SiteDeleted = payload(e)?;
            Change::SiteDeleted { id: aggregate_id(e, "site_id", &p.site_id, "site")? }
        }
        t::SITE_READ_KEY_ISSUED => {
            let p: v1::SiteReadKeyIssued = payload(e)?;
            let site_id = aggregate_id(e, "site_id", &p.site_id, "site")?;
            if p.key_hash.len() != KEY_HASH_LEN {
                return Err(invalid(ty, "key_hash", format!("must be {KEY_HASH_LEN} bytes, got {}", p.key_hash.len())));
            }
            Change::ReadKeyIssued(ReadKeyFields {
                site_id,
                key_id: required(ty, "key_id", p.key_id)?,
                key_hash: p.key_hash,
                label: p.label,
            })
        }
        _ => {
            let p: v1::SiteReadKeyRevoked = payload(e)?;
            Change::ReadKeyRevoked {
                site_id: aggregate_id(e, "site_id", &p.site_id, "site")?,
                key_id: required(ty, "key_id", p.key_id)?,
            }
        }
    })
}

#[cfg(test)]
mod tests;
