//! Which domains site events take and give back.

use crate::aggregate::UniqueClaim;

use super::{DOMAIN_CLAIM_SCOPE, Site, SiteEvent};

/// Claims of `event` against `state`, the state before the event.
pub(super) fn claims(state: &Site, event: &SiteEvent) -> Vec<UniqueClaim> {
    let current = state.data().map(|data| data.domain.as_str());
    let release = |domain: &str| UniqueClaim::release(DOMAIN_CLAIM_SCOPE, domain);
    let acquire = |domain: &str| UniqueClaim::acquire(DOMAIN_CLAIM_SCOPE, domain);
    match event {
        SiteEvent::Registered(e) => vec![acquire(e.domain.as_str())],
        SiteEvent::Updated(e) => match &e.domain {
            // Release before acquire, mirroring profile handles.
            Some(new) => current.map(release).into_iter().chain([acquire(new.as_str())]).collect(),
            None => Vec::new(),
        },
        SiteEvent::Deleted(_) => current.map(release).into_iter().collect(),
        SiteEvent::ReadKeyIssued(_) | SiteEvent::ReadKeyRevoked(_) => Vec::new(),
    }
}
