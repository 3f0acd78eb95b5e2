//! The contract every event-sourced aggregate fulfils.
//!
//! Infrastructure crates (event store, command service) are generic over
//! [`Aggregate`], so the bounds here are what they may rely on.

use std::fmt::{Debug, Display};

use serde::{Serialize, de::DeserializeOwned};

use crate::error::DomainError;

/// A consistency boundary whose state is the fold of its events.
pub trait Aggregate: Default + Clone + Debug + Send + Sync + 'static {
    /// What callers ask the aggregate to do, already validated.
    type Command: Debug + Send + Sync + 'static;
    /// What happened. Serde is required because events are stored as JSON;
    /// equality so tests and idempotency checks can compare them.
    type Event: DomainEvent + Clone + Debug + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static;

    /// Category name, also the stream id prefix: `"{CATEGORY}-{uuid}"`.
    const CATEGORY: &'static str;

    /// Turns a command into the events it causes. Never mutates; an empty
    /// vector means the command was accepted but changes nothing.
    fn decide(&self, command: &Self::Command) -> Result<Vec<Self::Event>, DomainError>;

    /// Applies one event. Never fails and never validates: events are facts
    /// that were checked when they were decided, and replay must not reject
    /// history.
    fn evolve(&mut self, event: &Self::Event);

    /// Unique keys `event` acquires or releases, judged against the state
    /// *before* the event (a rename needs the old handle to release it).
    fn claims(&self, event: &Self::Event) -> Vec<UniqueClaim>;
}

/// Metadata the event store records next to each event's payload.
pub trait DomainEvent {
    /// Stable, past-tense type name, e.g. `"ProfileCreated"`.
    fn event_type(&self) -> &'static str;

    /// Payload schema version; bumped when the stored shape changes so old
    /// payloads can be upcast.
    fn schema_version(&self) -> u32 {
        1
    }
}

/// Whether an event takes a unique key or gives it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClaimAction {
    /// The key becomes owned by the event's stream.
    Acquire,
    /// The key becomes free for others.
    Release,
}

/// A uniqueness key that must be enforced across streams.
///
/// Uniqueness cannot be decided inside one aggregate, so the aggregate only
/// declares its claims and the event store enforces them in the same
/// transaction that appends the events.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UniqueClaim {
    /// Namespace of the key, e.g. `"profile.handle"`.
    pub scope: &'static str,
    /// The normalised value, so `Alice` and `alice` collide.
    pub key: String,
    /// Acquire or release.
    pub action: ClaimAction,
}

impl UniqueClaim {
    /// A claim taking `key` in `scope`.
    pub fn acquire(scope: &'static str, key: impl Into<String>) -> Self {
        Self { scope, key: key.into(), action: ClaimAction::Acquire }
    }

    /// A claim giving `key` in `scope` back.
    pub fn release(scope: &'static str, key: impl Into<String>) -> Self {
        Self { scope, key: key.into(), action: ClaimAction::Release }
    }
}

/// Rebuilds an aggregate from its history.
pub fn replay<'a, A: Aggregate>(events: impl IntoIterator<Item = &'a A::Event>) -> A {
    let mut state = A::default();
    for event in events {
        state.evolve(event);
    }
    state
}

/// All claims of `events` appended in order to `state`, each judged against
/// the state just before it (a later event may release what an earlier one
/// acquired).
pub fn claims_for<A: Aggregate>(state: &A, events: &[A::Event]) -> Vec<UniqueClaim> {
    let mut state = state.clone();
    let mut claims = Vec::new();
    for event in events {
        claims.extend(state.claims(event));
        state.evolve(event);
    }
    claims
}

/// The stream id of aggregate `id` in category `A`: `"{CATEGORY}-{id}"`.
pub fn stream_id<A: Aggregate>(id: impl Display) -> String {
    format!("{}-{id}", A::CATEGORY)
}
