//! The query-service: Tally's stateless read side.
//!
//! It serves profiles and sites (gRPC `tally.v1.QueryService` and the REST
//! equivalents, on one port) from the read DB's views, which the projector
//! keeps up to date. A request may carry `min_position` to read its own
//! writes: the answer then waits, boundedly, for the projector to reach it.
//! It never writes, and any number of pods can run against a read replica.
//!
//! Layers: [`grpc`] and [`rest`] validate and convert at the edge (with
//! [`input`]); [`read`] runs the queries and the bounded wait; [`startup`]
//! wires it together.
#![forbid(unsafe_code)]

pub mod grpc;
pub mod input;
pub mod read;
pub mod rest;
pub mod settings;
pub mod startup;
pub mod stats;

pub use settings::Settings;
pub use startup::App;
