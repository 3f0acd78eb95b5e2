//! The gRPC face of the command-service.

mod command;
mod context;
mod event_store;
pub mod ingest;
pub mod replay;

pub use command::CommandGrpc;
pub use event_store::EventStoreGrpc;
