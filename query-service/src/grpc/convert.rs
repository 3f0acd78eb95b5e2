//! Read records into `tally.v1` resources.

use tally_proto::{convert::to_timestamp, v1};

use crate::read::{ProfileRecord, SiteRecord, SiteSummary};

pub fn profile(p: ProfileRecord) -> v1::Profile {
    v1::Profile {
        id: p.id.to_string(),
        handle: p.handle,
        display_name: p.display_name,
        email: p.email,
        bio: p.bio,
        avatar_url: p.avatar_url,
        attributes: p.attributes.into_iter().collect(),
        version: p.version,
        create_time: Some(to_timestamp(p.create_time)),
        update_time: Some(to_timestamp(p.update_time)),
        sites: p.sites.into_iter().map(site_summary).collect(),
    }
}

fn site_summary(s: SiteSummary) -> v1::SiteSummary {
    v1::SiteSummary { id: s.id, domain: s.domain, name: s.name, time_zone: s.time_zone }
}

pub fn site(s: SiteRecord) -> v1::Site {
    v1::Site {
        id: s.id.to_string(),
        domain: s.domain,
        time_zone: s.time_zone,
        owner_profile_id: s.owner_profile_id.to_string(),
        name: s.name,
        version: s.version,
        create_time: Some(to_timestamp(s.create_time)),
        update_time: Some(to_timestamp(s.update_time)),
    }
}
