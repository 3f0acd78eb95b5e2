//! The command-service: Tally's write side.
//!
//! It validates commands (gRPC `tally.v1.CommandService` and the REST
//! equivalents, on one port), decides them against aggregates from `domain/`,
//! and appends the resulting events to the event store on the write DB. It
//! never reads a read model and never waits on Kafka.
//!
//! Layers: [`grpc`] and [`rest`] convert requests at the edge; [`app`] runs
//! commands; `tally-event-store` persists; [`startup`] wires it together.
#![forbid(unsafe_code)]

pub mod app;
pub mod grpc;
pub mod rest;
pub mod settings;
pub mod startup;

pub use settings::Settings;
pub use startup::App;
