//! An event as received, and its validation into a [`ValidEvent`].

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};

use super::limits::*;
use super::page::Page;
use super::revenue::Revenue;
use crate::error::{ValidationError, Violations};

/// The `utm_*` campaign parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Utm {
    /// `utm_source`.
    pub source: String,
    /// `utm_medium`.
    pub medium: String,
    /// `utm_campaign`.
    pub campaign: String,
    /// `utm_content`.
    pub content: String,
    /// `utm_term`.
    pub term: String,
}

impl Utm {
    /// Whether no parameter is set.
    pub fn is_empty(&self) -> bool {
        [&self.source, &self.medium, &self.campaign, &self.content, &self.term].iter().all(|v| v.is_empty())
    }

    fn fields(&self) -> [(&'static str, &str); 5] {
        [
            ("utm_source", &self.source),
            ("utm_medium", &self.medium),
            ("utm_campaign", &self.campaign),
            ("utm_content", &self.content),
            ("utm_term", &self.term),
        ]
    }
}

/// A revenue amount as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevenueInput {
    /// ISO 4217 code.
    pub currency: String,
    /// Plain decimal string.
    pub amount: String,
}

/// One analytics event as a client sent it, before any check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventInput {
    /// Optional idempotency id.
    pub client_event_id: String,
    /// `pageview` or a custom event name.
    pub name: String,
    /// Absolute page URL.
    pub url: String,
    /// `document.referrer`, possibly empty.
    pub referrer: String,
    /// CSS pixels, 0 when unknown.
    pub screen_width: u32,
    /// Custom properties.
    pub props: BTreeMap<String, String>,
    /// When it happened; `None` means "now".
    pub timestamp: Option<DateTime<Utc>>,
    /// Revenue of a conversion.
    pub revenue: Option<RevenueInput>,
    /// Campaign parameters sent explicitly.
    pub utm: Utm,
    /// The visitor's address, as text (the edge fills it in).
    pub ip: String,
    /// The visitor's User-Agent.
    pub user_agent: String,
}

/// Which timestamps are acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimePolicy {
    /// Live ingest: a timestamp may trail `now` by at most `max_past` and
    /// lead it by at most `max_future`; a missing one means `now`.
    Live {
        /// The server's clock.
        now: DateTime<Utc>,
        /// Oldest accepted age.
        max_past: Duration,
        /// Furthest accepted lead (clients' clocks run fast too).
        max_future: Duration,
    },
    /// Trusted backfill of historic logs: the original timestamp is
    /// required and may be arbitrarily old, but not in the future.
    Backfill {
        /// The server's clock.
        now: DateTime<Utc>,
        /// Furthest accepted lead.
        max_future: Duration,
    },
}

/// An event that passed every check. Still holds the IP and User-Agent,
/// which [`super::record`] consumes and does not keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidEvent {
    /// Trimmed idempotency id, when sent.
    pub client_event_id: Option<String>,
    /// Trimmed event name.
    pub name: String,
    /// Hostname, pathname and the URL's `utm_*` parameters.
    pub page: Page,
    /// The raw referrer (reduced later, against the site's hostnames).
    pub referrer: Option<url::Url>,
    /// CSS pixels, 0 when unknown.
    pub screen_width: u32,
    /// Custom properties.
    pub props: BTreeMap<String, String>,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// Normalised revenue.
    pub revenue: Option<Revenue>,
    /// Explicit `utm_*`, or those of the URL when none was sent.
    pub utm: Utm,
    /// The visitor's address, when known.
    pub ip: Option<IpAddr>,
    /// The User-Agent, cut to [`MAX_USER_AGENT_BYTES`].
    pub user_agent: String,
}

/// Checks every field of `input`, reporting all violations at once with
/// field paths relative to the event (`name`, `props["k"]`, `revenue.amount`).
pub fn validate(input: EventInput, policy: TimePolicy) -> Result<ValidEvent, ValidationError> {
    let mut v = Violations::new();

    let client_event_id = v.check("client_event_id", client_event_id(&input.client_event_id)).flatten();
    let name = v.required("name", &input.name, event_name);
    let page = v.required("url", &input.url, Page::parse);
    let referrer = v.check("referrer", referrer(&input.referrer)).flatten();
    for (field, value) in input.utm.fields() {
        if value.len() > MAX_UTM_BYTES {
            v.add(field, format!("must be at most {MAX_UTM_BYTES} bytes"));
        }
    }
    check_props(&mut v, &input.props);
    let timestamp = v.check("timestamp", timestamp(input.timestamp, policy));
    let revenue = match &input.revenue {
        Some(r) => v.merge(Revenue::parse(&r.currency, &r.amount)).map(Some),
        None => Some(None),
    };
    let ip = v.check("ip", ip(&input.ip)).flatten();

    v.finish()?;
    let page = page.expect("checked");
    let utm = if input.utm.is_empty() { page.utm.clone() } else { trimmed(input.utm) };
    Ok(ValidEvent {
        client_event_id,
        name: name.expect("checked"),
        page,
        referrer,
        screen_width: if input.screen_width > MAX_SCREEN_WIDTH { 0 } else { input.screen_width },
        props: input.props,
        timestamp: timestamp.expect("checked"),
        revenue: revenue.expect("checked"),
        utm,
        ip,
        user_agent: truncate(input.user_agent.trim(), MAX_USER_AGENT_BYTES).to_owned(),
    })
}

fn trimmed(utm: Utm) -> Utm {
    Utm {
        source: utm.source.trim().to_owned(),
        medium: utm.medium.trim().to_owned(),
        campaign: utm.campaign.trim().to_owned(),
        content: utm.content.trim().to_owned(),
        term: utm.term.trim().to_owned(),
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn client_event_id(raw: &str) -> Result<Option<String>, String> {
    let id = raw.trim();
    if id.is_empty() {
        return Ok(None);
    }
    if id.len() > MAX_CLIENT_EVENT_ID_BYTES {
        return Err(format!("must be at most {MAX_CLIENT_EVENT_ID_BYTES} bytes"));
    }
    if !id.chars().all(|c| c.is_ascii_graphic()) {
        return Err("may only contain printable ASCII characters".to_owned());
    }
    Ok(Some(id.to_owned()))
}

fn event_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("must be at most {MAX_NAME_CHARS} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters".to_owned());
    }
    Ok(name.to_owned())
}

fn referrer(raw: &str) -> Result<Option<url::Url>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    if raw.len() > MAX_URL_BYTES {
        return Err(format!("must be at most {MAX_URL_BYTES} bytes"));
    }
    url::Url::parse(raw).map(Some).map_err(|e| format!("must be an absolute URL ({e})"))
}

fn check_props(v: &mut Violations, props: &BTreeMap<String, String>) {
    if props.len() > MAX_PROPS {
        v.add("props", format!("must have at most {MAX_PROPS} entries, got {}", props.len()));
    }
    for (key, value) in props {
        // Keys can be anything a client sends; cut them in the path so an
        // over-long key does not make an over-long error.
        let field = format!("props[{:?}]", truncate(key, 64));
        if key.trim().is_empty() {
            v.add(field, "key must not be empty");
        } else if key.len() > MAX_PROP_KEY_BYTES {
            v.add(field, format!("key must be at most {MAX_PROP_KEY_BYTES} bytes"));
        } else if value.len() > MAX_PROP_VALUE_BYTES {
            v.add(field, format!("value must be at most {MAX_PROP_VALUE_BYTES} bytes"));
        }
    }
}

fn timestamp(sent: Option<DateTime<Utc>>, policy: TimePolicy) -> Result<DateTime<Utc>, String> {
    match policy {
        TimePolicy::Live { now, max_past, max_future } => {
            let Some(ts) = sent else { return Ok(now) };
            if ts < now - max_past {
                return Err(format!("must be at most {} s in the past (live ingest)", max_past.num_seconds()));
            }
            if ts > now + max_future {
                return Err(format!("must be at most {} s in the future", max_future.num_seconds()));
            }
            Ok(ts)
        }
        TimePolicy::Backfill { now, max_future } => {
            let ts = sent.ok_or_else(|| "is required for a backfill".to_owned())?;
            if ts > now + max_future {
                return Err(format!("must be at most {} s in the future", max_future.num_seconds()));
            }
            Ok(ts)
        }
    }
}

fn ip(raw: &str) -> Result<Option<IpAddr>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse().map(Some).map_err(|_| "must be an IPv4 or IPv6 address".to_owned())
}
