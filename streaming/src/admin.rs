//! Creating Tally's topics and counting their partitions.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{Client, ClientContext, DefaultClientContext};
use rdkafka::types::RDKafkaErrorCode;

use crate::config::admin_config;
use crate::error::AdminError;

/// Creates each `(topic, partitions)` that does not exist yet; existing topics are left
/// as they are (their partition count is never changed: that would move keys).
pub async fn ensure_topics(brokers: &str, topics: &[(&str, i32)], timeout: Duration) -> Result<(), AdminError> {
    let admin: AdminClient<DefaultClientContext> = admin_config(brokers).create()?;
    let new: Vec<NewTopic<'_>> =
        topics.iter().map(|(name, partitions)| NewTopic::new(name, *partitions, TopicReplication::Fixed(1))).collect();
    let options = AdminOptions::new().operation_timeout(Some(timeout)).request_timeout(Some(timeout));
    for result in admin.create_topics(&new, &options).await? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(AdminError::CreateTopic { topic, reason: code.to_string() }),
        }
    }
    Ok(())
}

/// The number of partitions of `topic`. Blocks the calling thread for up to `timeout`:
/// call it from `spawn_blocking`.
pub fn partition_count<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    timeout: Duration,
) -> Result<i32, AdminError> {
    let metadata = client.fetch_metadata(Some(topic), timeout)?;
    let missing = || AdminError::MissingTopic { topic: topic.to_owned() };
    let found = metadata.topics().iter().find(|t| t.name() == topic).ok_or_else(missing)?;
    if found.error().is_some() || found.partitions().is_empty() {
        return Err(missing());
    }
    Ok(found.partitions().len() as i32)
}
