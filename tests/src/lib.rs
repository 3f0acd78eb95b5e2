//! Shared harness for Tally's end-to-end tests: real binaries against real infrastructure.
//!
//! [`devstack`] provides the infrastructure (Postgres clusters, supervised processes); [`app`]
//! knows how to start Tally's own services on top of it.
#![forbid(unsafe_code)]

pub mod app;

pub use tally_devstack as devstack;
