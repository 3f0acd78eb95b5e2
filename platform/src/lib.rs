//! Runtime plumbing shared by every Tally binary.
//!
//! Each service (command-service, query-service, projector) is a thin
//! composition of these pieces, so that configuration, telemetry, database
//! pools, shutdown and error mapping behave identically everywhere:
//!
//! - [`settings`]: typed settings from an optional file plus `TALLY_*` env.
//! - [`telemetry`]: `tracing` + OpenTelemetry export switched on by `OTEL_*`.
//! - [`propagation`]: W3C trace context in and out of HTTP/gRPC headers.
//! - [`metrics`]: the Prometheus recorder and the `/metrics` handler.
//! - [`db`]: pooled, persistent Postgres connections.
//! - [`shutdown`]: one signal that reaches every server and consumer.
//! - [`error`]: one error taxonomy mapped to gRPC codes and HTTP statuses.
//! - [`causes`]: an error with its sources, for logs.
//! - [`grpc`]: server reflection (v1 and v1alpha).
#![forbid(unsafe_code)]

pub mod causes;
pub mod db;
pub mod error;
pub mod grpc;
pub mod http;
pub mod metrics;
pub mod propagation;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
