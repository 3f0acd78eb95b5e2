//! What has happened to sites.
//!
//! Stored as JSON tagged with the type name; the serde shape is a storage
//! format.

use serde::{Deserialize, Serialize};

use crate::aggregate::DomainEvent;
use crate::ids::{ProfileId, SiteId};
use crate::values::{SiteDomain, SiteName, TimeZone};

use super::{SiteReadKeyIssued, SiteReadKeyRevoked};

/// A site was registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteRegistered {
    /// The new site.
    pub site_id: SiteId,
    /// Its domain.
    pub domain: SiteDomain,
    /// Its reporting time zone.
    pub time_zone: TimeZone,
    /// Its owner.
    pub owner_profile_id: ProfileId,
    /// Its name.
    pub name: SiteName,
}

/// Some fields of a site changed; only changed fields are `Some`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteUpdated {
    /// The changed site.
    pub site_id: SiteId,
    /// New domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<SiteDomain>,
    /// New time zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<TimeZone>,
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<SiteName>,
}

impl SiteUpdated {
    /// Whether the event changes nothing.
    pub fn is_empty(&self) -> bool {
        self.domain.is_none() && self.time_zone.is_none() && self.name.is_none()
    }
}

/// A site was deleted and its domain released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteDeleted {
    /// The deleted site.
    pub site_id: SiteId,
}

/// Every event of the site stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum SiteEvent {
    /// See [`SiteRegistered`].
    #[serde(rename = "SiteRegistered")]
    Registered(SiteRegistered),
    /// See [`SiteUpdated`].
    #[serde(rename = "SiteUpdated")]
    Updated(SiteUpdated),
    /// See [`SiteDeleted`].
    #[serde(rename = "SiteDeleted")]
    Deleted(SiteDeleted),
    /// See [`SiteReadKeyIssued`].
    #[serde(rename = "SiteReadKeyIssued")]
    ReadKeyIssued(SiteReadKeyIssued),
    /// See [`SiteReadKeyRevoked`].
    #[serde(rename = "SiteReadKeyRevoked")]
    ReadKeyRevoked(SiteReadKeyRevoked),
}

impl SiteEvent {
    /// The site the event belongs to.
    pub fn site_id(&self) -> SiteId {
        match self {
            SiteEvent::Registered(e) => e.site_id,
            SiteEvent::Updated(e) => e.site_id,
            SiteEvent::Deleted(e) => e.site_id,
            SiteEvent::ReadKeyIssued(e) => e.site_id,
            SiteEvent::ReadKeyRevoked(e) => e.site_id,
        }
    }
}

impl DomainEvent for SiteEvent {
    fn event_type(&self) -> &'static str {
        match self {
            SiteEvent::Registered(_) => "SiteRegistered",
            SiteEvent::Updated(_) => "SiteUpdated",
            SiteEvent::Deleted(_) => "SiteDeleted",
            SiteEvent::ReadKeyIssued(_) => "SiteReadKeyIssued",
            SiteEvent::ReadKeyRevoked(_) => "SiteReadKeyRevoked",
        }
    }
}
