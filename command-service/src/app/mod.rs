//! The application layer: runs commands against aggregates.
//!
//! Transports (gRPC, REST) convert their requests into domain commands and
//! call [`Commands`]; nothing here knows about HTTP or protobuf requests.

pub mod analytics;
mod cache;
mod codec;
pub mod context;
mod error;
mod executor;
mod profiles;
mod read_keys;
mod sites;

pub use cache::{Loaded, StreamCache};
pub use codec::StoredAggregate;
pub use context::CommandContext;
pub use error::AppError;
pub use executor::{Executed, Executor, Stream, fingerprint};
pub use profiles::ProfileCommands;
pub use read_keys::IssuedKey;
pub use sites::SiteCommands;

/// Every command the service accepts, grouped by aggregate.
#[derive(Clone)]
pub struct Commands {
    pub profiles: ProfileCommands,
    pub sites: SiteCommands,
}

impl Commands {
    pub fn new(executor: Executor) -> Self {
        Self { profiles: ProfileCommands::new(executor.clone()), sites: SiteCommands::new(executor) }
    }
}
