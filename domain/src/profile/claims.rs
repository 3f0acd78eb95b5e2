//! Which handles profile events take and give back.

use crate::aggregate::UniqueClaim;

use super::{HANDLE_CLAIM_SCOPE, Profile, ProfileEvent};

/// Claims of `event` against `state`, the state before the event.
pub(super) fn claims(state: &Profile, event: &ProfileEvent) -> Vec<UniqueClaim> {
    let current = state.data().map(|data| data.handle.as_str());
    let release = |handle: &str| UniqueClaim::release(HANDLE_CLAIM_SCOPE, handle);
    let acquire = |handle: &str| UniqueClaim::acquire(HANDLE_CLAIM_SCOPE, handle);
    match event {
        ProfileEvent::Created(e) => vec![acquire(e.handle.as_str())],
        ProfileEvent::Updated(e) => match &e.handle {
            // Release first so a store applying claims in order never holds
            // two handles for one profile.
            Some(new) => current.map(release).into_iter().chain([acquire(new.as_str())]).collect(),
            None => Vec::new(),
        },
        ProfileEvent::Deleted(_) => current.map(release).into_iter().collect(),
    }
}
