//! Kafka records as projector messages.

use tally_streaming::{
    Incoming,
    rdkafka::message::{BorrowedMessage, Headers, Message as _},
};

use crate::message::{Body, Message, Source};

/// Parses a record with the wire format's own parser; garbage keeps its raw
/// bytes and the parser's reason, for a dead letter.
pub fn to_message(record: &BorrowedMessage<'_>) -> Message {
    let source = Source { topic: record.topic().to_owned(), partition: record.partition(), offset: record.offset() };
    let headers = record
        .headers()
        .map(|h| {
            h.iter()
                .map(|header| {
                    let value = header.value.map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default();
                    (header.key.to_owned(), value)
                })
                .collect()
        })
        .unwrap_or_default();
    let body = match Incoming::parse(record) {
        Ok(incoming) => Body::Envelope(incoming.envelope),
        Err(e) => Body::Undecodable { raw: record.payload().unwrap_or_default().to_vec(), reason: e.to_string() },
    };
    Message { source, headers, body }
}
