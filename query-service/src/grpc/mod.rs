//! The gRPC face of the query-service.

mod convert;
mod query;

pub use query::QueryGrpc;
