//! A read key for the demo site, so the printed statistics examples work as shown.
//!
//! Unlike the rest of the demo data it carries no fixed `Idempotency-Key`: a replay
//! answers without the secret, and the secret is what the examples need. Each `tally up`
//! therefore issues a fresh key (a site holds up to 100).

use anyhow::{Context, Result};
use serde_json::{Value, json};

/// An issued key: the bearer token and the position of its event.
#[derive(Debug, Clone)]
pub struct DemoKey {
    pub token: String,
    pub position: u64,
}

impl DemoKey {
    pub fn summary(&self) -> String {
        let id = self.token.split('.').next().unwrap_or_default();
        format!("read key {id} issued for the demo site")
    }
}

/// `POST /v1/sites/{site}/read-keys` through the gateway at `http`, with the admin token.
pub async fn read_key(http: &str, admin_token: &str, site: &str) -> Result<DemoKey> {
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build()?;
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
    Ok(DemoKey { token: token.to_owned(), position })
}
