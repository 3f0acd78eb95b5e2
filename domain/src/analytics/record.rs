//! The recorded fact: a validated event with personal data replaced by the
//! visitor id and coarse classifications.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::{
    agent::Agent, input::ValidEvent, local_day::local_day, referrer::reduce_referrer, revenue::Revenue,
    source::source_of, visitor::Salt, visitor::visitor_id,
};
use crate::SiteId;

/// What ingest needs to know about a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteInfo {
    /// The site's id.
    pub id: SiteId,
    /// Its registered domain (referrers from it are internal).
    pub domain: String,
    /// The zone its days are counted in.
    pub time_zone: Tz,
}

/// The payload of an `analytics-<site>` stream event (schema version 1):
/// no IP, no User-Agent, no query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyticsRecord {
    /// The site.
    pub site_id: SiteId,
    /// Hex keyed hash, stable within one local day.
    pub visitor_id: String,
    /// `pageview` or a custom name.
    pub name: String,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// Its date on the site's wall clock.
    pub local_date: NaiveDate,
    /// The zone's offset at `timestamp`.
    pub utc_offset_seconds: i32,
    /// The client's idempotency id, or empty.
    pub client_event_id: String,
    /// Path of the page.
    pub pathname: String,
    /// Host of the page.
    pub hostname: String,
    /// External referrer (`host/path`), empty for direct or internal.
    pub referrer: String,
    /// Source name, empty for direct.
    pub referrer_source: String,
    /// `utm_source`.
    pub utm_source: String,
    /// `utm_medium`.
    pub utm_medium: String,
    /// `utm_campaign`.
    pub utm_campaign: String,
    /// `utm_content`.
    pub utm_content: String,
    /// `utm_term`.
    pub utm_term: String,
    /// `desktop`, `mobile`, `tablet` or empty.
    pub device: String,
    /// Browser family.
    pub browser: String,
    /// Browser `major.minor`.
    pub browser_version: String,
    /// OS family.
    pub os: String,
    /// OS version.
    pub os_version: String,
    /// CSS pixels, 0 when unknown.
    pub screen_width: u32,
    /// ISO 3166-1 alpha-2, empty when unknown.
    pub country_code: String,
    /// Custom properties.
    pub props: BTreeMap<String, String>,
    /// Revenue, when any.
    pub revenue: Option<Revenue>,
}

/// Builds the record of `event` for `site`. `salt` must be the salt of the
/// event's local day ([`super::local_day`] of its timestamp in the site's
/// zone); `agent` is the classification of its User-Agent
/// ([`super::UserAgentInfo`]); `country_code` comes from an optional IP
/// database. The event's IP and User-Agent are consumed here and appear in the
/// record only through the visitor hash and the coarse classification.
pub fn record(site: &SiteInfo, event: ValidEvent, salt: &Salt, agent: Agent, country_code: String) -> AnalyticsRecord {
    let day = local_day(event.timestamp, site.time_zone);
    let visitor_id = visitor_id(salt, site.id, event.ip, &event.user_agent);
    let referrer = reduce_referrer(event.referrer.as_ref(), &event.page.hostname, &site.domain);
    let referrer_host = referrer.as_deref().map(|r| r.split('/').next().unwrap_or(r));
    let referrer_source = source_of(&event.utm.source, referrer_host);
    AnalyticsRecord {
        site_id: site.id,
        visitor_id,
        name: event.name,
        timestamp: event.timestamp,
        local_date: day.date,
        utc_offset_seconds: day.utc_offset_seconds,
        client_event_id: event.client_event_id.unwrap_or_default(),
        pathname: event.page.pathname,
        hostname: event.page.hostname,
        referrer: referrer.unwrap_or_default(),
        referrer_source,
        utm_source: event.utm.source,
        utm_medium: event.utm.medium,
        utm_campaign: event.utm.campaign,
        utm_content: event.utm.content,
        utm_term: event.utm.term,
        device: agent.device,
        browser: agent.browser,
        browser_version: agent.browser_version,
        os: agent.os,
        os_version: agent.os_version,
        screen_width: event.screen_width,
        country_code,
        props: event.props,
        revenue: event.revenue,
    }
}
