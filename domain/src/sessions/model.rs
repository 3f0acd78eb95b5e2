//! The inputs and the state of sessionisation.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use serde::{Deserialize, Serialize, ser::SerializeSeq};

use super::contribution::{Delta, Metric};

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
    /// Every dimension, in declaration order.
    pub const ALL: [Dim; 17] = [
        Dim::Total,
        Dim::Source,
        Dim::Referrer,
        Dim::UtmSource,
        Dim::UtmMedium,
        Dim::UtmCampaign,
        Dim::UtmContent,
        Dim::UtmTerm,
        Dim::Device,
        Dim::Browser,
        Dim::Os,
        Dim::Country,
        Dim::EntryPage,
        Dim::ExitPage,
        Dim::Page,
        Dim::EventName,
        Dim::Hour,
    ];

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

/// The local hours as `seen` stores them ("00"–"23"), so counting an hour
/// allocates nothing.
const HOURS: [&str; 24] = [
    "00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15", "16", "17", "18",
    "19", "20", "21", "22", "23",
];

/// Everything remembered about one visitor on one local day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorDay {
    /// The current (latest) session.
    pub session: Option<Session>,
    /// The (dimension, value) pairs the visitor was already counted under
    /// today, so each adds visitors +1 exactly once.
    pub seen: Seen,
}

/// What a continuing session contributed before the event, to diff against.
struct Prior {
    bounce: i64,
    duration: i64,
    had_entry: bool,
}

impl VisitorDay {
    /// Applies the visitor's next event and returns the signed deltas.
    pub fn step(&mut self, rules: &Rules, hit: &Hit) -> Vec<Delta> {
        let mut deltas = Vec::new();
        self.step_into(rules, hit, &mut |bucket, dim, value, row: &[(Metric, i64)]| {
            deltas.extend(row.iter().map(|&(metric, amount)| Delta::new(bucket, dim, value, metric, amount)));
        });
        deltas
    }

    /// Like [`VisitorDay::step`], but hands the non-zero deltas to `sink`
    /// instead of allocating them (the projector's hot path), a row's at a time
    /// (bucket, dimension, value and its `(metric, amount)` pairs, never empty):
    /// the sink finds each row once, not once per metric. Returns the session the
    /// event closed, if it started a new one.
    pub fn step_into(
        &mut self,
        rules: &Rules,
        hit: &Hit,
        sink: &mut impl FnMut(Bucket, Dim, &str, &[(Metric, i64)]),
    ) -> Option<Session> {
        let own = hit.bucket();
        // Clamp: an event older than the session's last one joins it and
        // adds no duration (see the module docs).
        let continues = self.session.as_ref().map(|s| {
            let at = hit.at.max(s.last_at);
            (at - s.last_at < rules.timeout, at)
        });
        let (prior, mut session, closed) = match (continues, self.session.take()) {
            (Some((true, at)), Some(mut s)) => {
                let prior = Prior {
                    bounce: i64::from(s.is_bounce()),
                    duration: s.duration_ms(),
                    had_entry: s.entry_page.is_some(),
                };
                s.last_at = at;
                (Some(prior), s, None)
            }
            (_, previous) => (None, Session::start(previous.as_ref().map_or(1, |p| p.seq + 1), hit), previous),
        };
        session.events += 1;
        let new_name = !session.names.contains(hit.name());
        if new_name {
            session.names.insert(hit.name().to_owned());
        }
        let (mut new_page, mut exit_changed, mut old_exit) = (false, false, None);
        match &hit.kind {
            HitKind::Pageview => {
                session.pageviews += 1;
                new_page = !session.pages.contains(&hit.pathname);
                if new_page {
                    session.pages.insert(hit.pathname.clone());
                }
                session.entry_page.get_or_insert_with(|| hit.pathname.clone());
                if session.exit_page.as_deref() != Some(hit.pathname.as_str()) {
                    exit_changed = true;
                    old_exit = session.exit_page.replace(hit.pathname.clone());
                }
            }
            HitKind::Custom { interactive, .. } => session.interactive |= interactive,
        }
        // contribution(after) − contribution(before), row by row: a row the
        // session already had changes by the bounce and duration deltas, a
        // new row gets the whole contribution, the old exit row loses it.
        let (bounce, duration) = (i64::from(session.is_bounce()), session.duration_ms());
        let mut emit = |dim: Dim, value: &str, visits: i64, bounces: i64, duration_ms: i64| {
            let mut row = [(Metric::Visits, visits), (Metric::Bounces, bounces), (Metric::DurationMs, duration_ms)];
            let mut n = 0;
            for i in 0..row.len() {
                if row[i].1 != 0 {
                    row[n] = row[i];
                    n += 1;
                }
            }
            if n > 0 {
                sink(session.start, dim, value, &row[..n]);
            }
        };
        for_each_session_row(&session, |dim, value| {
            let had = prior.as_ref().is_some_and(|p| match dim {
                Dim::EntryPage => p.had_entry,
                Dim::ExitPage => !exit_changed,
                Dim::Page => !(new_page && value == hit.pathname),
                Dim::EventName => !(new_name && value == hit.name()),
                _ => true,
            });
            match &prior {
                Some(p) if had => emit(dim, value, 0, bounce - p.bounce, duration - p.duration),
                _ => emit(dim, value, 1, bounce, duration),
            }
        });
        if let (Some(p), Some(old)) = (&prior, &old_exit) {
            emit(Dim::ExitPage, old, -1, -p.bounce, -p.duration);
        }
        self.count_event(hit, own, &session, sink);
        self.session = Some(session);
        closed
    }

    fn count_event(
        &mut self,
        hit: &Hit,
        own: Bucket,
        session: &Session,
        sink: &mut impl FnMut(Bucket, Dim, &str, &[(Metric, i64)]),
    ) {
        let page = hit.is_pageview().then_some(hit.pathname.as_str());
        let counted: &[(Metric, i64)] =
            if page.is_some() { &[(Metric::Events, 1), (Metric::Pageviews, 1)] } else { &[(Metric::Events, 1)] };
        let attrs = session.attributes.dims();
        let rows = std::iter::once((Dim::Total, ""))
            .chain(attrs.iter().copied())
            .chain(page.map(|p| (Dim::Page, p)))
            .chain(std::iter::once((Dim::EventName, hit.name())));
        for (dim, value) in rows.clone() {
            sink(own, dim, value, counted);
        }
        // The entry page row counts visitors (of sessions entering there)
        // but not events: those are in the event's own rows above.
        let entry = session.entry_page.as_deref().map(|e| (Dim::EntryPage, e));
        for (dim, value) in rows.chain(entry) {
            if self.seen.insert(dim, value) {
                sink(own, dim, value, &[(Metric::Visitors, 1)]);
            }
        }
        if self.seen.insert(Dim::Hour, HOURS[usize::from(own.hour)]) {
            sink(own, Dim::Total, "", &[(Metric::HourVisitors, 1)]);
        }
    }
}

/// Every row a session contributes to: the total, its attributes, its entry
/// and exit page, and every page and event name it contains (a bounce has
/// one page, its entry, so a page row's bounces are those of the visits that
/// entered there).
fn for_each_session_row(s: &Session, mut f: impl FnMut(Dim, &str)) {
    f(Dim::Total, "");
    for (dim, value) in s.attributes.dims() {
        f(dim, value);
    }
    if let Some(entry) = &s.entry_page {
        f(Dim::EntryPage, entry);
    }
    if let Some(exit) = &s.exit_page {
        f(Dim::ExitPage, exit);
    }
    s.pages.iter().for_each(|p| f(Dim::Page, p));
    s.names.iter().for_each(|n| f(Dim::EventName, n));
}

/// The (dimension, value) pairs a visitor-day has counted, looked up without
/// allocating. Stored as the sorted list of `[dim, value]` pairs it always was
/// (a `BTreeSet<(Dim, String)>`), so states written before read the same.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen(BTreeMap<Dim, BTreeSet<String>>);

impl Seen {
    /// Whether the pair was counted.
    pub fn contains(&self, dim: Dim, value: &str) -> bool {
        self.0.get(&dim).is_some_and(|values| values.contains(value))
    }

    /// Records the pair; `true` if it is new.
    pub fn insert(&mut self, dim: Dim, value: &str) -> bool {
        let values = self.0.entry(dim).or_default();
        !values.contains(value) && values.insert(value.to_owned())
    }
}

impl Serialize for Seen {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The length up front: compact formats (the projector's stored state) need it.
        let mut seq = serializer.serialize_seq(Some(self.0.values().map(BTreeSet::len).sum()))?;
        for (dim, values) in &self.0 {
            for value in values {
                seq.serialize_element(&(dim, value))?;
            }
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Seen {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut seen = Seen::default();
        for (dim, value) in Vec::<(Dim, String)>::deserialize(deserializer)? {
            seen.0.entry(dim).or_default().insert(value);
        }
        Ok(seen)
    }
}

#[cfg(test)]
mod tests {
    use super::Dim;

    #[test]
    fn every_dimension_is_listed_once_in_order() {
        // A new variant after `Hour` or a missing one breaks this: `ALL` is what the
        // projector closes days over, so a dimension left out would miss its spans.
        assert_eq!(Dim::ALL.len(), Dim::Hour as usize + 1);
        for (i, d) in Dim::ALL.iter().enumerate() {
            assert_eq!(*d as usize, i, "{d:?}");
        }
    }
}
