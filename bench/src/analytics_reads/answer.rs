//! What every side answers, and the check that they answer the same before any latency is
//! compared: a benchmark must never compare different answers.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::latency::{Latencies, LatencySummary};

/// The local days asked about (UTC sites), both ends included.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Range {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl Range {
    pub fn from(&self) -> DateTime<Utc> {
        self.first.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
    }

    /// Exclusive end: the midnight after the last day.
    pub fn to(&self) -> DateTime<Utc> {
        (self.last + chrono::Duration::days(1)).and_hms_opt(0, 0, 0).expect("midnight").and_utc()
    }
}

/// The aggregate, with the API's rounding (bounce rate whole percent, duration whole seconds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Totals {
    pub visitors: u64,
    pub visits: u64,
    pub pageviews: u64,
    pub bounce_rate: f64,
    pub visit_duration: f64,
}

impl Totals {
    pub fn from_sums(visitors: u64, visits: u64, pageviews: u64, bounces: u64, duration_secs: f64) -> Self {
        let per_visit = |x: f64| if visits > 0 { x / visits as f64 } else { 0.0 };
        Totals {
            visitors,
            visits,
            pageviews,
            bounce_rate: (per_visit(bounces as f64) * 100.0).round(),
            visit_duration: per_visit(duration_secs).round(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TopPage {
    pub page: String,
    pub visitors: u64,
    pub pageviews: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Answer {
    pub totals: Totals,
    pub pages: Vec<TopPage>,
}

impl Answer {
    /// The differences from `other` (named `who`); empty when they agree. Counts must be
    /// equal; the rounded ratios may differ by one unit where the sides round a tie apart.
    pub fn differences(&self, who: &str, other: &Answer) -> Vec<String> {
        let (a, b) = (&self.totals, &other.totals);
        let mut out = Vec::new();
        for (name, x, y) in [
            ("visitors", a.visitors, b.visitors),
            ("visits", a.visits, b.visits),
            ("pageviews", a.pageviews, b.pageviews),
        ] {
            if x != y {
                out.push(format!("{name}: tally {x}, {who} {y}"));
            }
        }
        for (name, x, y) in
            [("bounce_rate", a.bounce_rate, b.bounce_rate), ("visit_duration", a.visit_duration, b.visit_duration)]
        {
            if (x - y).abs() > 1.0 {
                out.push(format!("{name}: tally {x}, {who} {y}"));
            }
        }
        if self.pages != other.pages {
            out.push(format!("top pages: tally {:?}, {who} {:?}", self.pages, other.pages));
        }
        out
    }
}

/// Per-query latencies of one side and its last answer.
#[derive(Debug, Default)]
pub struct Timed {
    pub aggregate: Vec<Duration>,
    pub breakdown: Vec<Duration>,
    pub answer: Option<Answer>,
}

/// The summary of one side, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub name: String,
    pub aggregate: LatencySummary,
    pub breakdown: LatencySummary,
    pub answer: Answer,
}

impl Side {
    pub fn new(name: &str, timed: Timed) -> anyhow::Result<Self> {
        let summary = |d: &[Duration]| {
            let mut l = Latencies::default();
            d.iter().for_each(|d| l.record(*d));
            l.summary()
        };
        let answer = timed.answer.ok_or_else(|| anyhow::anyhow!("{name} answered nothing"))?;
        Ok(Side {
            name: name.to_owned(),
            aggregate: summary(&timed.aggregate),
            breakdown: summary(&timed.breakdown),
            answer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(visitors: u64) -> Answer {
        Answer {
            totals: Totals::from_sums(visitors, 10, 30, 4, 600.0),
            pages: vec![TopPage { page: "/".into(), visitors, pageviews: 30 }],
        }
    }

    #[test]
    fn equal_answers_agree_and_a_different_count_is_named() {
        assert!(answer(5).differences("naive", &answer(5)).is_empty());
        let diff = answer(5).differences("naive", &answer(6));
        assert_eq!(diff.len(), 2, "{diff:?}");
        assert!(diff[0].starts_with("visitors: tally 5, naive 6"), "{diff:?}");
    }

    #[test]
    fn totals_round_like_the_api() {
        let t = Totals::from_sums(1, 3, 5, 1, 100.0);
        assert_eq!((t.bounce_rate, t.visit_duration), (33.0, 33.0));
    }
}
