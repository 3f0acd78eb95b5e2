//! Some analytics ingest next to the profile traffic: Plausible-style pageviews posted to the
//! command-service's `POST /api/event` from a few closed-loop clients, for one registered site.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::StatusCode;
use serde::Serialize;
use serde_json::json;
use tokio::task::JoinSet;

use crate::progress::Live;

pub const DOMAIN: &str = "footprint.bench.example";
/// A browser's agent: the ingest path drops known bots, which would make the load vanish.
const USER_AGENT: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
const SAMPLE_ERRORS: usize = 5;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Ingested {
    pub clients: u32,
    /// Events answered `202 Accepted`.
    pub accepted: u64,
    pub errors: u64,
    pub sample_errors: Vec<String>,
}

fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder().timeout(Duration::from_secs(10)).user_agent(USER_AGENT).tcp_nodelay(true).build()?)
}

/// Registers [`DOMAIN`] for a new owner profile through the REST API.
pub async fn register_site(base: &str) -> anyhow::Result<()> {
    let http = client()?;
    let owner: serde_json::Value = http
        .post(format!("{base}/v1/profiles"))
        .json(&json!({"handle": "footprintowner", "display_name": "Footprint", "email": "owner@bench.example"}))
        .send()
        .await?
        .error_for_status()
        .context("creating the site owner")?
        .json()
        .await?;
    let owner = owner["profile"]["id"].as_str().context("the owner profile has no id")?;
    http.post(format!("{base}/v1/sites"))
        .json(&json!({"domain": DOMAIN, "time_zone": "UTC", "owner_profile_id": owner, "name": "Footprint"}))
        .send()
        .await?
        .error_for_status()
        .context("registering the site")?;
    Ok(())
}

/// Posts pageviews from `clients` closed loops until `until`.
pub async fn run(base: &str, clients: u32, until: Instant, live: Arc<Live>) -> anyhow::Result<Ingested> {
    let mut tasks = JoinSet::new();
    for c in 0..clients {
        let (http, url, live) = (client()?, format!("{base}/api/event"), live.clone());
        tasks.spawn(async move {
            let mut out = Ingested::default();
            let mut k: u64 = 0;
            while Instant::now() < until {
                let body = json!({"n": "pageview", "u": format!("https://{DOMAIN}/page/{}", k % 50), "d": DOMAIN});
                let result = http.post(&url).json(&body).send().await;
                match result.map(|r| r.status()) {
                    Ok(StatusCode::ACCEPTED) => {
                        out.accepted += 1;
                        live.ok.fetch_add(1, Ordering::Relaxed);
                    }
                    other => {
                        out.errors += 1;
                        live.errors.fetch_add(1, Ordering::Relaxed);
                        if out.sample_errors.len() < SAMPLE_ERRORS {
                            out.sample_errors.push(format!("ingest client {c}: {other:?}"));
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
                k += 1;
            }
            out
        });
    }
    let mut all = Ingested { clients, ..Ingested::default() };
    while let Some(done) = tasks.join_next().await {
        let o = done.context("an ingest task panicked")?;
        all.accepted += o.accepted;
        all.errors += o.errors;
        all.sample_errors.extend(o.sample_errors);
    }
    all.sample_errors.truncate(SAMPLE_ERRORS);
    Ok(all)
}
