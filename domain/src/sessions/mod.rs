//! Sessionisation: how a visitor's events become visits, bounces, entry and
//! exit pages and durations, written as **signed deltas** so a projector can
//! sum them into additive rollups (docs/architecture.md, "Analytics
//! semantics"; docs/analytics-read.md).
//!
//! The state machine is per visitor-day ([`VisitorDay`]): a visitor id lives
//! within one local day, so a session can never span local midnight and no
//! state is shared across days. [`VisitorDay::step`] takes the next event of
//! that visitor in partition order and returns the signed deltas it causes.
//!
//! How each delta arises: a session *contributes* visits 1, bounces 0/1 and
//! its duration to its start bucket, once per dimension row it belongs to
//! (the total row, each session attribute, its entry and exit page, each page
//! and event name it contains). An event
//! changes the session, and the delta is `contribution(after) −
//! contribution(before)`: a second pageview turns bounces 1 into 0 (−1), a
//! later pageview moves the exit row (−1 old, +1 new), each gap adds to the
//! duration. Pageviews and events go to the event's own bucket; visitors are
//! counted once per (day, dimension, value) at the first matching event.
//!
//! Out of order: within a partition a visitor's events arrive in the order
//! they were recorded, which for backfills and clock skew need not be time
//! order. An event older than the session's last event is **clamped** to the
//! session's last time for sessionisation: it joins the current session,
//! adds no duration, and (if a pageview) becomes the exit page, because it is
//! the last one seen. Its pageview/event and visitor counts still use its own
//! hour. This keeps every delta non-retroactive (no session is ever split or
//! merged after the fact), so re-applying the same log always gives the same
//! numbers.

mod contribution;
mod model;
mod span;

pub use contribution::{Delta, Metric};
pub use model::{Bucket, Dim, Hit, HitKind, Rules, Seen, Session, SessionAttributes, VisitorDay};
pub use span::{Span, Term, cover, cover_open};

#[cfg(test)]
mod tests;
