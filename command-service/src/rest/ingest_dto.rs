//! JSON bodies of the ingest endpoints.
//!
//! Events are parsed one by one from the batch's JSON array, so a type error
//! in one event (say `"name": 5`) rejects that event, naming the field, and
//! not the whole batch.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tally_domain::{
    FieldViolation,
    analytics::{EventInput, RevenueInput, Utm},
};
use utoipa::ToSchema;

use crate::app::analytics::{Outcome, Report};

/// `POST /v1/events`: the REST form of `RecordEventsRequest`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordEventsBody {
    /// The site's id; exactly one of `site_id` and `domain`.
    #[serde(default)]
    pub site_id: String,
    /// The site's domain, as an alternative to `site_id`.
    #[serde(default)]
    pub domain: String,
    /// 1 to 1,000 events.
    #[schema(value_type = Vec<EventFields>)]
    pub events: Vec<serde_json::Value>,
}

/// A revenue amount: `amount` as a decimal string (a JSON number is accepted too).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevenueFields {
    #[schema(example = "EUR")]
    pub currency: String,
    #[schema(value_type = String, example = "19.99")]
    pub amount: serde_json::Value,
}

fn revenue_input(r: RevenueFields) -> RevenueInput {
    let amount = match r.amount {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    RevenueInput { currency: r.currency, amount }
}

/// One event: `AnalyticsEventInput` in snake_case JSON.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EventFields {
    /// Idempotency id, at most 128 bytes; a repeat is reported as a duplicate.
    pub client_event_id: String,
    /// `pageview` or a custom event name (≤ 120 characters).
    #[schema(example = "pageview")]
    pub name: String,
    /// Absolute page URL (≤ 2,000 bytes); only hostname and path are kept.
    #[schema(example = "https://example.com/blog?utm_source=newsletter")]
    pub url: String,
    /// `document.referrer` (≤ 2,000 bytes).
    pub referrer: String,
    /// Screen width in CSS pixels.
    pub screen_width: u32,
    /// At most 30 properties; keys ≤ 300 bytes, values ≤ 2,000 bytes.
    pub props: BTreeMap<String, String>,
    /// RFC 3339; defaults to now; must be within the live clock skew.
    pub timestamp: Option<DateTime<Utc>>,
    pub revenue: Option<RevenueFields>,
    pub utm_source: String,
    pub utm_medium: String,
    pub utm_campaign: String,
    pub utm_content: String,
    pub utm_term: String,
    /// Honoured only from a trusted proxy; otherwise the connection's address is used.
    pub ip: String,
    /// Defaults to the request's `User-Agent`.
    pub user_agent: String,
}

impl EventFields {
    pub fn into_input(self, client_ip: String, trusted: bool, agent: &str) -> EventInput {
        EventInput {
            client_event_id: self.client_event_id,
            name: self.name,
            url: self.url,
            referrer: self.referrer,
            screen_width: self.screen_width,
            props: self.props,
            timestamp: self.timestamp,
            revenue: self.revenue.map(revenue_input),
            utm: Utm {
                source: self.utm_source,
                medium: self.utm_medium,
                campaign: self.utm_campaign,
                content: self.utm_content,
                term: self.utm_term,
            },
            ip: if trusted && !self.ip.trim().is_empty() { self.ip } else { client_ip },
            user_agent: if self.user_agent.trim().is_empty() { agent.to_owned() } else { self.user_agent },
        }
    }
}

/// Parses one array element, naming the offending field on failure.
pub fn parse_element<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, Vec<FieldViolation>> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let field = if path == "." { "event".to_owned() } else { path };
        vec![FieldViolation::new(field, err.into_inner().to_string())]
    })
}

/// A problem with one field of one event.
#[derive(Debug, Serialize, ToSchema)]
pub struct ViolationView {
    pub field: String,
    pub description: String,
}

/// What happened to one event, in request order.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOutcomeView {
    pub index: u32,
    /// Recorded now, or earlier (a duplicate).
    pub accepted: bool,
    pub duplicate: bool,
    pub dropped_bot: bool,
    pub violations: Vec<ViolationView>,
}

/// The answer to a batch: `RecordEventsResponse` in JSON.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordEventsView {
    pub accepted: u32,
    pub rejected: u32,
    pub dropped_bots: u32,
    pub outcomes: Vec<EventOutcomeView>,
    /// Position of the last event appended (0 if none): use as `min_position`.
    pub global_position: u64,
}

impl From<&Report> for RecordEventsView {
    fn from(report: &Report) -> Self {
        RecordEventsView {
            accepted: report.accepted(),
            rejected: report.rejected(),
            dropped_bots: report.dropped_bots(),
            global_position: report.global_position(),
            outcomes: report
                .outcomes
                .iter()
                .enumerate()
                .map(|(index, o)| EventOutcomeView {
                    index: index as u32,
                    accepted: o.accepted(),
                    duplicate: matches!(o, Outcome::Duplicate),
                    dropped_bot: matches!(o, Outcome::Bot),
                    violations: match o {
                        Outcome::Rejected(v) => v
                            .iter()
                            .map(|v| ViolationView { field: v.field.clone(), description: v.description.clone() })
                            .collect(),
                        _ => Vec::new(),
                    },
                })
                .collect(),
        }
    }
}

/// `POST /api/event`: Plausible's Events API body. Short keys (`n`, `u`,
/// `d`, `r`, `p`/`m`, `$`, `w`) are accepted as Plausible's script sends them.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct PlausibleEvent {
    #[serde(alias = "n")]
    #[schema(example = "pageview")]
    pub name: String,
    #[serde(alias = "u")]
    #[schema(example = "https://example.com/pricing")]
    pub url: String,
    /// The site's domain; several may be given comma-separated.
    #[serde(alias = "d")]
    #[schema(example = "example.com")]
    pub domain: String,
    #[serde(alias = "r")]
    pub referrer: Option<String>,
    /// Custom properties; scalar values are recorded as strings.
    #[serde(alias = "p", alias = "m")]
    #[schema(value_type = BTreeMap<String, String>)]
    pub props: Option<serde_json::Value>,
    #[serde(alias = "$")]
    pub revenue: Option<RevenueFields>,
    #[serde(alias = "w")]
    pub screen_width: Option<u32>,
    /// Plausible's "interactive" flag; accepted and ignored.
    #[serde(alias = "i")]
    #[schema(value_type = Option<bool>)]
    pub interactive: Option<serde_json::Value>,
    /// Plausible's "hashMode" flag; accepted and ignored.
    #[serde(alias = "h")]
    #[schema(value_type = Option<u8>)]
    pub hash_mode: Option<serde_json::Value>,
}

impl PlausibleEvent {
    /// The event as a domain input; props that are not an object of scalars
    /// are reported under `props`.
    pub fn into_input(self, client_ip: String, agent: &str) -> Result<EventInput, Vec<FieldViolation>> {
        let props = props_from_value(self.props)?;
        Ok(EventInput {
            name: self.name,
            url: self.url,
            referrer: self.referrer.unwrap_or_default(),
            screen_width: self.screen_width.unwrap_or(0),
            props,
            revenue: self.revenue.map(revenue_input),
            ip: client_ip,
            user_agent: agent.to_owned(),
            ..EventInput::default()
        })
    }
}

/// Props as sent by trackers and raw logs: an object whose scalar values
/// become strings (`null` members are left out).
pub fn props_from_value(value: Option<serde_json::Value>) -> Result<BTreeMap<String, String>, Vec<FieldViolation>> {
    let map = match value {
        None | Some(serde_json::Value::Null) => return Ok(BTreeMap::new()),
        Some(serde_json::Value::Object(map)) => map,
        Some(_) => return Err(vec![FieldViolation::new("props", "must be a JSON object")]),
    };
    let mut props = BTreeMap::new();
    for (k, v) in map {
        let v = match v {
            serde_json::Value::String(s) => s,
            serde_json::Value::Null => continue,
            serde_json::Value::Bool(_) | serde_json::Value::Number(_) => v.to_string(),
            _ => {
                let field = format!("props[{:?}]", k.chars().take(64).collect::<String>());
                return Err(vec![FieldViolation::new(field, "must be a string, number or boolean")]);
            }
        };
        props.insert(k, v);
    }
    Ok(props)
}

/// One line of a raw event log, as `tally import` sends it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ImportLine {
    /// Idempotency id derived from the line's identity in its file.
    pub client_event_id: String,
    /// The original time of the event; required. RFC 3339, or `YYYY-MM-DD HH:MM:SS[.fff]`
    /// taken as UTC, or Unix seconds (a number; milliseconds when above 10^11).
    #[schema(value_type = String, example = "2025-06-01T18:00:00Z")]
    pub timestamp: Option<serde_json::Value>,
    /// The site's registered domain; when empty, the `url`'s host.
    pub domain: String,
    pub name: String,
    pub url: String,
    pub referrer: String,
    /// The visitor's address as logged (used for the visitor hash and country only).
    pub ip: String,
    /// The visitor's User-Agent as logged.
    pub user_agent: String,
    /// An object, or a string holding a JSON object (as a logging table's text column would).
    #[schema(value_type = BTreeMap<String, String>)]
    pub props: Option<serde_json::Value>,
    pub screen_width: u32,
}

/// Timestamps as home-made logging tables write them.
fn log_timestamp(value: serde_json::Value) -> Result<Option<DateTime<Utc>>, Vec<FieldViolation>> {
    let bad = |why: &str| vec![FieldViolation::new("timestamp", why.to_owned())];
    match value {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Number(n) => {
            let n = n.as_f64().ok_or_else(|| bad("must be a finite number"))?;
            // Above 10^11 seconds is the year 5138: such a number is milliseconds.
            let millis = if n.abs() > 1e11 { n } else { n * 1000.0 };
            DateTime::from_timestamp_millis(millis as i64).map(Some).ok_or_else(|| bad("is out of range"))
        }
        serde_json::Value::String(s) => {
            let s = s.trim();
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return Ok(Some(t.with_timezone(&Utc)));
            }
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
                .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
                .map(|t| Some(t.and_utc()))
                .map_err(|_| {
                    bad("must be RFC 3339 (2025-06-01T18:00:00Z), `YYYY-MM-DD HH:MM:SS` in UTC, or Unix seconds")
                })
        }
        _ => Err(bad("must be a string or a number")),
    }
}

impl ImportLine {
    pub fn into_input(self) -> Result<(String, EventInput), Vec<FieldViolation>> {
        let timestamp = log_timestamp(self.timestamp.unwrap_or(serde_json::Value::Null))?;
        let props =
            match self.props {
                Some(serde_json::Value::String(text)) if text.trim().is_empty() => None,
                Some(serde_json::Value::String(text)) => Some(serde_json::from_str(&text).map_err(|_| {
                    vec![FieldViolation::new("props", "must be a JSON object (or a string holding one)")]
                })?),
                other => other,
            };
        let props = props_from_value(props)?;
        let input = EventInput {
            client_event_id: self.client_event_id,
            name: self.name,
            url: self.url,
            referrer: self.referrer,
            screen_width: self.screen_width,
            props,
            timestamp,
            ip: self.ip,
            user_agent: self.user_agent,
            ..EventInput::default()
        };
        // A log without a domain column: the page's host names the site.
        let domain = if self.domain.trim().is_empty() {
            url::Url::parse(input.url.trim()).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default()
        } else {
            self.domain
        };
        Ok((domain, input))
    }
}

/// `POST /v1/import/events`: a batch of log lines (any number of sites).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    /// 1 to 1,000 lines.
    #[schema(value_type = Vec<ImportLine>)]
    pub lines: Vec<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn log_timestamps_in_common_shapes() {
        let expected = DateTime::parse_from_rfc3339("2025-06-01T18:00:00Z").unwrap().with_timezone(&Utc);
        for v in [
            json!("2025-06-01T18:00:00Z"),
            json!("2025-06-01T20:00:00+02:00"),
            json!("2025-06-01 18:00:00"),
            json!("2025-06-01T18:00:00.000"),
            json!(1_748_800_800),
            json!(1_748_800_800_000_i64),
        ] {
            assert_eq!(log_timestamp(v.clone()).unwrap(), Some(expected), "{v}");
        }
        assert_eq!(log_timestamp(json!("yesterday")).unwrap_err()[0].field, "timestamp");
        assert_eq!(log_timestamp(json!(null)).unwrap(), None);
    }

    #[test]
    fn props_may_be_an_object_or_a_string_holding_one() {
        let line = |props: serde_json::Value| ImportLine {
            props: Some(props),
            domain: "a.com".into(),
            ..ImportLine::default()
        };
        let (_, input) = line(json!("{\"plan\": \"pro\", \"n\": 2}")).into_input().unwrap();
        assert_eq!(input.props.get("n").map(String::as_str), Some("2"));
        assert_eq!(line(json!("[1]")).into_input().unwrap_err()[0].field, "props");
        assert!(line(json!("")).into_input().unwrap().1.props.is_empty());
    }
}
