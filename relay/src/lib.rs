//! The outbox relay: the event store's global order, published to Kafka.
//!
//! Every command-service pod runs a [`Relay`]; exactly one of them is active. Each waits
//! for a session-level advisory lock on a dedicated write-DB connection ([`leader`]), so
//! when the leader's session dies Postgres hands the lock to a waiting pod at once. The
//! leader tails the store (gap-free, woken by `NOTIFY`), produces each event with an
//! idempotent producer ([`publish`]), and only after the brokers acknowledged a whole page
//! moves its [`checkpoint`] — on the session that holds the lock, so a deposed leader
//! cannot. After any failure it resumes from the checkpoint: at-least-once on the wire,
//! never a gap. Watermarks ([`watermark`]) tell consumers how far each partition is
//! complete.
//!
//! Commands never wait for any of this: the relay is its own task.
#![forbid(unsafe_code)]

pub mod checkpoint;
mod config;
mod error;
pub mod leader;
mod metrics;
pub mod publish;
mod relay;
pub mod watermark;

pub use config::RelayConfig;
pub use error::RelayError;
pub use relay::Relay;
