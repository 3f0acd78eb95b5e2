//! Demo data for a fresh stack, sent through the gateway like any client's requests:
//! profiles and sites over REST, analytics traffic over gRPC ([`traffic`]).
//!
//! Every request carries a fixed `Idempotency-Key`, so running `tally up` again creates
//! nothing new: the service replays the first result. A 409 (say, the handle is taken
//! because the key expired) also counts as "already seeded".

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::state::StateDir;

mod read_key;
mod traffic;
pub use read_key::{DemoKey, read_key};
pub use traffic::{Traffic, traffic};

/// What [`profiles_and_sites`] did.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub summary: String,
    /// `(domain, site id)` of every demo site.
    pub sites: Vec<(String, String)>,
    /// The highest global position the seeding commands answered with: a read with this
    /// as its minimum position sees all of the demo data.
    pub position: u64,
}

struct SeedProfile {
    handle: &'static str,
    display_name: &'static str,
    bio: &'static str,
    field: &'static str,
}

const PROFILES: &[SeedProfile] = &[
    SeedProfile { handle: "ada", display_name: "Ada Lovelace", bio: "Wrote the first program.", field: "mathematics" },
    SeedProfile {
        handle: "grace",
        display_name: "Grace Hopper",
        bio: "Made computers speak English.",
        field: "compilers",
    },
    SeedProfile {
        handle: "alan",
        display_name: "Alan Turing",
        bio: "Asked whether machines can think.",
        field: "computability",
    },
];

struct SeedSite {
    domain: &'static str,
    name: &'static str,
    time_zone: &'static str,
    owner: &'static str,
}

const SITES: &[SeedSite] = &[
    SeedSite { domain: "ada.example.com", name: "Ada's Notes", time_zone: "Europe/London", owner: "ada" },
    SeedSite { domain: "grace.example.com", name: "Grace's Log", time_zone: "America/New_York", owner: "grace" },
];

/// Seeds demo profiles and sites through the REST API at `base`.
pub async fn profiles_and_sites(base: &str, state: &StateDir) -> Result<Seeded> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    // Ids from earlier runs: a 409 carries no id, but a site still needs its owner's.
    let mut ids: BTreeMap<String, String> =
        std::fs::read(state.seed_file()).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    let mut tally = Outcomes::default();

    for p in PROFILES {
        let body = json!({
            "handle": p.handle,
            "display_name": p.display_name,
            "email": format!("{}@example.com", p.handle),
            "bio": p.bio,
            "avatar_url": format!("https://example.com/avatars/{}.png", p.handle),
            "attributes": { "field": p.field },
        });
        let key = format!("tally-seed-profile-{}", p.handle);
        if let Some(id) = tally.record(post(&http, &format!("{base}/v1/profiles"), &key, &body).await?, "profile") {
            ids.insert(format!("profile:{}", p.handle), id);
        }
    }
    for s in SITES {
        let Some(owner) = ids.get(&format!("profile:{}", s.owner)) else {
            tally.failed.push(format!("site {}: owner `{}` has no known id", s.domain, s.owner));
            continue;
        };
        let body = json!({
            "domain": s.domain,
            "name": s.name,
            "time_zone": s.time_zone,
            "owner_profile_id": owner,
        });
        let key = format!("tally-seed-site-{}", s.domain);
        if let Some(id) = tally.record(post(&http, &format!("{base}/v1/sites"), &key, &body).await?, "site") {
            ids.insert(format!("site:{}", s.domain), id);
        }
    }

    std::fs::write(state.seed_file(), serde_json::to_vec_pretty(&ids)?)
        .with_context(|| format!("write {}", state.seed_file().display()))?;
    anyhow::ensure!(tally.failed.is_empty(), "some demo data was rejected:\n  {}", tally.failed.join("\n  "));
    let sites = SITES
        .iter()
        .filter_map(|s| Some((s.domain.to_owned(), ids.get(&format!("site:{}", s.domain))?.clone())))
        .collect();
    Ok(Seeded {
        summary: format!("{} profiles, {} sites ({} already present)", PROFILES.len(), SITES.len(), tally.conflicts),
        sites,
        position: tally.position,
    })
}

/// Waits (bounded) until the demo data up to `position` can be read back through the
/// gateway: the whole loop (command → relay → broker → projector → read DB → replica →
/// query) works.
pub async fn await_readable(base: &str, position: u64) -> Result<String> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
    let url = format!("{base}/v1/profiles/by-handle/ada");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let resp = http.get(&url).header("X-Min-Position", position.to_string()).send().await;
        if let Ok(resp) = &resp
            && resp.status().is_success()
        {
            let by = resp.headers().get("x-upstream").and_then(|v| v.to_str().ok()).unwrap_or("?");
            return Ok(format!("GET /v1/profiles/by-handle/ada answered by {by}"));
        }
        if std::time::Instant::now() >= deadline {
            let status = resp.map(|r| r.status().to_string()).unwrap_or_else(|e| e.to_string());
            anyhow::bail!("demo profile not readable at {url} after 30 s (last answer: {status})");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A handle no earlier run has taken, for the printed "create a profile" example.
pub fn fresh_handle() -> String {
    let suffix: String = (0..5).map(|_| (b'a' + rand::random_range(0..26u8)) as char).collect();
    format!("hedy_{suffix}")
}

async fn post(http: &reqwest::Client, url: &str, key: &str, body: &Value) -> Result<(String, StatusCode, String)> {
    let resp =
        http.post(url).header("Idempotency-Key", key).json(body).send().await.with_context(|| format!("POST {url}"))?;
    let status = resp.status();
    Ok((url.to_owned(), status, resp.text().await.unwrap_or_default()))
}

#[derive(Default)]
struct Outcomes {
    /// Resources an earlier run already created (a replayed command or a 409).
    conflicts: usize,
    failed: Vec<String>,
    position: u64,
}

impl Outcomes {
    /// Classifies a response; returns the created (or replayed) resource's id.
    fn record(&mut self, (url, status, body): (String, StatusCode, String), kind: &str) -> Option<String> {
        if status == StatusCode::CONFLICT {
            self.conflicts += 1;
            return None;
        }
        if !status.is_success() {
            self.failed.push(format!("POST {url}: {status} {}", one_line(&body)));
            return None;
        }
        let parsed: Option<Value> = serde_json::from_str(&body).ok();
        if let Some(position) = parsed.as_ref().and_then(|v| v["result"]["global_position"].as_u64()) {
            self.position = self.position.max(position);
        }
        // A rerun's idempotency keys replay the first answer instead of writing again.
        if parsed.as_ref().and_then(|v| v["result"]["replayed"].as_bool()) == Some(true) {
            self.conflicts += 1;
        }
        let id = parsed.and_then(|v| find_id(&v, kind));
        if id.is_none() {
            self.failed.push(format!("POST {url}: no id in response {}", one_line(&body)));
        }
        id
    }
}

/// A response body shortened to one readable line for a report.
fn one_line(body: &str) -> String {
    let flat = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

/// The resource id in a create response, whichever common shape it has: `id`,
/// `<kind>_id`, a nested `<kind>.id`, or an AIP resource name `<kind>s/<id>`.
fn find_id(v: &Value, kind: &str) -> Option<String> {
    let as_str = |v: &Value| v.as_str().map(str::to_owned);
    if let Some(id) = v.get("id").and_then(as_str).or_else(|| v.get(format!("{kind}_id")).and_then(as_str)) {
        return Some(id);
    }
    if let Some(name) = v.get("name").and_then(Value::as_str)
        && let Some(id) = name.strip_prefix(&format!("{kind}s/"))
    {
        return Some(id.to_owned());
    }
    v.get(kind).and_then(|inner| find_id(inner, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ids_in_common_response_shapes() {
        assert_eq!(find_id(&json!({"id": "a"}), "profile").as_deref(), Some("a"));
        assert_eq!(find_id(&json!({"profile_id": "b"}), "profile").as_deref(), Some("b"));
        assert_eq!(find_id(&json!({"profile": {"id": "c"}}), "profile").as_deref(), Some("c"));
        assert_eq!(find_id(&json!({"name": "sites/d"}), "site").as_deref(), Some("d"));
        assert_eq!(find_id(&json!({"name": "Ada's Notes"}), "site"), None);
    }
}
