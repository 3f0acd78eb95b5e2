//! Conversions between the domain model (`tally-domain`) and its wire form.
//!
//! * Event payloads: [`encode_profile_event`] / [`decode_profile_event`] and
//!   [`encode_site_event`] / [`decode_site_event`] turn domain events into the
//!   `tally.v1` payload messages stored in `EventEnvelope.payload`, and back.
//!   Decoding re-validates every value through the domain value types'
//!   `parse`, so a stored value that no longer satisfies today's rules is
//!   reported as [`DecodeError::Invalid`] instead of slipping through.
//! * Resources: [`profile_to_proto`] / [`site_to_proto`] build the API
//!   resources from aggregate state; `ProfileInput::from(v1::Profile)` and
//!   `SiteInput::from(v1::Site)` turn request resources into the domain's
//!   unvalidated input.
//! * Time: [`to_timestamp`] / [`from_timestamp`] between
//!   `chrono::DateTime<Utc>` and `google.protobuf.Timestamp`.

mod profile;
mod site;
mod time;

use chrono::{DateTime, Utc};

pub use profile::{decode_profile_event, encode_profile_event, profile_to_proto};
pub use site::{decode_site_event, encode_site_event, site_summary, site_to_proto};
pub use time::{InvalidTimestamp, from_timestamp, to_timestamp};

/// The payload schema version written by this crate for every event type.
pub const SCHEMA_VERSION: u32 = 1;

/// The stored `event_type` of each payload: the full protobuf name of its
/// message (`tally.v1.<Message>`), as `prost::Name::full_name` returns it.
pub mod event_types {
    /// [`crate::v1::ProfileCreated`].
    pub const PROFILE_CREATED: &str = "tally.v1.ProfileCreated";
    /// [`crate::v1::ProfileUpdated`].
    pub const PROFILE_UPDATED: &str = "tally.v1.ProfileUpdated";
    /// [`crate::v1::ProfileDeleted`].
    pub const PROFILE_DELETED: &str = "tally.v1.ProfileDeleted";
    /// [`crate::v1::SiteRegistered`].
    pub const SITE_REGISTERED: &str = "tally.v1.SiteRegistered";
    /// [`crate::v1::SiteUpdated`].
    pub const SITE_UPDATED: &str = "tally.v1.SiteUpdated";
    /// [`crate::v1::SiteDeleted`].
    pub const SITE_DELETED: &str = "tally.v1.SiteDeleted";
    /// [`crate::v1::SiteReadKeyIssued`].
    pub const SITE_READ_KEY_ISSUED: &str = "tally.v1.SiteReadKeyIssued";
    /// [`crate::v1::SiteReadKeyRevoked`].
    pub const SITE_READ_KEY_REVOKED: &str = "tally.v1.SiteReadKeyRevoked";
    /// [`crate::v1::AnalyticsEventRecorded`].
    pub const ANALYTICS_EVENT_RECORDED: &str = "tally.v1.AnalyticsEventRecorded";
}

/// Why a stored event payload could not be turned back into a domain event.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The `event_type` is not one this decoder knows (for example an event
    /// of another category, or of a newer release).
    #[error("unknown event type {0:?}")]
    UnknownType(String),

    /// The event type is known but not in this schema version.
    #[error("unsupported schema version {1} of event type {0:?}")]
    UnsupportedSchemaVersion(String, u32),

    /// The payload is not a valid protobuf encoding of its message.
    #[error("malformed payload: {0}")]
    Malformed(#[from] prost::DecodeError),

    /// The payload decoded, but a value in it does not pass the domain's
    /// validation (field path, description).
    #[error("invalid stored value in {0}: {1}")]
    Invalid(String, String),
}

impl DecodeError {
    fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::Invalid(field.into(), description.into())
    }
}

/// The bookkeeping of a resource that is not part of the aggregate's state:
/// its stream version and the times of its first and last events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceMeta {
    /// The stream version after the resource's last event (the `ETag`).
    pub version: u64,
    /// When the first event of the stream was recorded, if known.
    pub create_time: Option<DateTime<Utc>>,
    /// When the last event of the stream was recorded, if known.
    pub update_time: Option<DateTime<Utc>>,
}

/// Parses a required value with a domain `parse` function, naming `field`
/// on failure.
fn parse_value<T>(field: &str, raw: &str, parse: impl FnOnce(&str) -> Result<T, String>) -> Result<T, DecodeError> {
    parse(raw).map_err(|description| DecodeError::invalid(field, description))
}

/// Parses an optional value: `None` stays `None`.
fn parse_optional<T>(
    field: &str,
    raw: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<T>, DecodeError> {
    raw.map(|raw| parse_value(field, raw, parse)).transpose()
}

/// Parses an aggregate id (UUID) stored under `field`.
fn parse_id<T: std::str::FromStr>(field: &str, raw: &str) -> Result<T, DecodeError> {
    raw.parse().map_err(|_| DecodeError::invalid(field, format!("must be a UUID, got {raw:?}")))
}

/// Rejects any schema version but the current one.
fn check_schema_version(event_type: &str, schema_version: u32) -> Result<(), DecodeError> {
    if schema_version == SCHEMA_VERSION {
        Ok(())
    } else {
        Err(DecodeError::UnsupportedSchemaVersion(event_type.to_owned(), schema_version))
    }
}

#[cfg(test)]
mod tests;
