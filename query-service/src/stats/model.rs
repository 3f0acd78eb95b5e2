//! What a statistics request asks for, validated, transport-free.

use chrono::NaiveDate;

/// A dimension to filter on or break down by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dimension {
    Page,
    EntryPage,
    ExitPage,
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
    EventName,
    /// A custom property, by key.
    Prop(String),
}

impl Dimension {
    /// REST names (`prop` needs its key separately).
    pub fn parse(name: &str) -> Option<Dimension> {
        Some(match name {
            "page" => Dimension::Page,
            "entry_page" => Dimension::EntryPage,
            "exit_page" => Dimension::ExitPage,
            "source" => Dimension::Source,
            "referrer" => Dimension::Referrer,
            "utm_source" => Dimension::UtmSource,
            "utm_medium" => Dimension::UtmMedium,
            "utm_campaign" => Dimension::UtmCampaign,
            "utm_content" => Dimension::UtmContent,
            "utm_term" => Dimension::UtmTerm,
            "device" => Dimension::Device,
            "browser" => Dimension::Browser,
            "os" => Dimension::Os,
            "country" => Dimension::Country,
            "event_name" => Dimension::EventName,
            _ => return None,
        })
    }

    /// The session column holding a session-level dimension; `None` for
    /// event-level ones (page, event name, props).
    pub fn session_column(&self) -> Option<&'static str> {
        Some(match self {
            Dimension::EntryPage => "entry_page",
            Dimension::ExitPage => "exit_page",
            Dimension::Source => "source",
            Dimension::Referrer => "referrer",
            Dimension::UtmSource => "utm_source",
            Dimension::UtmMedium => "utm_medium",
            Dimension::UtmCampaign => "utm_campaign",
            Dimension::UtmContent => "utm_content",
            Dimension::UtmTerm => "utm_term",
            Dimension::Device => "device",
            Dimension::Browser => "browser",
            Dimension::Os => "os",
            Dimension::Country => "country",
            Dimension::Page | Dimension::EventName | Dimension::Prop(_) => return None,
        })
    }

    /// How an empty value is shown (and may be named in filters).
    pub fn empty_label(&self) -> &'static str {
        match self {
            Dimension::Source | Dimension::Referrer => "Direct / None",
            _ => "(none)",
        }
    }
}

/// A filter's comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Is,
    IsNot,
    Contains,
}

/// A condition on a dimension; filters combine with AND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub dimension: Dimension,
    pub operator: Operator,
    pub values: Vec<String>,
}

/// A conversion goal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Goal {
    Page(String),
    Event(String),
}

/// An inclusive range of local dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl DateRange {
    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days() + 1
    }

    /// The range of as many days that ends the day before this one starts.
    pub fn previous(&self) -> DateRange {
        let end = self.start.pred_opt().unwrap_or(self.start);
        DateRange { start: end - chrono::Duration::days(self.days() - 1), end }
    }
}

/// A time series' bucket size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Hour,
    Day,
    Week,
    Month,
}

/// The order of breakdown rows (ties by value, ascending).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Visitors,
    Visits,
    Pageviews,
    Events,
    Value,
}

/// The request parts every statistics call shares.
#[derive(Debug, Clone)]
pub struct Scope {
    pub site: uuid::Uuid,
    pub period: Period,
    pub filters: Vec<Filter>,
    pub goal: Option<Goal>,
    pub compare_previous: bool,
    /// Waited for once, by [`Reads::authorize`](crate::read::Reads::authorize).
    pub min_position: Option<u64>,
}

/// The reporting period, resolved against the site's "today".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    SevenDays,
    ThirtyDays,
    Month,
    SixMonths,
    TwelveMonths,
    Custom(DateRange),
}

/// The raw counts of a bucket or row; the API's metrics derive from them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub visitors: i64,
    pub visits: i64,
    pub pageviews: i64,
    pub events: i64,
    /// Sessions the bounce rate is over (those entering on the filtered
    /// page when a page filter applies; else every visit).
    pub bounce_visits: i64,
    pub bounces: i64,
    pub duration_ms: i64,
    pub converted: i64,
}

/// The API's metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Metrics {
    pub visitors: u64,
    pub visits: u64,
    pub pageviews: u64,
    pub views_per_visit: f64,
    /// 0–100, unrounded (REST rounds to a whole percent).
    pub bounce_rate: f64,
    /// Seconds, rounded.
    pub visit_duration: f64,
    pub events: u64,
    /// 0–100, unrounded.
    pub conversion_rate: f64,
}

fn ratio(a: i64, b: i64) -> f64 {
    if b <= 0 { 0.0 } else { a as f64 / b as f64 }
}

impl From<Counts> for Metrics {
    fn from(c: Counts) -> Self {
        let u = |v: i64| u64::try_from(v).unwrap_or(0);
        Metrics {
            visitors: u(c.visitors),
            visits: u(c.visits),
            pageviews: u(c.pageviews),
            views_per_visit: (ratio(c.pageviews, c.visits) * 100.0).round() / 100.0,
            bounce_rate: ratio(c.bounces, c.bounce_visits) * 100.0,
            visit_duration: (ratio(c.duration_ms, c.visits) / 1000.0).round(),
            events: u(c.events),
            conversion_rate: ratio(c.converted, c.visitors) * 100.0,
        }
    }
}
