//! The inputs and the state of sessionisation.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use serde::{Deserialize, Serialize};

use super::contribution::{Delta, Metric, diff, session_rows};

/// Configurable rules: the inactivity that ends a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Events less than this apart belong to one session.
    pub timeout: Duration,
}

impl Default for Rules {
    fn default() -> Self {
        Rules { timeout: Duration::minutes(30) }
    }
}

/// A local hour of a local day: the unit of every rollup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Bucket {
    /// The site's local date.
    pub date: NaiveDate,
    /// The local hour, 0–23.
    pub hour: u8,
}

/// A dimension a rollup row is keyed by. `Total` is the row of everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Dim {
    Total,
    Source,
    Referrer,
    UtmSource,
    UtmMedium,
    UtmCampaign,
    UtmContent,
    UtmTerm,
    Device,
    Browser,
    Os,
    Country,
    EntryPage,
    ExitPage,
    Page,
    EventName,
    /// Only in first-seen keys: the local hour, for hourly distinct visitors.
    Hour,
}

impl Dim {
    /// The name stored in the read DB (`""` for the total row).
    pub fn as_str(self) -> &'static str {
        match self {
            Dim::Total => "",
            Dim::Source => "source",
            Dim::Referrer => "referrer",
            Dim::UtmSource => "utm_source",
            Dim::UtmMedium => "utm_medium",
            Dim::UtmCampaign => "utm_campaign",
            Dim::UtmContent => "utm_content",
            Dim::UtmTerm => "utm_term",
            Dim::Device => "device",
            Dim::Browser => "browser",
            Dim::Os => "os",
            Dim::Country => "country",
            Dim::EntryPage => "entry_page",
            Dim::ExitPage => "exit_page",
            Dim::Page => "page",
            Dim::EventName => "event_name",
            Dim::Hour => "$hour",
        }
    }
}

/// The attributes a session takes from its first event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct SessionAttributes {
    pub source: String,
    pub referrer: String,
    pub utm_source: String,
    pub utm_medium: String,
    pub utm_campaign: String,
    pub utm_content: String,
    pub utm_term: String,
    pub device: String,
    pub browser: String,
    pub os: String,
    pub country: String,
}

impl SessionAttributes {
    /// Every session dimension with its value (empty = none / direct).
    pub fn dims(&self) -> [(Dim, &str); 11] {
        [
            (Dim::Source, &self.source),
            (Dim::Referrer, &self.referrer),
            (Dim::UtmSource, &self.utm_source),
            (Dim::UtmMedium, &self.utm_medium),
            (Dim::UtmCampaign, &self.utm_campaign),
            (Dim::UtmContent, &self.utm_content),
            (Dim::UtmTerm, &self.utm_term),
            (Dim::Device, &self.device),
            (Dim::Browser, &self.browser),
            (Dim::Os, &self.os),
            (Dim::Country, &self.country),
        ]
    }
}

/// What kind of event a hit is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HitKind {
    /// A page view.
    Pageview,
    /// A custom event. An interactive one un-bounces its session. Schema
    /// version 1 has no non-interactive marker, so the projector passes `true`.
    Custom {
        /// The event's name.
        name: String,
        /// Whether it counts as engagement.
        interactive: bool,
    },
}

/// One analytics event as sessionisation sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// When it happened (UTC).
    pub at: DateTime<Utc>,
    /// The site's local date of the event (the visitor id's day).
    pub local_date: NaiveDate,
    /// The site's UTC offset at `at`, in seconds.
    pub utc_offset_seconds: i32,
    /// Page view or custom event.
    pub kind: HitKind,
    /// The page's path.
    pub pathname: String,
    /// The attributes a session starting with this event takes.
    pub attributes: SessionAttributes,
}

impl Hit {
    /// The event's own bucket: its local date and local hour.
    pub fn bucket(&self) -> Bucket {
        let local = self.at + Duration::seconds(i64::from(self.utc_offset_seconds));
        Bucket { date: self.local_date, hour: local.hour() as u8 }
    }

    /// `pageview` or the custom event's name.
    pub fn name(&self) -> &str {
        match &self.kind {
            HitKind::Pageview => "pageview",
            HitKind::Custom { name, .. } => name,
        }
    }

    fn is_pageview(&self) -> bool {
        matches!(self.kind, HitKind::Pageview)
    }
}

/// A visit as it stands after the events seen so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// 1 for the visitor-day's first session, then 2, 3, …
    pub seq: u32,
    /// The first event's time.
    pub started_at: DateTime<Utc>,
    /// The bucket the session belongs to (its first event's).
    pub start: Bucket,
    /// The last event's (clamped) time.
    pub last_at: DateTime<Utc>,
    /// Page views so far.
    pub pageviews: u32,
    /// Events so far, page views included.
    pub events: u32,
    /// Whether an interactive custom event happened.
    pub interactive: bool,
    /// The first page view's path; `None` while the session has none.
    pub entry_page: Option<String>,
    /// The last page view's path; `None` while the session has none.
    pub exit_page: Option<String>,
    /// Taken from the first event.
    pub attributes: SessionAttributes,
    /// The pages viewed in the session: it is a visit of each page's row.
    #[serde(default)]
    pub pages: BTreeSet<String>,
    /// The event names seen in the session: a visit of each name's row.
    #[serde(default)]
    pub names: BTreeSet<String>,
}

impl Session {
    /// Exactly one page view and no interactive custom event.
    pub fn is_bounce(&self) -> bool {
        self.pageviews == 1 && !self.interactive
    }

    /// Last event − first event, in milliseconds.
    pub fn duration_ms(&self) -> i64 {
        (self.last_at - self.started_at).num_milliseconds()
    }

    fn start(seq: u32, hit: &Hit) -> Self {
        Session {
            seq,
            started_at: hit.at,
            start: hit.bucket(),
            last_at: hit.at,
            pageviews: 0,
            events: 0,
            interactive: false,
            entry_page: None,
            exit_page: None,
            attributes: hit.attributes.clone(),
            pages: BTreeSet::new(),
            names: BTreeSet::new(),
        }
    }
}

/// Everything remembered about one visitor on one local day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorDay {
    /// The current (latest) session.
    pub session: Option<Session>,
    /// The (dimension, value) pairs the visitor was already counted under
    /// today, so each adds visitors +1 exactly once.
    pub seen: BTreeSet<(Dim, String)>,
}

impl VisitorDay {
    /// Applies the visitor's next event and returns the signed deltas.
    pub fn step(&mut self, rules: &Rules, hit: &Hit) -> Vec<Delta> {
        let own = hit.bucket();
        // Clamp: an event older than the session's last one joins it and
        // adds no duration (see the module docs).
        let continues = self.session.as_ref().map(|s| {
            let at = hit.at.max(s.last_at);
            (at - s.last_at < rules.timeout, at)
        });
        let (before, mut session) = match (continues, self.session.take()) {
            (Some((true, at)), Some(mut s)) => {
                let before = session_rows(&s);
                s.last_at = at;
                (before, s)
            }
            (_, previous) => (Vec::new(), Session::start(previous.map_or(1, |p| p.seq + 1), hit)),
        };
        session.events += 1;
        session.names.insert(hit.name().to_owned());
        match &hit.kind {
            HitKind::Pageview => {
                session.pageviews += 1;
                session.pages.insert(hit.pathname.clone());
                session.entry_page.get_or_insert_with(|| hit.pathname.clone());
                session.exit_page = Some(hit.pathname.clone());
            }
            HitKind::Custom { interactive, .. } => session.interactive |= interactive,
        }
        let mut deltas = diff(&before, &session_rows(&session));
        self.count_event(hit, own, &session, &mut deltas);
        self.session = Some(session);
        deltas
    }

    fn count_event(&mut self, hit: &Hit, own: Bucket, session: &Session, deltas: &mut Vec<Delta>) {
        let name = hit.name().to_owned();
        let mut rows: Vec<(Dim, String)> = vec![(Dim::Total, String::new())];
        rows.extend(session.attributes.dims().iter().map(|(d, v)| (*d, (*v).to_owned())));
        if hit.is_pageview() {
            rows.push((Dim::Page, hit.pathname.clone()));
        }
        rows.push((Dim::EventName, name));
        for (dim, value) in &rows {
            deltas.push(Delta::new(own, *dim, value, Metric::Events, 1));
            if hit.is_pageview() {
                deltas.push(Delta::new(own, *dim, value, Metric::Pageviews, 1));
            }
        }
        // The entry page row counts visitors (of sessions entering there)
        // but not events: those are in the event's own rows above.
        if let Some(entry) = &session.entry_page {
            rows.push((Dim::EntryPage, entry.clone()));
        }
        for (dim, value) in rows {
            let at = (dim, value);
            if !self.seen.contains(&at) {
                deltas.push(Delta::new(own, at.0, &at.1, Metric::Visitors, 1));
                self.seen.insert(at);
            }
        }
        let hour = (Dim::Hour, format!("{:02}", own.hour));
        if self.seen.insert(hour) {
            deltas.push(Delta::new(own, Dim::Total, "", Metric::HourVisitors, 1));
        }
    }
}
