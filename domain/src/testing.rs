//! A given/when/then fixture for aggregate tests.
//!
//! ```text
//! given::<Profile>([created]).when(command).then_expect(vec![updated]);
//! ```
//!
//! Available to this crate's tests and, with the `testing` feature, to
//! other crates' tests. It panics with both sides printed on mismatch, so a
//! failing rule reads like its specification.

use crate::aggregate::{Aggregate, UniqueClaim, claims_for};
use crate::error::DomainError;

/// Starts a scenario from the state the `events` build up.
pub fn given<A: Aggregate>(events: impl IntoIterator<Item = A::Event>) -> Given<A> {
    let mut state = A::default();
    for event in events {
        state.evolve(&event);
    }
    Given { state }
}

/// Starts a scenario with an empty stream.
pub fn given_no_previous_events<A: Aggregate>() -> Given<A> {
    Given { state: A::default() }
}

/// A scenario's starting state.
#[derive(Debug)]
pub struct Given<A: Aggregate> {
    state: A,
}

impl<A: Aggregate> Given<A> {
    /// Decides `command` against the starting state.
    pub fn when(self, command: impl Into<A::Command>) -> Then<A> {
        let result = self.state.decide(&command.into());
        Then { state: self.state, result }
    }

    /// The starting state, for asserting on replay itself.
    pub fn state(&self) -> &A {
        &self.state
    }
}

/// A scenario's outcome, to be checked.
#[derive(Debug)]
pub struct Then<A: Aggregate> {
    state: A,
    result: Result<Vec<A::Event>, DomainError>,
}

impl<A: Aggregate> Then<A> {
    /// Asserts the command succeeded with exactly `expected`.
    #[track_caller]
    pub fn then_expect(self, expected: Vec<A::Event>) -> Self {
        match &self.result {
            Ok(events) => assert_eq!(events, &expected, "unexpected events"),
            Err(err) => panic!("expected events {expected:#?}, got error: {err:?}"),
        }
        self
    }

    /// Asserts the command succeeded without recording anything.
    #[track_caller]
    pub fn then_expect_no_events(self) -> Self {
        self.then_expect(Vec::new())
    }

    /// Asserts the command failed with an error `matcher` accepts.
    #[track_caller]
    pub fn then_expect_error(self, matcher: impl FnOnce(&DomainError) -> bool) -> Self {
        match &self.result {
            Ok(events) => panic!("expected an error, got events {events:#?}"),
            Err(err) => assert!(matcher(err), "error did not match: {err:?}"),
        }
        self
    }

    /// Asserts the command failed with exactly `expected`.
    #[track_caller]
    pub fn then_expect_error_eq(self, expected: DomainError) -> Self {
        match &self.result {
            Ok(events) => panic!("expected error {expected:?}, got events {events:#?}"),
            Err(err) => assert_eq!(err, &expected),
        }
        self
    }

    /// Asserts the claims the produced events make against the starting
    /// state.
    #[track_caller]
    pub fn then_expect_claims(self, expected: Vec<UniqueClaim>) -> Self {
        let events = self.events_or_panic();
        assert_eq!(claims_for(&self.state, events), expected, "unexpected claims");
        self
    }

    /// Applies the produced events and hands the resulting state to `check`.
    #[track_caller]
    pub fn then_expect_state(self, check: impl FnOnce(&A)) -> Self {
        let mut state = self.state.clone();
        for event in self.events_or_panic() {
            state.evolve(event);
        }
        check(&state);
        self
    }

    /// The raw outcome.
    pub fn into_result(self) -> Result<Vec<A::Event>, DomainError> {
        self.result
    }

    #[track_caller]
    fn events_or_panic(&self) -> &[A::Event] {
        match &self.result {
            Ok(events) => events,
            Err(err) => panic!("expected events, got error: {err:?}"),
        }
    }
}
