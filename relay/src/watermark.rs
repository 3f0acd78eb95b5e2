//! Watermarks: "every event up to position H of this partition was published before me".
//!
//! A consumer of many partitions can only say "everything up to P is applied" if each
//! partition tells it how far it is complete, including partitions no recent event went
//! to. So after publishing, the relay sends a watermark to every partition of every topic:
//! after a page at most every `interval` while busy, and once when it goes idle.

use std::time::{Duration, Instant};

use tally_streaming::rdkafka::producer::{FutureProducer, FutureRecord};
use tally_streaming::{encode, headers::RecordHeaders, watermark};

use crate::{RelayError, metrics};

/// When watermarks are due and where they go.
#[derive(Debug)]
pub struct Watermarks {
    /// Every `(topic, partition)`.
    targets: Vec<(&'static str, i32)>,
    interval: Duration,
    /// The highest position already vouched for.
    sent: u64,
    last_sent: Option<Instant>,
}

impl Watermarks {
    /// `partitions`: each topic with its partition count.
    pub fn new(partitions: &[(&'static str, i32)], interval: Duration) -> Self {
        let targets = partitions.iter().flat_map(|(topic, n)| (0..*n).map(move |p| (*topic, p))).collect();
        Self { targets, interval, sent: 0, last_sent: None }
    }

    pub fn targets(&self) -> &[(&'static str, i32)] {
        &self.targets
    }

    /// After a published page: due when something new was published and the last
    /// watermark is at least `interval` old.
    pub fn due_while_busy(&self, published: u64, now: Instant) -> bool {
        published > self.sent && self.last_sent.is_none_or(|at| now.duration_since(at) >= self.interval)
    }

    /// On going idle: due when anything published is not vouched for yet.
    pub fn due_when_idle(&self, published: u64) -> bool {
        published > self.sent
    }

    /// Sends a watermark at `position` to every partition and waits for the brokers'
    /// acknowledgements. Call only after every event up to `position` was acknowledged:
    /// the idempotent producer then keeps the watermark behind them in each partition.
    #[tracing::instrument(skip_all, fields(position, partitions = self.targets.len()))]
    pub async fn send(&mut self, producer: &FutureProducer, position: u64) -> Result<(), RelayError> {
        let value = encode(&watermark(position));
        let headers = RecordHeaders::for_watermark(position).to_kafka();
        let mut deliveries = Vec::with_capacity(self.targets.len());
        for (topic, partition) in &self.targets {
            let record =
                FutureRecord::<(), _>::to(topic).partition(*partition).payload(&value).headers(headers.clone());
            let delivery = producer.send_result(record).map_err(|(e, _)| RelayError::Kafka(e))?;
            deliveries.push((*topic, delivery));
        }
        for (topic, delivery) in deliveries {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((error, _))) => return Err(RelayError::Delivery { position, topic, error }),
                Err(_) => {
                    let error = tally_streaming::rdkafka::error::KafkaError::Canceled;
                    return Err(RelayError::Delivery { position, topic, error });
                }
            }
        }
        self.sent = position;
        self.last_sent = Some(Instant::now());
        metrics::watermarks(self.targets.len() as u64);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_partition_of_every_topic_is_a_target() {
        let w = Watermarks::new(&[("a", 2), ("b", 3)], Duration::from_millis(100));
        assert_eq!(w.targets(), [("a", 0), ("a", 1), ("b", 0), ("b", 1), ("b", 2)]);
    }

    #[test]
    fn busy_watermarks_are_rate_limited_idle_ones_are_not() {
        let mut w = Watermarks::new(&[("a", 1)], Duration::from_millis(100));
        let t0 = Instant::now();
        assert!(!w.due_while_busy(0, t0) && !w.due_when_idle(0), "nothing published yet");
        assert!(w.due_while_busy(5, t0), "the first one goes out at once");
        w.sent = 5;
        w.last_sent = Some(t0);
        assert!(!w.due_while_busy(9, t0 + Duration::from_millis(50)), "too soon while busy");
        assert!(w.due_when_idle(9), "idle: vouch for the tail now");
        assert!(w.due_while_busy(9, t0 + Duration::from_millis(100)));
        assert!(!w.due_when_idle(5) && !w.due_while_busy(5, t0 + Duration::from_secs(1)), "nothing new");
    }
}
