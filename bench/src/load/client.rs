//! One simulated client's connection, over either transport.

use std::fmt;
use std::time::Duration;

use crate::cli::Transport;

use super::grpc::GrpcConn;
use super::rest::RestConn;
use crate::peer::Peer;

/// A failed command: `kind` groups errors in the report (`grpc Unavailable`, `http 409`,
/// `timeout`), `detail` is the message.
#[derive(Debug, Clone)]
pub struct OpError {
    pub kind: String,
    pub detail: String,
}

impl OpError {
    pub fn new(kind: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { kind: kind.into(), detail: detail.into() }
    }
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}

/// A dedicated connection: one HTTP/2 channel (gRPC) or one keep-alive HTTP/1.1 connection
/// (REST), so clients do not queue behind each other in the load generator; or the in-process
/// peer baseline (cqrs-es + postgres-es), which shares one framework instance like an app would.
pub enum Conn {
    Grpc(GrpcConn),
    Rest(RestConn),
    Peer(Peer),
}

impl Conn {
    pub async fn connect(transport: Transport, base: &str, timeout: Duration) -> anyhow::Result<Self> {
        Ok(match transport {
            Transport::Grpc => Self::Grpc(GrpcConn::connect(base, timeout).await?),
            Transport::Rest => Self::Rest(RestConn::new(base, timeout)?),
        })
    }

    /// CreateProfile; returns the new profile's id.
    pub async fn create(&mut self, handle: &str) -> Result<String, OpError> {
        match self {
            Self::Grpc(c) => c.create(handle).await,
            Self::Rest(c) => c.create(handle).await,
            Self::Peer(p) => p.create(handle).await,
        }
    }

    /// UpdateProfile setting a new bio: exactly one event.
    pub async fn update(&mut self, id: &str, bio: &str) -> Result<(), OpError> {
        match self {
            Self::Grpc(c) => c.update(id, bio).await,
            Self::Rest(c) => c.update(id, bio).await,
            Self::Peer(p) => p.update(id, bio).await,
        }
    }
}

/// The service must report exactly one appended event per command; anything else means the
/// workload is not measuring what it claims to.
pub fn expect_one_event(events_appended: Option<u64>) -> Result<(), OpError> {
    match events_appended {
        Some(1) => Ok(()),
        other => Err(OpError::new("unexpected result", format!("events_appended = {other:?}, expected 1"))),
    }
}

pub fn email(handle: &str) -> String {
    format!("{handle}@bench.example")
}
