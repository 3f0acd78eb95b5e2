//! Site state and how events change it.

use crate::aggregate::{Aggregate, UniqueClaim};
use crate::error::DomainError;
use crate::ids::{ProfileId, SiteId};
use crate::values::{SiteDomain, SiteName, TimeZone};

use super::{ReadKeys, SiteCommand, SiteEvent, claims, decide};

/// The lifecycle of one site stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Site {
    /// Nothing has happened in the stream yet.
    #[default]
    Absent,
    /// The site is registered.
    Active(SiteData),
    /// The site was deleted; the id stays taken.
    Deleted {
        /// The deleted site's id.
        id: SiteId,
    },
}

/// Everything known about a registered site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteData {
    /// The site's id.
    pub id: SiteId,
    /// Unique hostname the tracker reports.
    pub domain: SiteDomain,
    /// Zone that daily figures are computed in.
    pub time_zone: TimeZone,
    /// The profile that owns the site; fixed at registration.
    pub owner_profile_id: ProfileId,
    /// Label shown in dashboards.
    pub name: SiteName,
    /// The statistics read keys issued for the site.
    pub read_keys: ReadKeys,
}

impl Site {
    /// The registered site's data, or `None` when absent or deleted.
    pub fn data(&self) -> Option<&SiteData> {
        match self {
            Site::Active(data) => Some(data),
            Site::Absent | Site::Deleted { .. } => None,
        }
    }

    /// The id, once the site has been registered.
    pub fn id(&self) -> Option<SiteId> {
        match self {
            Site::Absent => None,
            Site::Active(data) => Some(data.id),
            Site::Deleted { id } => Some(*id),
        }
    }

    /// Whether the site was deleted.
    pub fn is_deleted(&self) -> bool {
        matches!(self, Site::Deleted { .. })
    }
}

impl Aggregate for Site {
    type Command = SiteCommand;
    type Event = SiteEvent;
    const CATEGORY: &'static str = "site";

    fn decide(&self, command: &SiteCommand) -> Result<Vec<SiteEvent>, DomainError> {
        decide::decide(self, command)
    }

    fn evolve(&mut self, event: &SiteEvent) {
        match event {
            SiteEvent::Registered(e) => {
                *self = Site::Active(SiteData {
                    id: e.site_id,
                    domain: e.domain.clone(),
                    time_zone: e.time_zone,
                    owner_profile_id: e.owner_profile_id,
                    name: e.name.clone(),
                    read_keys: ReadKeys::default(),
                });
            }
            SiteEvent::Updated(e) => {
                // Cannot have been decided for a non-live site; ignoring it
                // keeps replay total.
                let Site::Active(data) = self else { return };
                if let Some(domain) = &e.domain {
                    data.domain = domain.clone();
                }
                if let Some(time_zone) = e.time_zone {
                    data.time_zone = time_zone;
                }
                if let Some(name) = &e.name {
                    data.name = name.clone();
                }
            }
            SiteEvent::Deleted(e) => *self = Site::Deleted { id: e.site_id },
            SiteEvent::ReadKeyIssued(e) => {
                let Site::Active(data) = self else { return };
                data.read_keys.active.insert(e.key_id.clone());
            }
            SiteEvent::ReadKeyRevoked(e) => {
                let Site::Active(data) = self else { return };
                if data.read_keys.active.remove(&e.key_id) {
                    data.read_keys.revoked.insert(e.key_id.clone());
                }
            }
        }
    }

    fn claims(&self, event: &SiteEvent) -> Vec<UniqueClaim> {
        claims::claims(self, event)
    }
}
