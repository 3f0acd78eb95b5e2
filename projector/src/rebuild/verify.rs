//! Verification of a rebuilt version: row counts and per-column sums of the
//! new tables must equal an independent recomputation from the event store.
//!
//! "Independent" is meant literally: the recomputation decodes payloads with
//! the domain's own decoders (`tally_proto::convert`) and folds them into
//! plain in-memory aggregates, sharing none of the projector's decoding,
//! fold or SQL. A bug in either path shows up as a mismatch.

use std::collections::{BTreeMap, HashMap};

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

#[derive(Debug, Clone)]
struct Key {
    revoked: bool,
    last_position: i64,
    label: usize,
    first_hash_byte: u8,
}

/// The in-memory recomputation, fed page by page during the replay.
#[derive(Debug, Default)]
pub struct Model {
    profiles: HashMap<Uuid, Profile>,
    sites: HashMap<Uuid, Site>,
    /// By site, then key id: a deleted site's keys are one range.
    keys: BTreeMap<(Uuid, String), Key>,
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
                    let site = d.site_id.as_uuid();
                    self.sites.remove(&site);
                    let gone: Vec<(Uuid, String)> = self
                        .keys
                        .range((site, String::new())..)
                        .map(|(k, _)| k.clone())
                        .take_while(|k| k.0 == site)
                        .collect();
                    gone.iter().for_each(|k| {
                        self.keys.remove(k);
                    });
                }
                // Read-key events are part of the site's stream: version and time move.
                Ok(SiteEvent::ReadKeyIssued(i)) => {
                    let id = (i.site_id.as_uuid(), i.key_id.as_str().to_owned());
                    if !self.keys.contains_key(&id) && self.touch_site(&e.stream_id, version, position, at) {
                        let key = Key {
                            revoked: false,
                            last_position: position,
                            label: chars(i.label.as_str()),
                            first_hash_byte: i.key_hash[0],
                        };
                        self.keys.insert(id, key);
                    }
                }
                Ok(SiteEvent::ReadKeyRevoked(r)) => {
                    let id = (r.site_id.as_uuid(), r.key_id.as_str().to_owned());
                    if self.keys.contains_key(&id) && self.touch_site(&e.stream_id, version, position, at) {
                        let key = self.keys.get_mut(&id).expect("checked above");
                        (key.revoked, key.last_position) = (true, position);
                    }
                }
                Err(_) => {}
            },
            _ => {}
        }
    }

    /// Moves the version and time of the site of `stream_id`; false when it is not there.
    fn touch_site(&mut self, stream_id: &str, version: i64, position: i64, at: i64) -> bool {
        match stream_uuid(stream_id).and_then(|id| self.sites.get_mut(&id)) {
            Some(s) => {
                (s.version, s.last_position, s.update_us) = (version, position, at);
                true
            }
            None => false,
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
        for k in self.keys.values() {
            f.add(21, 1);
            f.add(22, i64::from(k.revoked));
            f.add(23, k.last_position);
            f.add(24, k.label as i64);
            f.add(25, i64::from(k.first_hash_byte));
        }
        FIGURES.iter().zip(f.0).map(|(name, v)| (*name, v)).collect()
    }
}

/// The names of the figures compared, in order.
const FIGURES: [&str; 26] = [
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
    "read keys: count(*)",
    "read keys: count(*) FILTER (WHERE revoked)",
    "read keys: sum(last_position)",
    "read keys: sum(char_length(label))",
    "read keys: sum(get_byte(key_hash, 0))",
];

#[derive(Default)]
struct Figures([i128; 26]);

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
    let keys_sql = format!(
        "SELECT count(*)::text, count(*) FILTER (WHERE revoked)::text, {}, {}, {} FROM {}",
        total("last_position"),
        total("char_length(label)"),
        total("get_byte(key_hash, 0)"),
        tables.read_keys
    );
    let mut values = Vec::with_capacity(FIGURES.len());
    for sql in [profiles_sql, sites_sql, keys_sql] {
        let row = client.query_one(&sql, &[]).await?;
        for i in 0..row.len() {
            values.push(row.get::<_, String>(i));
        }
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
