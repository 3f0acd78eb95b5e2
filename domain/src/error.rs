//! Errors the domain reports to its callers.
//!
//! The variants are chosen so that the edge can map them mechanically onto
//! gRPC status codes and HTTP problem responses without inspecting messages.

use std::fmt;

/// One thing wrong with one input field.
///
/// `field` is a snake_case path into the request (`handle`,
/// `attributes["Bad Key"]`, `update_mask`) so the edge can copy it straight
/// into `google.rpc.BadRequest.FieldViolation` and JSON error bodies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldViolation {
    /// Path of the offending field, in snake_case.
    pub field: String,
    /// Human-readable explanation, phrased to follow the field name
    /// ("must be 3 to 30 characters").
    pub description: String,
}

impl FieldViolation {
    /// Builds a violation for `field`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self { field: field.into(), description: description.into() }
    }
}

impl fmt::Display for FieldViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.description)
    }
}

/// Everything wrong with one input, reported together.
///
/// Clients fix a form in one round trip only if they hear about every bad
/// field at once, so validators collect rather than stop at the first error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// All violations found, in the order the fields were checked.
    pub violations: Vec<FieldViolation>,
}

impl ValidationError {
    /// An error with exactly one violation.
    pub fn single(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self { violations: vec![FieldViolation::new(field, description)] }
    }

    /// The first violation reported for `field`, if any.
    pub fn violation(&self, field: &str) -> Option<&FieldViolation> {
        self.violations.iter().find(|v| v.field == field)
    }

    /// The offending field paths, in order.
    pub fn fields(&self) -> Vec<&str> {
        self.violations.iter().map(|v| v.field.as_str()).collect()
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid argument")?;
        for (i, violation) in self.violations.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{violation}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationError {}

/// Accumulates violations while an input is checked field by field.
///
/// The helpers return `Option` so a validator can keep going after a bad
/// field and build its result only once every field has been looked at.
#[derive(Debug, Default)]
pub struct Violations {
    violations: Vec<FieldViolation>,
}

impl Violations {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a violation.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.violations.push(FieldViolation::new(field, description));
    }

    /// Records the error of a value parser under `field`, passing a success
    /// through.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|description| self.add(field, description)).ok()
    }

    /// Like [`Violations::check`], but an empty or blank `raw` is reported
    /// as "is required" instead of whatever the parser would say about it.
    pub fn required<T>(&mut self, field: &str, raw: &str, parse: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        if raw.trim().is_empty() {
            self.add(field, "is required");
            return None;
        }
        self.check(field, parse(raw))
    }

    /// Takes over violations from a parser that names its own fields
    /// (such as [`crate::Attributes`], which names each bad entry).
    pub fn merge<T>(&mut self, result: Result<T, Vec<FieldViolation>>) -> Option<T> {
        result.map_err(|found| self.violations.extend(found)).ok()
    }

    /// Whether nothing has been reported so far.
    pub fn is_empty(&self) -> bool {
        self.violations.is_empty()
    }

    /// `Ok` when nothing was reported, otherwise all violations.
    pub fn finish(self) -> Result<(), ValidationError> {
        if self.violations.is_empty() { Ok(()) } else { Err(self.into_error()) }
    }

    /// The collected violations as an error, whether or not there are any.
    pub fn into_error(self) -> ValidationError {
        ValidationError { violations: self.violations }
    }
}

/// Why the domain refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The input broke validation rules: 400 / `INVALID_ARGUMENT`.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// No such aggregate was ever created: 404 / `NOT_FOUND`.
    #[error("{kind} {id} not found")]
    NotFound {
        /// Aggregate category, e.g. `"profile"`.
        kind: &'static str,
        /// The id that was asked for.
        id: String,
    },
    /// Creation collided with an existing aggregate or unique key:
    /// 409 / `ALREADY_EXISTS`.
    #[error("{kind} {id} already exists")]
    AlreadyExists {
        /// Aggregate category or claim scope, e.g. `"profile"`.
        kind: &'static str,
        /// The id or key that collided.
        id: String,
    },
    /// The aggregate existed but was deleted. Mapped to 404 / `NOT_FOUND`
    /// like [`DomainError::NotFound`]; kept separate so the message can tell
    /// the caller the id is not a typo.
    #[error("{kind} {id} was deleted")]
    Gone {
        /// Aggregate category, e.g. `"profile"`.
        kind: &'static str,
        /// The deleted aggregate's id.
        id: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_error_lists_every_violation() {
        let mut v = Violations::new();
        v.add("handle", "must be 3 to 30 characters");
        v.add("email", "is required");
        let err = v.finish().unwrap_err();
        assert_eq!(err.to_string(), "invalid argument: handle: must be 3 to 30 characters; email: is required");
        assert_eq!(err.fields(), ["handle", "email"]);
    }

    #[test]
    fn empty_collector_finishes_ok() {
        assert_eq!(Violations::new().finish(), Ok(()));
    }

    #[test]
    fn required_reports_blank_input_without_calling_the_parser() {
        let mut v = Violations::new();
        let parsed: Option<()> = v.required("name", "  ", |_| unreachable!());
        assert!(parsed.is_none());
        assert_eq!(v.into_error(), ValidationError::single("name", "is required"));
    }

    #[test]
    fn domain_error_messages() {
        let id = "0190".to_owned();
        let gone = DomainError::Gone { kind: "profile", id: id.clone() };
        assert_eq!(gone.to_string(), "profile 0190 was deleted");
        let missing = DomainError::NotFound { kind: "site", id };
        assert_eq!(missing.to_string(), "site 0190 not found");
        let invalid = DomainError::from(ValidationError::single("bio", "too long"));
        assert_eq!(invalid.to_string(), "invalid argument: bio: too long");
    }
}
