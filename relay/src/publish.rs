//! Producing one page of events and waiting until the brokers acknowledged all of it.

use std::collections::VecDeque;
use std::time::Duration;

use tally_event_store::RecordedEvent;
use tally_platform::propagation::{self, TraceContext};
use tally_streaming::rdkafka::error::{KafkaError, RDKafkaErrorCode};
use tally_streaming::rdkafka::message::OwnedHeaders;
use tally_streaming::rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use tally_streaming::{encode, headers::RecordHeaders, into_envelope, key_for, topic_for};

use crate::{RelayError, metrics};

/// Pause when librdkafka's local queue is full and nothing of ours is pending to wait on.
const QUEUE_FULL_PAUSE: Duration = Duration::from_millis(10);

/// One event, ready to produce.
struct Record {
    position: u64,
    topic: &'static str,
    key: String,
    value: Vec<u8>,
    headers: OwnedHeaders,
    /// The produce span: a child of the trace stored with the event, so one trace shows
    /// the request, this hop and the consumer.
    span: tracing::Span,
}

impl Record {
    fn new(event: RecordedEvent) -> Result<Self, RelayError> {
        let position = event.global_position;
        let topic = topic_for(&event.category)
            .ok_or_else(|| RelayError::UnknownCategory { position, category: event.category.clone() })?;
        let span = tracing::info_span!(
            "relay.produce",
            otel.kind = "producer",
            messaging.system = "kafka",
            messaging.destination.name = topic,
            tally.global_position = position,
            tally.event_type = %event.event_type,
            messaging.kafka.partition = tracing::field::Empty,
            messaging.kafka.offset = tracing::field::Empty,
        );
        let stored = TraceContext {
            traceparent: event.metadata.traceparent.clone(),
            tracestate: event.metadata.tracestate.clone(),
        };
        propagation::set_parent(&span, &stored);
        // With tracing exported, consumers continue from the produce span; without, the
        // stored context is passed on unchanged.
        let produce = span.in_scope(propagation::current);
        let headers = RecordHeaders::for_event(&event).with_trace(&produce.traceparent, &produce.tracestate).to_kafka();
        let key = key_for(&event);
        let value = encode(&into_envelope(event));
        Ok(Record { position, topic, key, value, headers, span })
    }

    fn future_record(&self) -> FutureRecord<'_, String, Vec<u8>> {
        FutureRecord::to(self.topic).key(&self.key).payload(&self.value).headers(self.headers.clone())
    }
}

/// Produces `events` in order and returns once every one is acknowledged (`acks=all`),
/// or with the first failure. Nothing is acknowledged partially: on error the caller
/// resumes from its checkpoint, re-publishing the page.
#[tracing::instrument(skip_all, fields(events = events.len(), first = tracing::field::Empty, last = tracing::field::Empty))]
pub async fn publish_page(producer: &FutureProducer, events: Vec<RecordedEvent>) -> Result<(), RelayError> {
    let current = tracing::Span::current();
    if let (Some(first), Some(last)) = (events.first(), events.last()) {
        current.record("first", first.global_position);
        current.record("last", last.global_position);
    }
    let records = events.into_iter().map(Record::new).collect::<Result<Vec<_>, _>>()?;
    let mut pending: VecDeque<(&Record, DeliveryFuture)> = VecDeque::with_capacity(records.len());
    for record in &records {
        let mut attempt = record.future_record();
        loop {
            let sent = {
                // The produce span is current while librdkafka takes the record (no await
                // while entered).
                let _entered = record.span.enter();
                producer.send_result(attempt)
            };
            match sent {
                Ok(delivery) => {
                    pending.push_back((record, delivery));
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    // The same record is retried before any later one, so order holds.
                    attempt = returned;
                    match pending.pop_front() {
                        Some((done, delivery)) => acknowledged(done, delivery).await?,
                        None => tokio::time::sleep(QUEUE_FULL_PAUSE).await,
                    }
                }
                Err((error, _)) => return Err(RelayError::Kafka(error)),
            }
        }
    }
    for (record, delivery) in pending {
        acknowledged(record, delivery).await?;
    }
    for topic in tally_streaming::TOPICS {
        let count = records.iter().filter(|r| r.topic == topic).count() as u64;
        if count > 0 {
            metrics::published(topic, count);
        }
    }
    Ok(())
}

async fn acknowledged(record: &Record, delivery: DeliveryFuture) -> Result<(), RelayError> {
    let failed = |error| RelayError::Delivery { position: record.position, topic: record.topic, error };
    match delivery.await {
        Ok(Ok(delivered)) => {
            record.span.record("messaging.kafka.partition", delivered.partition);
            record.span.record("messaging.kafka.offset", delivered.offset);
            Ok(())
        }
        Ok(Err((error, _))) => Err(failed(error)),
        // The producer was dropped with the message still queued.
        Err(_) => Err(failed(KafkaError::Canceled)),
    }
}
