//! Analytics records as stored bytes: the `tally.v1.AnalyticsEventRecorded`
//! payload (schema version 1) of `analytics-<site>` streams.

use prost::Message as _;
use tally_domain::analytics::AnalyticsRecord;
use tally_proto::{convert::to_timestamp, v1};

/// The payload's schema version.
pub const SCHEMA_VERSION: u32 = 1;

/// The proto message of `record`.
pub fn to_proto(record: AnalyticsRecord) -> v1::AnalyticsEventRecorded {
    v1::AnalyticsEventRecorded {
        site_id: record.site_id.to_string(),
        visitor_id: record.visitor_id,
        name: record.name,
        timestamp: Some(to_timestamp(record.timestamp)),
        local_date: record.local_date.format("%Y-%m-%d").to_string(),
        utc_offset_seconds: record.utc_offset_seconds,
        client_event_id: record.client_event_id,
        pathname: record.pathname,
        hostname: record.hostname,
        referrer: record.referrer,
        referrer_source: record.referrer_source,
        utm_source: record.utm_source,
        utm_medium: record.utm_medium,
        utm_campaign: record.utm_campaign,
        utm_content: record.utm_content,
        utm_term: record.utm_term,
        device: record.device,
        browser: record.browser,
        browser_version: record.browser_version,
        os: record.os,
        os_version: record.os_version,
        screen_width: record.screen_width,
        country_code: record.country_code,
        props: record.props.into_iter().collect(),
        revenue: record.revenue.map(|r| v1::Revenue { currency: r.currency, amount: r.amount }),
    }
}

/// The encoded payload of `record`.
pub fn encode(record: AnalyticsRecord) -> Vec<u8> {
    to_proto(record).encode_to_vec()
}
