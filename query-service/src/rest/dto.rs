//! REST bodies: the gRPC resources in snake_case JSON, one to one.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::read::{ProfilePage, ProfileRecord, SiteRecord, SiteSummary};

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileView {
    pub id: String,
    #[schema(example = "ada")]
    pub handle: String,
    pub display_name: String,
    pub email: String,
    pub bio: String,
    pub avatar_url: String,
    pub attributes: BTreeMap<String, String>,
    /// The profile stream's version; also the ETag.
    pub version: u64,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    /// The sites this profile owns, by domain.
    pub sites: Vec<SiteSummaryView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SiteSummaryView {
    pub id: String,
    pub domain: String,
    pub name: String,
    pub time_zone: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SiteView {
    pub id: String,
    pub domain: String,
    pub time_zone: String,
    pub owner_profile_id: String,
    pub name: String,
    /// The site stream's version; also the ETag.
    pub version: u64,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

/// One page of `GET /v1/profiles`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListProfilesView {
    /// Profiles in id order (ids are time-ordered UUIDs: oldest first).
    pub profiles: Vec<ProfileView>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next_after: Option<String>,
}

impl From<SiteSummary> for SiteSummaryView {
    fn from(s: SiteSummary) -> Self {
        Self { id: s.id, domain: s.domain, name: s.name, time_zone: s.time_zone }
    }
}

impl From<ProfileRecord> for ProfileView {
    fn from(p: ProfileRecord) -> Self {
        Self {
            id: p.id.to_string(),
            handle: p.handle,
            display_name: p.display_name,
            email: p.email,
            bio: p.bio,
            avatar_url: p.avatar_url,
            attributes: p.attributes,
            version: p.version,
            create_time: p.create_time,
            update_time: p.update_time,
            sites: p.sites.into_iter().map(SiteSummaryView::from).collect(),
        }
    }
}

impl From<SiteRecord> for SiteView {
    fn from(s: SiteRecord) -> Self {
        Self {
            id: s.id.to_string(),
            domain: s.domain,
            time_zone: s.time_zone,
            owner_profile_id: s.owner_profile_id.to_string(),
            name: s.name,
            version: s.version,
            create_time: s.create_time,
            update_time: s.update_time,
        }
    }
}

impl From<ProfilePage> for ListProfilesView {
    fn from(page: ProfilePage) -> Self {
        Self {
            profiles: page.profiles.into_iter().map(ProfileView::from).collect(),
            next_after: page.next.map(|c| c.encode()),
        }
    }
}
