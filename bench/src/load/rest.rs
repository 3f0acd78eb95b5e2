//! REST transport: one keep-alive HTTP/1.1 connection per simulated client, on the lean
//! client the read benchmark uses ([`Http1`]). With `reqwest` the load generator cost ~30 µs
//! of CPU per command, taken on this 2-core machine from the service being measured.

use std::time::Duration;

use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use super::client::{OpError, email, expect_one_event};
use crate::http1::Http1;

pub struct RestConn {
    http: Http1,
    timeout: Duration,
}

impl RestConn {
    pub fn new(base: &str, timeout: Duration) -> anyhow::Result<Self> {
        Ok(Self { http: Http1::new(base, timeout)?, timeout })
    }

    pub async fn create(&mut self, handle: &str) -> Result<String, OpError> {
        let body = json!({
            "handle": handle,
            "display_name": format!("Bench {handle}"),
            "email": email(handle),
        });
        let value = self.send(Method::POST, "/v1/profiles", &body, StatusCode::CREATED).await?;
        value["profile"]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| OpError::new("unexpected result", "POST /v1/profiles returned no id"))
    }

    pub async fn update(&mut self, id: &str, bio: &str) -> Result<(), OpError> {
        let path = format!("/v1/profiles/{id}");
        self.send(Method::PATCH, &path, &json!({ "bio": bio }), StatusCode::OK).await.map(drop)
    }

    async fn send(&mut self, method: Method, path: &str, body: &Value, expected: StatusCode) -> Result<Value, OpError> {
        let body = Bytes::from(body.to_string());
        let (status, text) = match tokio::time::timeout(self.timeout, self.http.send(method, path, Some(body))).await {
            Ok(answer) => answer.map_err(|e| OpError::new("transport", e))?,
            Err(_) => {
                // Its response may still arrive on this connection: start a new one.
                self.http.reset();
                return Err(OpError::new("timeout", format!("no answer within {:?}", self.timeout)));
            }
        };
        if status != expected {
            return Err(OpError::new(format!("http {}", status.as_u16()), String::from_utf8_lossy(&text)));
        }
        let value: Value =
            serde_json::from_slice(&text).map_err(|e| OpError::new("unexpected result", e.to_string()))?;
        expect_one_event(value["result"]["events_appended"].as_u64())?;
        Ok(value)
    }
}
