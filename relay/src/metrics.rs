//! The relay's metrics, named in one place.

use std::time::Duration;

pub fn published(topic: &'static str, events: u64) {
    metrics::counter!("relay_published_events_total", "topic" => topic).increment(events);
}

pub fn checkpoint(position: u64, head: u64) {
    metrics::gauge!("relay_checkpoint_position").set(position as f64);
    metrics::gauge!("relay_lag_events").set(head.saturating_sub(position) as f64);
}

pub fn leader(is_leader: bool) {
    metrics::gauge!("relay_leader").set(if is_leader { 1.0 } else { 0.0 });
}

pub fn batch(duration: Duration) {
    metrics::histogram!("relay_batch_duration_seconds").record(duration.as_secs_f64());
}

pub fn watermarks(records: u64) {
    metrics::counter!("relay_watermarks_total").increment(records);
}

pub fn error(kind: &'static str) {
    metrics::counter!("relay_errors_total", "kind" => kind).increment(1);
}
