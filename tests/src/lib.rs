//! Shared harness for Tally's end-to-end tests: real binaries against real infrastructure.
//!
//! [`devstack`] provides the infrastructure (Postgres clusters, supervised processes); [`app`]
//! knows how to start Tally's own services on top of it; [`otlp`] receives the traces they export.
//! [`analytics`] and [`golden`] serve the analytics tests: ingest and stats API helpers, and the
//! hand-computed event log with every answer it must give.
#![forbid(unsafe_code)]

pub mod analytics;
pub mod app;
pub mod golden;
pub mod otlp;

pub use tally_devstack as devstack;
