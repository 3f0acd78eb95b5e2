//! Sending batches to `POST /v1/import/events` and tallying the answers.

use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// Transient failures (connection errors, 429, 5xx) are retried this many times with a
/// doubling delay. reqwest has no retry of its own, and a failed batch is safe to resend
/// (lines are idempotent), so a plain loop is all this needs.
const ATTEMPTS: u32 = 6;

pub struct Client {
    http: reqwest::Client,
    endpoint: String,
    authorization: String,
}

#[derive(Debug, Default)]
pub struct Totals {
    pub recorded: u64,
    pub duplicates: u64,
    pub bots: u64,
    pub rejected: u64,
    rejections: Vec<String>,
}

/// Rejections printed at the end; the rest are only counted.
const SHOWN_REJECTIONS: usize = 20;

impl Totals {
    fn reject(&mut self, line: u64, reason: String) {
        self.rejected += 1;
        if self.rejections.len() < SHOWN_REJECTIONS {
            self.rejections.push(format!("line {line}: {reason}"));
        }
    }

    pub fn reject_locally(&mut self, line: u64, reason: &str) {
        self.reject(line, reason.to_owned());
    }

    pub fn summary(&self) -> String {
        format!(
            "{} recorded, {} already imported, {} bots dropped, {} rejected",
            self.recorded, self.duplicates, self.bots, self.rejected
        )
    }

    pub fn print_rejections(&self) {
        for r in &self.rejections {
            eprintln!("  ✘ {r}");
        }
        if self.rejected as usize > self.rejections.len() {
            eprintln!("  … and {} more rejected lines", self.rejected as usize - self.rejections.len());
        }
    }
}

impl Client {
    pub fn new(base: &str, token: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
        Ok(Self {
            http,
            endpoint: format!("{}/v1/import/events", base.trim_end_matches('/')),
            authorization: format!("Bearer {token}"),
        })
    }

    /// Sends `batch` (line number, import line) until acknowledged, and tallies outcomes.
    pub async fn send(&self, batch: &[(u64, Value)], totals: &mut Totals) -> anyhow::Result<()> {
        let body = json!({ "lines": batch.iter().map(|(_, v)| v).collect::<Vec<_>>() });
        let answer = self.post(&body).await?;
        let outcomes = answer["outcomes"].as_array().context("the server's answer has no outcomes")?;
        if outcomes.len() != batch.len() {
            bail!("the server answered {} outcomes for {} lines", outcomes.len(), batch.len());
        }
        for ((line, _), o) in batch.iter().zip(outcomes) {
            if o["duplicate"] == true {
                totals.duplicates += 1;
            } else if o["accepted"] == true {
                totals.recorded += 1;
            } else if o["dropped_bot"] == true {
                totals.bots += 1;
            } else {
                let reasons: Vec<String> = o["violations"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|v| {
                        format!("{}: {}", v["field"].as_str().unwrap_or("?"), v["description"].as_str().unwrap_or(""))
                    })
                    .collect();
                totals.reject(*line, reasons.join("; "));
            }
        }
        Ok(())
    }

    async fn post(&self, body: &Value) -> anyhow::Result<Value> {
        let mut delay = Duration::from_millis(250);
        for attempt in 1..=ATTEMPTS {
            let sent =
                self.http.post(&self.endpoint).header("authorization", &self.authorization).json(body).send().await;
            let retry = match sent {
                Ok(resp) if resp.status().is_success() => return Ok(resp.json().await?),
                Ok(resp) if resp.status() == 429 || resp.status().is_server_error() => {
                    format!("HTTP {}", resp.status())
                }
                Ok(resp) => {
                    let status = resp.status();
                    let text = resp.text().await.unwrap_or_default();
                    bail!("the server refused the import (HTTP {status}): {text}");
                }
                Err(e) if e.is_connect() || e.is_timeout() => e.to_string(),
                Err(e) => return Err(e.into()),
            };
            if attempt == ATTEMPTS {
                bail!("giving up after {ATTEMPTS} attempts: {retry}");
            }
            crate::ui::note(format!("{retry}; retrying in {delay:?}"));
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
        unreachable!("the loop returns or bails on its last attempt")
    }
}
