//! The gRPC face of the command-service.

mod command;
mod context;

pub use command::CommandGrpc;
