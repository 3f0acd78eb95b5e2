//! A lean keep-alive HTTP/1.1 client for load: one hyper connection per request in flight
//! and nothing else. `reqwest` adds a pool, URL parsing and redirect handling per
//! request, which on this 2-core machine is CPU taken from the service being measured;
//! pgbench, the baseline, is a lean C client too.

use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Method, Request, StatusCode, Uri, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One connection to `authority`, reopened after any failure or [`Http1::reset`] (a request
/// abandoned mid-response leaves an HTTP/1.1 connection unusable).
pub struct Http1 {
    authority: String,
    connect_timeout: Duration,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Http1 {
    /// `base` is the service's `http://host:port`.
    pub fn new(base: &str, connect_timeout: Duration) -> anyhow::Result<Self> {
        let uri: Uri = base.parse().with_context(|| format!("not a URL: {base}"))?;
        let authority = uri.authority().with_context(|| format!("no host:port in {base}"))?.to_string();
        Ok(Self { authority, connect_timeout, sender: None })
    }

    /// `GET path`; the status and the whole body.
    pub async fn get(&mut self, path: &str) -> Result<(StatusCode, Bytes), String> {
        self.send(Method::GET, path, None).await
    }

    /// `method path`, with `json` as an `application/json` body if given; the status and the
    /// whole response body.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        json: Option<Bytes>,
    ) -> Result<(StatusCode, Bytes), String> {
        let result = self.try_send(method, path, json).await;
        if result.is_err() {
            self.sender = None;
        }
        result
    }

    /// Drops the connection; the next request opens a new one. For a caller that gave up on a
    /// request (its timeout), whose response may still be on the way.
    pub fn reset(&mut self) {
        self.sender = None;
    }

    async fn try_send(
        &mut self,
        method: Method,
        path: &str,
        json: Option<Bytes>,
    ) -> Result<(StatusCode, Bytes), String> {
        let sender = match &mut self.sender {
            Some(sender) => sender,
            None => self.sender.insert(self.connect().await?),
        };
        sender.ready().await.map_err(|e| e.to_string())?;
        let mut request = Request::builder().method(method).uri(path).header(header::HOST, &self.authority);
        if json.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request.body(Full::new(json.unwrap_or_default())).map_err(|e| e.to_string())?;
        let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((status, body))
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let stream = tokio::time::timeout(self.connect_timeout, TcpStream::connect(&self.authority))
            .await
            .map_err(|_| format!("connect to {} timed out", self.authority))?
            .map_err(|e| format!("connect to {}: {e}", self.authority))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
        // The connection task ends with the connection; its error is the next request's.
        tokio::spawn(connection);
        Ok(sender)
    }
}
