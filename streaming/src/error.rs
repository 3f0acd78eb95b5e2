//! Errors of this crate: reading a record, and administering topics.

use crate::headers::HeaderError;

/// A consumed record that is not a Tally record; `Display` names where it was read.
#[derive(Debug, thiserror::Error)]
#[error("record {topic}/{partition}@{offset}: {failure}")]
pub struct DecodeError {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub failure: DecodeFailure,
}

/// What is wrong with the record.
#[derive(Debug, thiserror::Error)]
pub enum DecodeFailure {
    #[error("has no value (expected a tally.v1.EventEnvelope)")]
    NoValue,
    #[error("value is not a tally.v1.EventEnvelope: {0}")]
    Envelope(#[from] prost::DecodeError),
    #[error("envelope field {field} {reason}")]
    Field { field: &'static str, reason: &'static str },
    #[error(transparent)]
    Header(#[from] HeaderError),
    #[error("header tally-global-position={header} disagrees with the envelope's global_position={envelope}")]
    PositionMismatch { header: u64, envelope: u64 },
}

/// Creating topics or reading their metadata failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("cannot create topic {topic}: {reason}")]
    CreateTopic { topic: String, reason: String },
    #[error("topic {topic} does not exist on the brokers (or has no partitions)")]
    MissingTopic { topic: String },
}
