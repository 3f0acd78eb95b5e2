//! A read key for the demo site, so the printed statistics examples work as shown.
//!
//! Unlike the rest of the demo data it carries no fixed `Idempotency-Key`: a replay
//! answers without the secret, and the secret is what the examples need. So the token is
//! kept in the state directory, and the next `tally up` reuses it while the query-service
//! still accepts it: the printed `KEY=` stays the same across restarts, and restarts do not
//! pile up keys (a site holds at most 100).

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::stack::state::StateDir;

/// An issued key: the bearer token and the position of its event.
#[derive(Debug, Clone)]
pub struct DemoKey {
    pub token: String,
    pub position: u64,
    /// Kept from an earlier run rather than issued now.
    pub reused: bool,
}

impl DemoKey {
    pub fn summary(&self) -> String {
        let id = self.token.split('.').next().unwrap_or_default();
        let how = if self.reused { "reused (issued by an earlier run)" } else { "issued" };
        format!("read key {id} {how} for the demo site")
    }
}

/// What the state directory keeps of the demo key.
#[derive(Debug, Serialize, Deserialize)]
struct Kept {
    site: String,
    token: String,
}

/// The kept key of `site` when the query-service at `http` still accepts it, else a new one
/// (`POST /v1/sites/{site}/read-keys` with the admin token), kept for the next run.
pub async fn read_key(http: &str, admin_token: &str, site: &str, state: &StateDir) -> Result<DemoKey> {
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build()?;
    let path = state.read_key_file();
    let kept: Option<Kept> = std::fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok());
    if let Some(kept) = kept.filter(|k| k.site == site) {
        // Any failure (revoked, a read model not yet caught up, a gateway hiccup) only costs
        // a new key.
        let url = format!("{http}/v1/sites/{site}/realtime");
        let accepted = client.get(&url).bearer_auth(&kept.token).send().await.is_ok_and(|r| r.status().is_success());
        if accepted {
            return Ok(DemoKey { token: kept.token, position: 0, reused: true });
        }
    }
    let url = format!("{http}/v1/sites/{site}/read-keys");
    let resp = client
        .post(&url)
        .bearer_auth(admin_token)
        .json(&json!({"label": "tally up demo"}))
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    anyhow::ensure!(status.is_success(), "POST {url}: {status} {body}");
    let token = body["token"].as_str().with_context(|| format!("POST {url} answered without a token: {body}"))?;
    let position = body["result"]["global_position"].as_u64().unwrap_or(0);
    let kept = Kept { site: site.to_owned(), token: token.to_owned() };
    write_private(&path, &serde_json::to_vec_pretty(&kept)?).with_context(|| format!("write {}", path.display()))?;
    Ok(DemoKey { token: token.to_owned(), position, reused: false })
}

/// Writes `bytes` readable by the owner alone: the file holds a secret.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(bytes)
}
