//! The site's business rules.

use crate::error::DomainError;
use crate::ids::SiteId;

use super::{
    DeleteSite, IssueReadKey, MAX_ACTIVE_READ_KEYS, RegisterSite, RevokeReadKey, Site, SiteCommand, SiteData,
    SiteDeleted, SiteEvent, SiteReadKeyIssued, SiteReadKeyRevoked, SiteRegistered, SiteUpdated, UpdateSite,
};
use crate::error::ValidationError;

const KIND: &str = "site";

pub(super) fn decide(state: &Site, command: &SiteCommand) -> Result<Vec<SiteEvent>, DomainError> {
    match command {
        SiteCommand::Register(c) => register(state, c),
        SiteCommand::Update(c) => update(state, c),
        SiteCommand::Delete(c) => delete(state, c),
        SiteCommand::IssueReadKey(c) => issue_read_key(state, c),
        SiteCommand::RevokeReadKey(c) => revoke_read_key(state, c),
    }
}

fn register(state: &Site, c: &RegisterSite) -> Result<Vec<SiteEvent>, DomainError> {
    // A deleted id stays taken so histories never mix.
    if !matches!(state, Site::Absent) {
        return Err(DomainError::AlreadyExists { kind: KIND, id: c.site_id.to_string() });
    }
    Ok(vec![SiteEvent::Registered(SiteRegistered {
        site_id: c.site_id,
        domain: c.domain.clone(),
        time_zone: c.time_zone,
        owner_profile_id: c.owner_profile_id,
        name: c.name.clone(),
    })])
}

fn update(state: &Site, c: &UpdateSite) -> Result<Vec<SiteEvent>, DomainError> {
    let data = live(state, c.site_id)?;
    let changes = &c.changes;
    let event = SiteUpdated {
        site_id: data.id,
        domain: changed(&changes.domain, &data.domain),
        time_zone: changed(&changes.time_zone, &data.time_zone),
        name: changed(&changes.name, &data.name),
    };
    // Re-saving identical values records nothing.
    if event.is_empty() { Ok(Vec::new()) } else { Ok(vec![SiteEvent::Updated(event)]) }
}

fn delete(state: &Site, c: &DeleteSite) -> Result<Vec<SiteEvent>, DomainError> {
    let data = live(state, c.site_id)?;
    Ok(vec![SiteEvent::Deleted(SiteDeleted { site_id: data.id })])
}

fn issue_read_key(state: &Site, c: &IssueReadKey) -> Result<Vec<SiteEvent>, DomainError> {
    let data = live(state, c.site_id)?;
    if data.read_keys.contains(&c.key_id) {
        return Err(DomainError::AlreadyExists { kind: "read key", id: c.key_id.as_str().to_owned() });
    }
    if data.read_keys.active.len() >= MAX_ACTIVE_READ_KEYS {
        return Err(ValidationError::single(
            "site_id",
            format!("the site already has {MAX_ACTIVE_READ_KEYS} active read keys; revoke one first"),
        )
        .into());
    }
    Ok(vec![SiteEvent::ReadKeyIssued(SiteReadKeyIssued {
        site_id: data.id,
        key_id: c.key_id.clone(),
        key_hash: c.key_hash,
        label: c.label.clone(),
    })])
}

fn revoke_read_key(state: &Site, c: &RevokeReadKey) -> Result<Vec<SiteEvent>, DomainError> {
    let data = live(state, c.site_id)?;
    if data.read_keys.revoked.contains(&c.key_id) {
        // Revoking twice records nothing, like re-saving identical values.
        return Ok(Vec::new());
    }
    if !data.read_keys.active.contains(&c.key_id) {
        return Err(DomainError::NotFound { kind: "read key", id: c.key_id.as_str().to_owned() });
    }
    Ok(vec![SiteEvent::ReadKeyRevoked(SiteReadKeyRevoked { site_id: data.id, key_id: c.key_id.clone() })])
}

/// The live site, or the error explaining why there is none.
fn live(state: &Site, id: SiteId) -> Result<&SiteData, DomainError> {
    match state {
        Site::Active(data) => Ok(data),
        Site::Absent => Err(DomainError::NotFound { kind: KIND, id: id.to_string() }),
        Site::Deleted { .. } => Err(DomainError::Gone { kind: KIND, id: id.to_string() }),
    }
}

/// The requested value, if one was requested and it differs from the
/// current one.
fn changed<T: PartialEq + Clone>(requested: &Option<T>, current: &T) -> Option<T> {
    requested.as_ref().filter(|new| *new != current).cloned()
}
