//! What a relay needs to know besides its connections.

use std::time::Duration;

use tally_streaming::config::ProducerOptions;

use crate::RelayError;

#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Names the checkpoint row and the leadership lock, so two relays feeding different
    /// clusters from one store would not block each other.
    pub name: String,
    /// `bootstrap.servers`.
    pub brokers: String,
    /// Partitions of each topic the relay creates when it is missing (existing topics are
    /// left alone).
    pub topic_partitions: i32,
    /// Events read, published and checkpointed together.
    pub page_size: i64,
    /// Watermarks go out at most this often while busy (and once when idle).
    pub watermark_interval: Duration,
    /// Bound for creating topics and reading their metadata.
    pub admin_timeout: Duration,
    /// First and longest pause before resuming after a failure (doubling in between).
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// How long a page in flight may still finish after shutdown was requested.
    pub shutdown_grace: Duration,
    pub producer: ProducerOptions,
}

impl RelayConfig {
    pub fn new(brokers: impl Into<String>, topic_partitions: i32) -> Self {
        Self {
            name: "kafka".to_owned(),
            brokers: brokers.into(),
            topic_partitions,
            page_size: 1000,
            watermark_interval: Duration::from_millis(100),
            admin_timeout: Duration::from_secs(10),
            backoff_min: Duration::from_millis(200),
            backoff_max: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
            producer: ProducerOptions::default(),
        }
    }

    /// Rejects settings the relay could not run with, naming the setting.
    pub fn validate(&self) -> Result<(), RelayError> {
        let bad = |field: &'static str, reason: &str| Err(RelayError::Config { field, reason: reason.to_owned() });
        if self.brokers.trim().is_empty() {
            return bad("kafka.brokers", "is empty");
        }
        if self.topic_partitions < 1 {
            return bad("kafka.topic_partitions", "must be at least 1");
        }
        if self.page_size < 1 {
            return bad("relay.page_size", "must be at least 1");
        }
        if self.name.is_empty() {
            return bad("relay.name", "is empty");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_name_the_field() {
        assert!(RelayConfig::new("127.0.0.1:9092", 6).validate().is_ok());
        let err = RelayConfig::new(" ", 6).validate().unwrap_err().to_string();
        assert_eq!(err, "kafka.brokers is empty");
        let err = RelayConfig::new("b:1", 0).validate().unwrap_err().to_string();
        assert_eq!(err, "kafka.topic_partitions must be at least 1");
    }
}
