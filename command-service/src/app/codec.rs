//! How aggregates' events become stored bytes and back.
//!
//! The payload of every stored event is the protobuf message defined in
//! `proto/`, so Kafka consumers, event-store readers and this service decode
//! the same bytes with the same contract.

use tally_domain::Aggregate;
use tally_proto::convert::DecodeError;

/// An aggregate whose events can be stored.
pub trait StoredAggregate: Aggregate {
    /// Full protobuf type name and encoded payload of `event`.
    fn encode(event: &Self::Event) -> (&'static str, Vec<u8>);
    /// The event stored under `event_type`/`schema_version`.
    fn decode(event_type: &str, schema_version: u32, payload: &[u8]) -> Result<Self::Event, DecodeError>;
}

impl StoredAggregate for tally_domain::Profile {
    fn encode(event: &Self::Event) -> (&'static str, Vec<u8>) {
        tally_proto::convert::encode_profile_event(event)
    }
    fn decode(event_type: &str, schema_version: u32, payload: &[u8]) -> Result<Self::Event, DecodeError> {
        tally_proto::convert::decode_profile_event(event_type, schema_version, payload)
    }
}

impl StoredAggregate for tally_domain::Site {
    fn encode(event: &Self::Event) -> (&'static str, Vec<u8>) {
        tally_proto::convert::encode_site_event(event)
    }
    fn decode(event_type: &str, schema_version: u32, payload: &[u8]) -> Result<Self::Event, DecodeError> {
        tally_proto::convert::decode_site_event(event_type, schema_version, payload)
    }
}
