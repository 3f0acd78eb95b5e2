//! An error with its causes, for logs.
//!
//! The Postgres driver's errors print only their kind ("db error", "error connecting to
//! server") and keep what happened — the SQLSTATE and message, the refused connection — in
//! their `source()`. Logging `%e` therefore hid every database failure's reason. Log
//! `%Causes(&e)` instead.

use std::{error::Error, fmt};

/// Displays an error and each of its sources, `outer: inner: innermost`. A source whose text
/// the previous message already ends with (an error type that prints its source itself) is
/// not repeated.
pub struct Causes<'a>(pub &'a dyn Error);

impl fmt::Display for Causes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.to_string();
        f.write_str(&shown)?;
        let mut next = self.0.source();
        while let Some(cause) = next {
            let text = cause.to_string();
            if !shown.ends_with(&text) {
                write!(f, ": {text}")?;
            }
            shown = text;
            next = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("db error")]
    struct Kind(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    enum Wrapping {
        #[error("read-DB query failed: {0}")]
        Query(#[from] Kind),
        #[error("no connection")]
        Pool(#[source] Kind),
    }

    fn refused() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused")
    }

    #[test]
    fn every_cause_is_shown_once() {
        let e = Wrapping::Query(Kind(refused()));
        assert_eq!(Causes(&e).to_string(), "read-DB query failed: db error: Connection refused");
        let e = Wrapping::Pool(Kind(refused()));
        assert_eq!(Causes(&e).to_string(), "no connection: db error: Connection refused");
    }

    #[test]
    fn an_error_without_sources_is_itself() {
        assert_eq!(Causes(&refused()).to_string(), "Connection refused");
    }
}
