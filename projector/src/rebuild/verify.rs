//! Verification of a rebuilt version: row counts and per-column sums of the
//! new tables must equal an independent recomputation from the event store.
//!
//! "Independent" is meant literally: the recomputation decodes payloads with
//! the domain's own decoders (`tally_proto::convert`) and folds them into
//! plain in-memory aggregates, sharing none of the projector's decoding,
//! fold or SQL. A bug in either path shows up as a mismatch.

use std::collections::HashMap;

use tally_domain::{ProfileEvent, SiteEvent};
use tally_event_store::RecordedEvent;
use tally_proto::convert::{decode_profile_event, decode_site_event};
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::schema::VersionTables;

/// What the verifier keeps per profile: just enough for the sums.
#[derive(Debug, Clone, Default)]
struct Profile {
    version: i64,
    last_position: i64,
    create_us: i64,
    update_us: i64,
    lengths: [usize; 5],
    attributes: usize,
}

#[derive(Debug, Clone)]
struct Site {
    version: i64,
    last_position: i64,
    create_us: i64,
    update_us: i64,
    lengths: [usize; 3],
    owner: Uuid,
}

/// The in-memory recomputation, fed page by page during the replay.
#[derive(Debug, Default)]
pub struct Model {
    profiles: HashMap<Uuid, Profile>,
    sites: HashMap<Uuid, Site>,
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn stream_uuid(stream_id: &str) -> Option<Uuid> {
    stream_id.split_once('-').and_then(|(_, id)| Uuid::parse_str(id).ok())
}

impl Model {
    /// Folds one stored event. Events the domain cannot decode are left out,
    /// as the projector leaves them out (they become dead letters there).
    pub fn observe(&mut self, e: &RecordedEvent) {
        let position = e.global_position as i64;
        let version = e.stream_version as i64;
        let at = e.recorded_at.timestamp_micros();
        match e.category.as_str() {
            "profile" => match decode_profile_event(&e.event_type, e.schema_version, &e.payload) {
                Ok(ProfileEvent::Created(c)) => {
                    let p = Profile {
                        version,
                        last_position: position,
                        create_us: at,
                        update_us: at,
                        lengths: [
                            chars(c.handle.as_str()),
                            chars(c.display_name.as_str()),
                            chars(c.email.as_str()),
                            chars(c.bio.as_str()),
                            c.avatar_url.as_ref().map_or(0, |u| chars(u.as_str())),
                        ],
                        attributes: c.attributes.len(),
                    };
                    self.profiles.insert(c.profile_id.as_uuid(), p);
                }
                Ok(ProfileEvent::Updated(u)) => {
                    if let Some(p) = self.profiles.get_mut(&u.profile_id.as_uuid()) {
                        if let Some(v) = &u.handle {
                            p.lengths[0] = chars(v.as_str());
                        }
                        if let Some(v) = &u.display_name {
                            p.lengths[1] = chars(v.as_str());
                        }
                        if let Some(v) = &u.email {
                            p.lengths[2] = chars(v.as_str());
                        }
                        if let Some(v) = &u.bio {
                            p.lengths[3] = chars(v.as_str());
                        }
                        if let Some(v) = &u.avatar_url {
                            p.lengths[4] = v.as_ref().map_or(0, |u| chars(u.as_str()));
                        }
                        if let Some(a) = &u.attributes {
                            p.attributes = a.len();
                        }
                        (p.version, p.last_position, p.update_us) = (version, position, at);
                    }
                }
                Ok(ProfileEvent::Deleted(d)) => {
                    self.profiles.remove(&d.profile_id.as_uuid());
                }
                Err(_) => {}
            },
            "site" => match decode_site_event(&e.event_type, e.schema_version, &e.payload) {
                Ok(SiteEvent::Registered(r)) => {
                    let s = Site {
                        version,
                        last_position: position,
                        create_us: at,
                        update_us: at,
                        lengths: [chars(r.domain.as_str()), chars(r.name.as_str()), chars(r.time_zone.name())],
                        owner: r.owner_profile_id.as_uuid(),
                    };
                    self.sites.insert(r.site_id.as_uuid(), s);
                }
                Ok(SiteEvent::Updated(u)) => {
                    if let Some(s) = self.sites.get_mut(&u.site_id.as_uuid()) {
                        if let Some(v) = &u.domain {
                            s.lengths[0] = chars(v.as_str());
                        }
                        if let Some(v) = &u.name {
                            s.lengths[1] = chars(v.as_str());
                        }
                        if let Some(v) = &u.time_zone {
                            s.lengths[2] = chars(v.name());
                        }
                        (s.version, s.last_position, s.update_us) = (version, position, at);
                    }
                }
                Ok(SiteEvent::Deleted(d)) => {
                    self.sites.remove(&d.site_id.as_uuid());
                }
                // Read-key events are part of the site's stream: version and time move.
                Ok(SiteEvent::ReadKeyIssued(_) | SiteEvent::ReadKeyRevoked(_)) => {
                    if let Some(s) = stream_uuid(&e.stream_id).and_then(|id| self.sites.get_mut(&id)) {
                        (s.version, s.last_position, s.update_us) = (version, position, at);
                    }
                }
                Err(_) => {}
            },
            _ => {}
        }
    }

    /// The expected figures, in the same order as [`measure`] returns them.
    pub fn figures(&self) -> Vec<(&'static str, i128)> {
        let mut f = Figures::default();
        for p in self.profiles.values() {
            f.add(0, 1);
            f.add(1, p.version);
            f.add(2, p.last_position);
            f.add(3, p.create_us);
            f.add(4, p.update_us);
            for (i, len) in p.lengths.iter().enumerate() {
                f.add(5 + i, *len as i64);
            }
            f.add(10, p.attributes as i64);
        }
        for s in self.sites.values() {
            if self.profiles.contains_key(&s.owner) {
                f.add(11, 1);
            }
            f.add(12, 1);
            f.add(13, s.version);
            f.add(14, s.last_position);
            f.add(15, s.create_us);
            f.add(16, s.update_us);
            for (i, len) in s.lengths.iter().enumerate() {
                f.add(17 + i, *len as i64);
            }
        }
        let owners: std::collections::HashSet<&Uuid> = self.sites.values().map(|s| &s.owner).collect();
        f.add(20, owners.len() as i64);
        FIGURES.iter().zip(f.0).map(|(name, v)| (*name, v)).collect()
    }
}

/// The names of the figures compared, in order.
const FIGURES: [&str; 21] = [
    "profiles: count(*)",
    "profiles: sum(version)",
    "profiles: sum(last_position)",
    "profiles: sum(create_time µs)",
    "profiles: sum(update_time µs)",
    "profiles: sum(char_length(handle))",
    "profiles: sum(char_length(display_name))",
    "profiles: sum(char_length(email))",
    "profiles: sum(char_length(bio))",
    "profiles: sum(char_length(avatar_url))",
    "profiles: sum(attribute count)",
    "profiles: sum(jsonb_array_length(sites))",
    "sites: count(*)",
    "sites: sum(version)",
    "sites: sum(last_position)",
    "sites: sum(create_time µs)",
    "sites: sum(update_time µs)",
    "sites: sum(char_length(domain))",
    "sites: sum(char_length(name))",
    "sites: sum(char_length(time_zone))",
    "sites: count(DISTINCT owner_profile_id)",
];

#[derive(Default)]
struct Figures([i128; 21]);

impl Figures {
    fn add(&mut self, i: usize, v: i64) {
        self.0[i] += i128::from(v);
    }
}

/// The same figures, measured on the tables by SQL.
pub async fn measure(
    client: &impl GenericClient,
    tables: &VersionTables,
) -> Result<Vec<(&'static str, i128)>, tokio_postgres::Error> {
    let micros = |c: &str| format!("COALESCE(sum(trunc(extract(epoch FROM {c}) * 1000000)), 0)::text");
    let total = |c: &str| format!("COALESCE(sum({c}), 0)::text");
    let profiles_sql = format!(
        "SELECT count(*)::text, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {} FROM {}",
        total("version"),
        total("last_position"),
        micros("create_time"),
        micros("update_time"),
        total("char_length(handle)"),
        total("char_length(display_name)"),
        total("char_length(email)"),
        total("char_length(bio)"),
        total("char_length(avatar_url)"),
        total("(SELECT count(*) FROM jsonb_object_keys(attributes))"),
        total("jsonb_array_length(sites)"),
        tables.profiles
    );
    let sites_sql = format!(
        "SELECT count(*)::text, {}, {}, {}, {}, {}, {}, {}, count(DISTINCT owner_profile_id)::text FROM {}",
        total("version"),
        total("last_position"),
        micros("create_time"),
        micros("update_time"),
        total("char_length(domain)"),
        total("char_length(name)"),
        total("char_length(time_zone)"),
        tables.sites
    );
    let p = client.query_one(&profiles_sql, &[]).await?;
    let s = client.query_one(&sites_sql, &[]).await?;
    let mut values = Vec::with_capacity(FIGURES.len());
    for i in 0..p.len() {
        values.push(p.get::<_, String>(i));
    }
    for i in 0..s.len() {
        values.push(s.get::<_, String>(i));
    }
    Ok(FIGURES
        .iter()
        .zip(values)
        .map(|(name, v)| (*name, v.parse::<i128>().expect("Postgres sums of integers are integers")))
        .collect())
}

/// Lines describing every figure that differs (empty when all match).
pub fn compare(expected: &[(&'static str, i128)], actual: &[(&'static str, i128)]) -> Vec<String> {
    expected
        .iter()
        .zip(actual)
        .filter(|((_, e), (_, a))| e != a)
        .map(|((name, e), (_, a))| format!("{name}: tables have {a}, the event store says {e}"))
        .collect()
}
