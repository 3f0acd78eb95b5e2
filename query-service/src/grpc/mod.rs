//! The gRPC face of the query-service.

mod convert;
mod query;
pub mod stats;

pub use query::QueryGrpc;
