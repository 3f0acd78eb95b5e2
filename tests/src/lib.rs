//! Shared harness for Tally's end-to-end tests: real binaries against real infrastructure.
//!
//! [`devstack`] provides the infrastructure (Postgres clusters, supervised processes); [`app`]
//! knows how to start Tally's own services on top of it; [`otlp`] receives the traces they export.
#![forbid(unsafe_code)]

pub mod app;
pub mod otlp;

pub use tally_devstack as devstack;
