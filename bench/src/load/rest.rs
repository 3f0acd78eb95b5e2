//! REST transport (reqwest), one keep-alive HTTP/1.1 connection per simulated client.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::client::{OpError, email, expect_one_event};

pub struct RestConn {
    http: reqwest::Client,
    base: String,
}

impl RestConn {
    pub fn new(base: &str, timeout: Duration) -> anyhow::Result<Self> {
        // A client per simulated client, each holding its own connection: a shared pool would
        // let clients wait for each other inside the load generator.
        let http = reqwest::Client::builder().timeout(timeout).pool_max_idle_per_host(1).tcp_nodelay(true).build()?;
        Ok(Self { http, base: base.to_owned() })
    }

    pub async fn create(&mut self, handle: &str) -> Result<String, OpError> {
        let body = json!({
            "handle": handle,
            "display_name": format!("Bench {handle}"),
            "email": email(handle),
        });
        let request = self.http.post(format!("{}/v1/profiles", self.base)).json(&body);
        let value = send(request, StatusCode::CREATED).await?;
        value["profile"]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| OpError::new("unexpected result", "POST /v1/profiles returned no id"))
    }

    pub async fn update(&mut self, id: &str, bio: &str) -> Result<(), OpError> {
        let request = self.http.patch(format!("{}/v1/profiles/{id}", self.base)).json(&json!({ "bio": bio }));
        send(request, StatusCode::OK).await.map(drop)
    }
}

async fn send(request: reqwest::RequestBuilder, expected: StatusCode) -> Result<Value, OpError> {
    let response = request
        .send()
        .await
        .map_err(|e| OpError::new(if e.is_timeout() { "timeout" } else { "transport" }, e.to_string()))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| OpError::new("transport", e.to_string()))?;
    if status != expected {
        return Err(OpError::new(format!("http {}", status.as_u16()), text));
    }
    let value: Value = serde_json::from_str(&text).map_err(|e| OpError::new("unexpected result", e.to_string()))?;
    expect_one_event(value["result"]["events_appended"].as_u64())?;
    Ok(value)
}
