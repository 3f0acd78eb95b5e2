//! Tally's read side: serves profiles and analytics from the read DB (arrives with the read-side milestone).
//!
//! This milestone ships the write side only; the crate exists so the
//! workspace has its final shape and the binary's command line is settled.
#![forbid(unsafe_code)]

/// What the binary says when asked to run before the read side exists.
pub const NOT_YET: &str = "the read side is not part of this release yet; see the README's roadmap";
