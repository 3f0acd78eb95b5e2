//! Why a relay term ended. Every variant is retried from the checkpoint after a back-off;
//! the names say where to look.

use tally_streaming::AdminError;
use tally_streaming::rdkafka::error::KafkaError;

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("{field} {reason}")]
    Config { field: &'static str, reason: String },
    #[error("write DB: {0}")]
    Database(#[from] tokio_postgres::Error),
    #[error("event store: {0}")]
    Store(#[from] tally_event_store::StoreError),
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("kafka topics: {0}")]
    Admin(#[from] AdminError),
    #[error("delivery of position {position} to {topic} failed: {error}")]
    Delivery { position: u64, topic: &'static str, error: KafkaError },
    #[error("event at position {position} has category {category:?}, which no topic carries")]
    UnknownCategory { position: u64, category: String },
    #[error("the leadership session ended: {0}")]
    LostLeadership(String),
    #[error("checkpoint {name:?} is missing")]
    CheckpointMissing { name: String },
    #[error("a background task failed: {0}")]
    Task(String),
}

impl RelayError {
    /// A short, bounded label for the errors metric.
    pub fn kind(&self) -> &'static str {
        match self {
            RelayError::Config { .. } => "config",
            RelayError::Database(_) | RelayError::Store(_) | RelayError::CheckpointMissing { .. } => "database",
            RelayError::Kafka(_) | RelayError::Admin(_) => "kafka",
            RelayError::Delivery { .. } => "delivery",
            RelayError::UnknownCategory { .. } => "unknown_category",
            RelayError::LostLeadership(_) => "lost_leadership",
            RelayError::Task(_) => "task",
        }
    }
}
