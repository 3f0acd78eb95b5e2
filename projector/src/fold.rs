//! Applying events to rows in memory: the projection's rules, free of I/O.
//!
//! A batch loads the rows its events touch, folds every event onto them here,
//! and writes back only what changed. Every rule is idempotent by position: an
//! event at or below a row's `last_position` (or its tombstone's) has already
//! been applied and is skipped, which is what makes at-least-once delivery
//! upstream harmless.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use uuid::Uuid;

use crate::{
    decode::{Change, Event, ProfileFields, ProfilePatch, ReadKeyFields, SiteFields, SitePatch},
    rows::{ProfileRow, ReadKeyRow, SiteRow, Slot},
};

/// A read key's identity: its site and its id within the site.
pub type KeyId = (Uuid, String);

/// What became of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Applied,
    /// Already reflected in the read model.
    Duplicate,
    /// Cannot be applied to the rows as they are; becomes a dead letter.
    Rejected(String),
}

/// The rows a batch touches, as loaded, then as changed by its events.
#[derive(Debug, Default)]
pub struct Fold {
    pub profiles: HashMap<Uuid, Slot<ProfileRow>>,
    pub sites: HashMap<Uuid, Slot<SiteRow>>,
    /// Ids whose slot changed and must be written.
    pub dirty_profiles: BTreeSet<Uuid>,
    pub dirty_sites: BTreeSet<Uuid>,
    /// Existing profiles whose `sites` array must be recomputed from the site
    /// rows (new ones get theirs as they are inserted).
    pub refresh_owners: BTreeSet<Uuid>,
    /// The read keys the batch's key events name, as loaded, then as changed. Ordered, so
    /// a site's keys are one range (a deletion drops them all).
    pub keys: BTreeMap<KeyId, ReadKeyRow>,
    pub dirty_keys: BTreeSet<KeyId>,
}

/// Whether an event at `position` is already in a slot.
fn seen<R>(slot: Option<&Slot<R>>, position: i64, last: impl Fn(&R) -> i64) -> bool {
    match slot {
        Some(Slot::Live(r)) => position <= last(r),
        Some(Slot::Gone(at)) => position <= *at,
        None => false,
    }
}

impl Fold {
    pub fn apply(&mut self, e: &Event) -> Verdict {
        let id = e.change.id();
        let duplicate = if e.change.is_profile() {
            seen(self.profiles.get(&id), e.position, |r| r.last_position)
        } else {
            seen(self.sites.get(&id), e.position, |r| r.last_position)
        };
        if duplicate {
            return Verdict::Duplicate;
        }
        let outcome = match &e.change {
            Change::ProfileCreated(f) => self.profile_created(e, f),
            Change::ProfileUpdated(p) => self.profile_updated(e, p),
            Change::ProfileDeleted { id } => {
                self.profiles.insert(*id, Slot::Gone(e.position));
                Ok(())
            }
            Change::SiteRegistered(f) => self.site_registered(e, f),
            Change::SiteUpdated(p) => self.site_updated(e, p),
            Change::SiteDeleted { id } => self.site_deleted(e, *id),
            Change::ReadKeyIssued(k) => self.key_issued(e, k),
            Change::ReadKeyRevoked { site_id, key_id } => self.key_revoked(e, *site_id, key_id),
        };
        match outcome {
            Ok(()) => {
                if e.change.is_profile() {
                    self.dirty_profiles.insert(id);
                } else {
                    self.dirty_sites.insert(id);
                }
                Verdict::Applied
            }
            Err(reason) => Verdict::Rejected(reason),
        }
    }

    fn profile_created(&mut self, e: &Event, f: &ProfileFields) -> Result<(), String> {
        match self.profiles.get(&f.id) {
            Some(Slot::Live(r)) => {
                return Err(format!("profile {} is already in the read model (position {})", f.id, r.last_position));
            }
            Some(Slot::Gone(at)) => return Err(format!("profile {} was deleted at position {at}", f.id)),
            None => {}
        }
        let row = ProfileRow {
            id: f.id,
            handle: f.handle.clone(),
            display_name: f.display_name.clone(),
            email: f.email.clone(),
            bio: f.bio.clone(),
            avatar_url: f.avatar_url.clone(),
            attributes: f.attributes.clone(),
            version: e.version,
            create_time: e.recorded_at,
            update_time: e.recorded_at,
            last_position: e.position,
        };
        // Its sites may have been projected first (another partition): the
        // insert computes its `sites` from the site rows.
        self.profiles.insert(f.id, Slot::Live(row));
        Ok(())
    }

    fn profile_updated(&mut self, e: &Event, p: &ProfilePatch) -> Result<(), String> {
        let row = match self.profiles.get_mut(&p.id) {
            Some(Slot::Live(row)) => row,
            Some(Slot::Gone(at)) => return Err(format!("profile {} was deleted at position {at}", p.id)),
            None => return Err(format!("profile {} is not in the read model (its creation was not applied)", p.id)),
        };
        set(&mut row.handle, &p.handle);
        set(&mut row.display_name, &p.display_name);
        set(&mut row.email, &p.email);
        set(&mut row.bio, &p.bio);
        set(&mut row.avatar_url, &p.avatar_url);
        if let Some(a) = &p.attributes {
            row.attributes = a.clone();
        }
        row.version = e.version;
        row.update_time = e.recorded_at;
        row.last_position = e.position;
        Ok(())
    }

    fn site_registered(&mut self, e: &Event, f: &SiteFields) -> Result<(), String> {
        match self.sites.get(&f.id) {
            Some(Slot::Live(r)) => {
                return Err(format!("site {} is already in the read model (position {})", f.id, r.last_position));
            }
            Some(Slot::Gone(at)) => return Err(format!("site {} was deleted at position {at}", f.id)),
            None => {}
        }
        let row = SiteRow {
            id: f.id,
            domain: f.domain.clone(),
            name: f.name.clone(),
            time_zone: f.time_zone.clone(),
            owner_profile_id: f.owner_profile_id,
            version: e.version,
            create_time: e.recorded_at,
            update_time: e.recorded_at,
            last_position: e.position,
        };
        self.sites.insert(f.id, Slot::Live(row));
        self.refresh_owners.insert(f.owner_profile_id);
        Ok(())
    }

    fn live_site(&mut self, id: Uuid, what: &str) -> Result<&mut SiteRow, String> {
        match self.sites.get_mut(&id) {
            Some(Slot::Live(row)) => Ok(row),
            Some(Slot::Gone(at)) => Err(format!("{what} {id} was deleted at position {at}")),
            None => Err(format!("{what} {id} is not in the read model (its registration was not applied)")),
        }
    }

    fn site_updated(&mut self, e: &Event, p: &SitePatch) -> Result<(), String> {
        let row = self.live_site(p.id, "site")?;
        set(&mut row.domain, &p.domain);
        set(&mut row.name, &p.name);
        set(&mut row.time_zone, &p.time_zone);
        touch_site(row, e);
        let owner = row.owner_profile_id;
        self.refresh_owners.insert(owner);
        Ok(())
    }

    fn site_deleted(&mut self, e: &Event, id: Uuid) -> Result<(), String> {
        if let Some(Slot::Live(row)) = self.sites.get(&id) {
            self.refresh_owners.insert(row.owner_profile_id);
        }
        // Deleting what we never saw still leaves a tombstone, so the
        // missing registration cannot arrive late and resurrect it.
        self.sites.insert(id, Slot::Gone(e.position));
        // Its keys stop working with it: the write deletes its key rows, and the
        // tombstone turns away any key event at or below the deletion.
        let gone: Vec<KeyId> = self.site_keys(id).cloned().collect();
        for k in gone {
            self.keys.remove(&k);
            self.dirty_keys.remove(&k);
        }
        Ok(())
    }

    fn site_keys(&self, site: Uuid) -> impl Iterator<Item = &KeyId> {
        self.keys.range((site, String::new())..).map(|(k, _)| k).take_while(move |(s, _)| *s == site)
    }

    fn key_issued(&mut self, e: &Event, k: &ReadKeyFields) -> Result<(), String> {
        self.live_site(k.site_id, "site")?;
        let id = (k.site_id, k.key_id.clone());
        // A key id is issued once per site; a second issue must not replace the hash of a key
        // in use, nor bring a revoked key back.
        if let Some(row) = self.keys.get(&id) {
            return Err(format!(
                "read key {} of site {} was already issued (row at position {})",
                k.key_id, k.site_id, row.last_position
            ));
        }
        self.live_site(k.site_id, "site").map(|s| touch_site(s, e))?;
        let row = ReadKeyRow {
            site_id: k.site_id,
            key_id: k.key_id.clone(),
            key_hash: k.key_hash.clone(),
            label: k.label.clone(),
            revoked: false,
            last_position: e.position,
        };
        self.keys.insert(id.clone(), row);
        self.dirty_keys.insert(id);
        Ok(())
    }

    fn key_revoked(&mut self, e: &Event, site: Uuid, key_id: &str) -> Result<(), String> {
        self.live_site(site, "site")?;
        let id = (site, key_id.to_owned());
        let row = self.keys.get_mut(&id).ok_or_else(|| {
            format!("read key {key_id} of site {site} is not in the read model (its issue was not applied)")
        })?;
        row.revoked = true;
        row.last_position = e.position;
        self.dirty_keys.insert(id);
        self.live_site(site, "site").map(|s| touch_site(s, e))
    }
}

fn set(field: &mut String, value: &Option<String>) {
    if let Some(v) = value {
        field.clone_from(v);
    }
}

fn touch_site(row: &mut SiteRow, e: &Event) {
    row.version = e.version;
    row.update_time = e.recorded_at;
    row.last_position = e.position;
}

#[cfg(test)]
mod tests;
