//! The gRPC face of the command-service.

mod command;
mod context;
mod envelope;
mod event_store;
pub mod replay;

pub use command::CommandGrpc;
pub use envelope::to_envelope;
pub use event_store::EventStoreGrpc;
