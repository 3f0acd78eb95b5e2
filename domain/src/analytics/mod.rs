//! Analytics ingest rules: what a valid event is, and the privacy-preserving
//! facts recorded about it.
//!
//! The pipeline is `EventInput` → [`validate`] → [`ValidEvent`] → (the edge
//! looks up the salt of the event's local day) → [`record`] →
//! [`AnalyticsRecord`], the payload of `analytics-<site>` streams. The raw IP
//! and User-Agent only exist in the first two stages: they feed the visitor
//! hash and the classification and are then dropped.

mod agent;
mod input;
pub mod limits;
mod local_day;
mod page;
mod record;
mod referrer;
mod revenue;
mod source;
mod visitor;

#[cfg(test)]
mod tests;

pub use agent::{Agent, UserAgentInfo, classify_agent, is_bot};
pub use input::{EventInput, RevenueInput, TimePolicy, Utm, ValidEvent, validate};
pub use local_day::{LocalDay, local_day};
pub use page::Page;
pub use record::{AnalyticsRecord, SiteInfo, record};
pub use referrer::reduce_referrer;
pub use revenue::Revenue;
pub use source::source_of;
pub use visitor::{SALT_LEN, Salt, visitor_id};

/// The event name of a page view; every other name is a custom event.
pub const PAGEVIEW: &str = "pageview";

/// The stream category of analytics events (`analytics-<site uuid>`).
pub const CATEGORY: &str = "analytics";

/// The stream holding a site's analytics events.
pub fn stream_id(site: crate::SiteId) -> String {
    format!("{CATEGORY}-{site}")
}
