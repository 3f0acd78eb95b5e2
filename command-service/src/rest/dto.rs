//! REST bodies: the gRPC messages in snake_case JSON, one to one.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tally_domain::{Profile, ProfileInput, Site, SiteInput};
use tally_event_store::AppendResult;
use utoipa::ToSchema;

use crate::app::Loaded;

/// Writable profile fields (POST body, PATCH body).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ProfileFields {
    /// 3–30 characters: letters, digits, underscores; starts with a letter; unique.
    #[schema(example = "ada")]
    pub handle: String,
    #[schema(example = "Ada Lovelace")]
    pub display_name: String,
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// Up to 500 characters.
    pub bio: String,
    /// http(s) URL, up to 2000 bytes; empty or null clears it.
    pub avatar_url: String,
    /// Up to 50 free-form string attributes.
    pub attributes: BTreeMap<String, String>,
}

impl From<ProfileFields> for ProfileInput {
    fn from(f: ProfileFields) -> Self {
        ProfileInput {
            handle: f.handle,
            display_name: f.display_name,
            email: f.email,
            bio: f.bio,
            avatar_url: f.avatar_url,
            attributes: f.attributes,
        }
    }
}

/// Writable site fields (POST body, PATCH body).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SiteFields {
    /// Bare domain, e.g. `example.com`; unique.
    #[schema(example = "example.com")]
    pub domain: String,
    /// IANA time zone; days and hours in stats are local to it.
    #[schema(example = "Europe/Paris")]
    pub time_zone: String,
    /// The owning profile's id (set at registration only).
    pub owner_profile_id: String,
    /// Display name; defaults to the domain.
    pub name: String,
}

impl From<SiteFields> for SiteInput {
    fn from(f: SiteFields) -> Self {
        SiteInput { domain: f.domain, time_zone: f.time_zone, owner_profile_id: f.owner_profile_id, name: f.name }
    }
}

/// Where a command's events landed.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommandResultView {
    pub stream_id: String,
    /// The stream's version after the command; also the resource's ETag.
    pub stream_version: u64,
    /// Position of the command's last event; pass it as `min_position` /
    /// `X-Min-Position` to read your own write.
    pub global_position: u64,
    pub events_appended: u32,
    /// True when this answer is the stored result of an earlier request with
    /// the same idempotency key.
    pub replayed: bool,
}

impl From<&AppendResult> for CommandResultView {
    fn from(r: &AppendResult) -> Self {
        Self {
            stream_id: r.stream_id.clone(),
            stream_version: r.stream_version,
            global_position: r.global_position,
            events_appended: r.events_appended,
            replayed: r.replayed,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileView {
    pub id: String,
    pub handle: String,
    pub display_name: String,
    pub email: String,
    pub bio: String,
    pub avatar_url: String,
    pub attributes: BTreeMap<String, String>,
    pub version: u64,
    pub create_time: Option<DateTime<Utc>>,
    pub update_time: Option<DateTime<Utc>>,
}

impl ProfileView {
    pub fn from_loaded(loaded: &Loaded<Profile>) -> Option<Self> {
        let data = loaded.state.data()?;
        Some(Self {
            id: data.id.to_string(),
            handle: data.handle.as_str().to_owned(),
            display_name: data.display_name.as_str().to_owned(),
            email: data.email.as_str().to_owned(),
            bio: data.bio.as_str().to_owned(),
            avatar_url: data.avatar_url.as_ref().map(|u| u.as_str().to_owned()).unwrap_or_default(),
            attributes: data.attributes.as_map().clone(),
            version: loaded.version,
            create_time: loaded.created_at,
            update_time: loaded.updated_at,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SiteView {
    pub id: String,
    pub domain: String,
    pub time_zone: String,
    pub owner_profile_id: String,
    pub name: String,
    pub version: u64,
    pub create_time: Option<DateTime<Utc>>,
    pub update_time: Option<DateTime<Utc>>,
}

impl SiteView {
    pub fn from_loaded(loaded: &Loaded<Site>) -> Option<Self> {
        let data = loaded.state.data()?;
        Some(Self {
            id: data.id.to_string(),
            domain: data.domain.as_str().to_owned(),
            time_zone: data.time_zone.name().to_owned(),
            owner_profile_id: data.owner_profile_id.to_string(),
            name: data.name.as_str().to_owned(),
            version: loaded.version,
            create_time: loaded.created_at,
            update_time: loaded.updated_at,
        })
    }
}

/// Answer to a profile create or update.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileCommandResponse {
    pub profile: Option<ProfileView>,
    pub result: CommandResultView,
}

/// Answer to a site register or update.
#[derive(Debug, Serialize, ToSchema)]
pub struct SiteCommandResponse {
    pub site: Option<SiteView>,
    pub result: CommandResultView,
}

/// Answer to a delete.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeleteResponse {
    pub result: CommandResultView,
}
