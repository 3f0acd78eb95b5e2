//! `chrono::DateTime<Utc>` ⇄ `google.protobuf.Timestamp`.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;

/// A `google.protobuf.Timestamp` that is no instant chrono can represent
/// (nanos outside `0..1e9` after normalisation, or seconds out of range).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp: {seconds}s {nanos}ns is out of range")]
pub struct InvalidTimestamp {
    /// The timestamp's `seconds`.
    pub seconds: i64,
    /// The timestamp's `nanos`.
    pub nanos: i32,
}

/// Largest valid `Timestamp.nanos`.
const MAX_NANOS: i32 = 999_999_999;

/// Converts an instant to a `google.protobuf.Timestamp`, exactly to the
/// nanosecond. Chrono's leap-second representation (nanos ≥ 1e9) has no
/// protobuf equivalent and is clamped to the last nanosecond of the second.
#[must_use]
pub fn to_timestamp(time: DateTime<Utc>) -> Timestamp {
    let nanos = i32::try_from(time.timestamp_subsec_nanos()).map_or(MAX_NANOS, |n| n.min(MAX_NANOS));
    Timestamp { seconds: time.timestamp(), nanos }
}

/// Converts a `google.protobuf.Timestamp` to an instant. A timestamp whose
/// `nanos` are negative or exceed a second is normalised first, as the
/// protobuf specification allows.
///
/// # Errors
///
/// [`InvalidTimestamp`] when the timestamp is outside chrono's range.
pub fn from_timestamp(timestamp: &Timestamp) -> Result<DateTime<Utc>, InvalidTimestamp> {
    let invalid = || InvalidTimestamp { seconds: timestamp.seconds, nanos: timestamp.nanos };
    let normalised = timestamp.normalized();
    let nanos = u32::try_from(normalised.nanos).map_err(|_| invalid())?;
    DateTime::from_timestamp(normalised.seconds, nanos).ok_or_else(invalid)
}
