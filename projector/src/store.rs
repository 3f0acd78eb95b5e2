//! SQL for one version of the profiles projection: load the rows a batch
//! touches, write back what the fold changed. A batch costs a fixed handful
//! of round trips whatever its size: ids go in as arrays (`= ANY`, `unnest`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use tokio_postgres::{Row, types::ToSql};
use uuid::Uuid;

use crate::{
    fold::{Fold, KeyId},
    rows::{ProfileRow, ReadKeyRow, SiteRow, Slot},
    schema::VersionTables,
};

/// Advisory-lock class (first key) for "this profile's `sites` array", so
/// projectors on different partitions serialise work on one owner.
const OWNER_LOCK_CLASS: i32 = 0x7A12;

pub(crate) const PROFILE_COLUMNS: &str = "id, handle, display_name, email, bio, avatar_url, attributes, version, create_time, \
                               update_time, last_position";
pub(crate) const SITE_COLUMNS: &str =
    "id, domain, name, time_zone, owner_profile_id, version, create_time, update_time, last_position";
pub(crate) const KEY_COLUMNS: &str = "site_id, key_id, key_hash, label, revoked, last_position";

/// Statement parameters, as an array sized for the statement.
type Params<'a, const N: usize> = [&'a (dyn ToSql + Sync); N];

/// The SQL of one version, formatted once.
#[derive(Debug, Clone)]
pub struct Statements {
    pub tables: VersionTables,
    lock_owners: String,
    load_profiles: String,
    load_profiles_for_update: String,
    load_sites: String,
    load_sites_for_update: String,
    load_tombstones: String,
    upsert_profiles: String,
    upsert_sites: String,
    delete_profiles: String,
    delete_sites: String,
    tombstone: String,
    refresh_sites: String,
    load_keys: String,
    upsert_keys: String,
    delete_site_keys: String,
}

/// The aggregate that makes a `sites` array out of site rows aliased `s`, sorted by domain.
/// One definition, so the rebuild's set-based recomputation cannot drift from the live path.
pub(crate) const SITES_AGG: &str = "jsonb_agg(jsonb_build_object('id', s.id, 'domain', s.domain, 'name', s.name, \
                                                               'time_zone', s.time_zone) ORDER BY s.domain, s.id)";

/// The `sites` array of the profile `owner` (an SQL expression), sorted by domain.
fn sites_array(site_table: &str, owner: &str) -> String {
    format!("COALESCE((SELECT {SITES_AGG} FROM {site_table} s WHERE s.owner_profile_id = {owner}), '[]'::jsonb)")
}

impl Statements {
    pub fn new(version: i32) -> Self {
        let tables = VersionTables::new(version);
        let (p, s, t) = (&tables.profiles, &tables.sites, &tables.tombstones);
        let set_profile =
            PROFILE_COLUMNS.split(", ").skip(1).map(|c| format!("{c} = EXCLUDED.{c}")).collect::<Vec<_>>().join(", ");
        let set_site =
            SITE_COLUMNS.split(", ").skip(1).map(|c| format!("{c} = EXCLUDED.{c}")).collect::<Vec<_>>().join(", ");
        Statements {
            lock_owners: format!(
                "SELECT count(pg_advisory_xact_lock({OWNER_LOCK_CLASS}, k)) FROM ( \
                   SELECT DISTINCT hashtext(o::text) AS k FROM ( \
                     SELECT unnest($1::uuid[]) AS o UNION ALL SELECT owner_profile_id FROM {s} WHERE id = ANY($2) \
                   ) owners ORDER BY k \
                 ) keys"
            ),
            load_profiles: format!("SELECT {PROFILE_COLUMNS} FROM {p} WHERE id = ANY($1)"),
            load_profiles_for_update: format!("SELECT {PROFILE_COLUMNS} FROM {p} WHERE id = ANY($1) FOR UPDATE"),
            load_sites: format!("SELECT {SITE_COLUMNS} FROM {s} WHERE id = ANY($1)"),
            load_sites_for_update: format!("SELECT {SITE_COLUMNS} FROM {s} WHERE id = ANY($1) FOR UPDATE"),
            load_tombstones: format!("SELECT id, last_position FROM {t} WHERE id = ANY($1)"),
            // A new profile's `sites` is computed as it is inserted: its sites
            // may have been projected first (another partition). Existing rows
            // keep theirs; site events refresh them below.
            upsert_profiles: format!(
                "INSERT INTO {p} ({PROFILE_COLUMNS}, sites) \
                 SELECT u.*, {sites_of_u} \
                 FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                             $7::jsonb[], $8::int8[], $9::timestamptz[], $10::timestamptz[], $11::int8[]) \
                      AS u({PROFILE_COLUMNS}) \
                 ON CONFLICT (id) DO UPDATE SET {set_profile}",
                sites_of_u = sites_array(s, "u.id"),
            ),
            upsert_sites: format!(
                "INSERT INTO {s} ({SITE_COLUMNS}) \
                 SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::int8[], \
                                      $7::timestamptz[], $8::timestamptz[], $9::int8[]) \
                 ON CONFLICT (id) DO UPDATE SET {set_site}"
            ),
            delete_profiles: format!("DELETE FROM {p} WHERE id = ANY($1)"),
            delete_sites: format!("DELETE FROM {s} WHERE id = ANY($1)"),
            tombstone: format!(
                "INSERT INTO {t} (id, last_position) SELECT * FROM unnest($1::uuid[], $2::int8[]) \
                 ON CONFLICT (id) DO UPDATE SET last_position = GREATEST({t}.last_position, EXCLUDED.last_position)"
            ),
            // Only rows whose array actually changes are written.
            refresh_sites: format!(
                "WITH fresh AS (SELECT o.id, {sites_of_o} AS sites FROM unnest($1::uuid[]) AS o(id)) \
                 UPDATE {p} p SET sites = fresh.sites FROM fresh WHERE p.id = fresh.id AND p.sites <> fresh.sites",
                sites_of_o = sites_array(s, "o.id"),
            ),
            // No row locks of their own: a key only changes through its site's stream, whose
            // row the batch holds.
            load_keys: format!(
                "SELECT k.{cols} FROM {k} k JOIN unnest($1::uuid[], $2::text[]) AS u(site_id, key_id) \
                 ON k.site_id = u.site_id AND k.key_id = u.key_id",
                k = tables.read_keys,
                cols = KEY_COLUMNS.replace(", ", ", k."),
            ),
            upsert_keys: upsert_keys_sql(&tables.read_keys),
            delete_site_keys: format!("DELETE FROM {} WHERE site_id = ANY($1)", tables.read_keys),
            tables,
        }
    }

    pub fn version(&self) -> i32 {
        self.tables.version
    }

    /// Takes the per-owner advisory locks for every profile the batch may
    /// touch (its profile events, and the owners of its sites), in a fixed
    /// order so two projectors cannot deadlock on them.
    pub async fn lock_owners(
        &self,
        tx: &Transaction<'_>,
        profile_ids: &[Uuid],
        site_ids: &[Uuid],
    ) -> Result<(), tokio_postgres::Error> {
        let stmt = tx.prepare_cached(&self.lock_owners).await?;
        tx.query_one(&stmt, &[&profile_ids, &site_ids]).await?;
        Ok(())
    }

    /// Loads the rows and tombstones of `profile_ids` and `site_ids`, and the read keys
    /// `keys`, into a fresh fold; `for_update` locks the profile and site rows until the
    /// transaction ends.
    pub async fn load(
        &self,
        tx: &Transaction<'_>,
        profile_ids: &[Uuid],
        site_ids: &[Uuid],
        keys: &[KeyId],
        for_update: bool,
    ) -> Result<Fold, tokio_postgres::Error> {
        let (lp, ls) = if for_update {
            (&self.load_profiles_for_update, &self.load_sites_for_update)
        } else {
            (&self.load_profiles, &self.load_sites)
        };
        let (sp, ss, st) =
            futures::try_join!(tx.prepare_cached(lp), tx.prepare_cached(ls), tx.prepare_cached(&self.load_tombstones))?;
        let all: Vec<Uuid> = profile_ids.iter().chain(site_ids).copied().collect();
        let (pp, ps, pt): (Params<1>, Params<1>, Params<1>) = ([&profile_ids], [&site_ids], [&all]);
        let (profiles, sites, tombs) = futures::try_join!(tx.query(&sp, &pp), tx.query(&ss, &ps), tx.query(&st, &pt))?;

        let mut fold = Fold::default();
        for row in &profiles {
            let r = profile_row(row);
            fold.profiles.insert(r.id, Slot::Live(r));
        }
        for row in &sites {
            let r = site_row(row);
            fold.sites.insert(r.id, Slot::Live(r));
        }
        if !keys.is_empty() {
            let (key_sites, key_ids): (Vec<Uuid>, Vec<&str>) = keys.iter().map(|(s, k)| (*s, k.as_str())).unzip();
            let stmt = tx.prepare_cached(&self.load_keys).await?;
            for row in tx.query(&stmt, &[&key_sites, &key_ids]).await? {
                let r = key_row(&row);
                fold.keys.insert((r.site_id, r.key_id.clone()), r);
            }
        }
        let profile_set: BTreeSet<&Uuid> = profile_ids.iter().collect();
        for row in &tombs {
            let (id, at): (Uuid, i64) = (row.get(0), row.get(1));
            if profile_set.contains(&id) {
                fold.profiles.insert(id, Slot::Gone(at));
            } else {
                fold.sites.insert(id, Slot::Gone(at));
            }
        }
        Ok(fold)
    }

    /// Writes every dirty slot of `fold`, then recomputes the `sites` arrays
    /// of the owners it names.
    pub async fn write(&self, tx: &Transaction<'_>, fold: &Fold) -> Result<(), tokio_postgres::Error> {
        let mut profiles = ProfileColumns::default();
        let mut sites = SiteColumns::default();
        let (mut gone_profiles, mut gone_sites, mut tomb_ids, mut tomb_pos) = (vec![], vec![], vec![], vec![]);
        for id in &fold.dirty_profiles {
            match &fold.profiles[id] {
                Slot::Live(r) => profiles.push(r),
                Slot::Gone(at) => {
                    gone_profiles.push(*id);
                    tomb_ids.push(*id);
                    tomb_pos.push(*at);
                }
            }
        }
        for id in &fold.dirty_sites {
            match &fold.sites[id] {
                Slot::Live(r) => sites.push(r),
                Slot::Gone(at) => {
                    gone_sites.push(*id);
                    tomb_ids.push(*id);
                    tomb_pos.push(*at);
                }
            }
        }
        let owners: Vec<Uuid> = fold.refresh_owners.iter().copied().collect();
        let mut keys = KeyColumns::default();
        for id in &fold.dirty_keys {
            keys.push(&fold.keys[id]);
        }

        // Prepared first, so the executions below are sent (and run) in order
        // in one pipeline: new profiles and the refresh must see the site rows
        // written before them.
        let (s_dp, s_ds, s_dk, s_t, s_us, s_uk, s_up, s_r) = futures::try_join!(
            tx.prepare_cached(&self.delete_profiles),
            tx.prepare_cached(&self.delete_sites),
            tx.prepare_cached(&self.delete_site_keys),
            tx.prepare_cached(&self.tombstone),
            tx.prepare_cached(&self.upsert_sites),
            tx.prepare_cached(&self.upsert_keys),
            tx.prepare_cached(&self.upsert_profiles),
            tx.prepare_cached(&self.refresh_sites),
        )?;
        let (p, s) = (&profiles, &sites);
        let delete_profiles: Params<1> = [&gone_profiles];
        let delete_sites: Params<1> = [&gone_sites];
        let tombstones: Params<2> = [&tomb_ids, &tomb_pos];
        let upsert_profiles: Params<11> = [
            &p.id,
            &p.handle,
            &p.display_name,
            &p.email,
            &p.bio,
            &p.avatar_url,
            &p.attributes,
            &p.version,
            &p.create_time,
            &p.update_time,
            &p.last_position,
        ];
        let upsert_sites: Params<9> = [
            &s.id,
            &s.domain,
            &s.name,
            &s.time_zone,
            &s.owner,
            &s.version,
            &s.create_time,
            &s.update_time,
            &s.last_position,
        ];
        let refresh: Params<1> = [&owners];
        let upsert_keys = keys.params();
        futures::try_join!(
            run_if(!gone_profiles.is_empty(), tx.execute(&s_dp, &delete_profiles)),
            run_if(!gone_sites.is_empty(), tx.execute(&s_ds, &delete_sites)),
            run_if(!gone_sites.is_empty(), tx.execute(&s_dk, &delete_sites)),
            run_if(!tomb_ids.is_empty(), tx.execute(&s_t, &tombstones)),
            run_if(!s.id.is_empty(), tx.execute(&s_us, &upsert_sites)),
            run_if(!keys.site_id.is_empty(), tx.execute(&s_uk, &upsert_keys)),
            run_if(!p.id.is_empty(), tx.execute(&s_up, &upsert_profiles)),
            run_if(!owners.is_empty(), tx.execute(&s_r, &refresh)),
        )?;
        Ok(())
    }
}

/// Writes read-key rows given as arrays (`KeyColumns::params`). A row only ever moves
/// forward (a re-delivery at or below its position changes nothing), and a revoked key stays
/// revoked whatever comes after.
pub(crate) fn upsert_keys_sql(table: &str) -> String {
    format!(
        "INSERT INTO {table} AS k ({KEY_COLUMNS}) \
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::text[], $5::bool[], $6::int8[]) \
         ON CONFLICT (site_id, key_id) DO UPDATE SET key_hash = EXCLUDED.key_hash, label = EXCLUDED.label, \
           revoked = k.revoked OR EXCLUDED.revoked, last_position = EXCLUDED.last_position \
         WHERE k.last_position < EXCLUDED.last_position"
    )
}

/// Sends the statement only when there is something to write. A future that
/// is not polled sends nothing, so skipping one keeps the pipeline's order.
pub(crate) async fn run_if(
    cond: bool,
    fut: impl Future<Output = Result<u64, tokio_postgres::Error>>,
) -> Result<u64, tokio_postgres::Error> {
    if cond { fut.await } else { Ok(0) }
}

#[derive(Default)]
struct ProfileColumns {
    id: Vec<Uuid>,
    handle: Vec<String>,
    display_name: Vec<String>,
    email: Vec<String>,
    bio: Vec<String>,
    avatar_url: Vec<String>,
    attributes: Vec<serde_json::Value>,
    version: Vec<i64>,
    create_time: Vec<DateTime<Utc>>,
    update_time: Vec<DateTime<Utc>>,
    last_position: Vec<i64>,
}

impl ProfileColumns {
    fn push(&mut self, r: &ProfileRow) {
        self.id.push(r.id);
        self.handle.push(r.handle.clone());
        self.display_name.push(r.display_name.clone());
        self.email.push(r.email.clone());
        self.bio.push(r.bio.clone());
        self.avatar_url.push(r.avatar_url.clone());
        self.attributes.push(serde_json::to_value(&r.attributes).expect("a string map is valid JSON"));
        self.version.push(r.version);
        self.create_time.push(r.create_time);
        self.update_time.push(r.update_time);
        self.last_position.push(r.last_position);
    }
}

#[derive(Default)]
struct SiteColumns {
    id: Vec<Uuid>,
    domain: Vec<String>,
    name: Vec<String>,
    time_zone: Vec<String>,
    owner: Vec<Uuid>,
    version: Vec<i64>,
    create_time: Vec<DateTime<Utc>>,
    update_time: Vec<DateTime<Utc>>,
    last_position: Vec<i64>,
}

impl SiteColumns {
    fn push(&mut self, r: &SiteRow) {
        self.id.push(r.id);
        self.domain.push(r.domain.clone());
        self.name.push(r.name.clone());
        self.time_zone.push(r.time_zone.clone());
        self.owner.push(r.owner_profile_id);
        self.version.push(r.version);
        self.create_time.push(r.create_time);
        self.update_time.push(r.update_time);
        self.last_position.push(r.last_position);
    }
}

/// Read-key rows as the arrays of [`upsert_keys_sql`].
#[derive(Default)]
pub(crate) struct KeyColumns {
    pub site_id: Vec<Uuid>,
    key_id: Vec<String>,
    key_hash: Vec<Vec<u8>>,
    label: Vec<String>,
    revoked: Vec<bool>,
    last_position: Vec<i64>,
}

impl KeyColumns {
    pub fn push(&mut self, r: &ReadKeyRow) {
        self.site_id.push(r.site_id);
        self.key_id.push(r.key_id.clone());
        self.key_hash.push(r.key_hash.clone());
        self.label.push(r.label.clone());
        self.revoked.push(r.revoked);
        self.last_position.push(r.last_position);
    }

    pub fn params(&self) -> Params<'_, 6> {
        [&self.site_id, &self.key_id, &self.key_hash, &self.label, &self.revoked, &self.last_position]
    }
}

fn key_row(row: &Row) -> ReadKeyRow {
    ReadKeyRow {
        site_id: row.get(0),
        key_id: row.get(1),
        key_hash: row.get(2),
        label: row.get(3),
        revoked: row.get(4),
        last_position: row.get(5),
    }
}

fn profile_row(row: &Row) -> ProfileRow {
    let attributes: serde_json::Value = row.get(6);
    ProfileRow {
        id: row.get(0),
        handle: row.get(1),
        display_name: row.get(2),
        email: row.get(3),
        bio: row.get(4),
        avatar_url: row.get(5),
        attributes: string_map(attributes),
        version: row.get(7),
        create_time: row.get(8),
        update_time: row.get(9),
        last_position: row.get(10),
    }
}

fn site_row(row: &Row) -> SiteRow {
    SiteRow {
        id: row.get(0),
        domain: row.get(1),
        name: row.get(2),
        time_zone: row.get(3),
        owner_profile_id: row.get(4),
        version: row.get(5),
        create_time: row.get(6),
        update_time: row.get(7),
        last_position: row.get(8),
    }
}

/// The projector only ever writes string values; anything else (a hand edit)
/// is kept as its JSON text rather than lost.
fn string_map(value: serde_json::Value) -> BTreeMap<String, String> {
    match value {
        serde_json::Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}
