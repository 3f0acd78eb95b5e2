//! Applying a batch of analytics events in memory: sessionise each event on
//! its visitor-day's state and sum the signed deltas per rollup key, so the
//! batch writes one row per key (sorted) whatever its size.
//!
//! Hot path: a batch sums tens of deltas per event, so rollup keys are plain
//! copyable values (the dimension value interned to an index) in a hash map,
//! sorted once when written; the domain hands deltas over without allocating.

use foldhash::fast::RandomState;

use chrono::NaiveDate;
use tally_domain::sessions::{Dim, Metric, Rules, Session, Span, VisitorDay};
use uuid::Uuid;

/// The fold's maps: keyed by values of this batch, so a fast hasher is safe.
type HashMap<K, V> = std::collections::HashMap<K, V, RandomState>;

use crate::{analytics::decode::AnalyticsEvent, fold::Verdict};

/// (site, local date, visitor id).
pub type DayKey = (Uuid, NaiveDate, String);

/// A rollup row's key: (site, dim, date, hour, value index in [`Values`]).
pub type RollupKey = (Uuid, Dim, NaiveDate, i16, u32);

/// The dimension values of a batch, each stored once.
#[derive(Debug, Default)]
pub struct Values {
    index: HashMap<Box<str>, u32>,
    values: Vec<Box<str>>,
}

impl Values {
    pub fn intern(&mut self, value: &str) -> u32 {
        if let Some(i) = self.index.get(value) {
            return *i;
        }
        let i = u32::try_from(self.values.len()).expect("fewer than 2^32 values in a batch");
        self.values.push(value.into());
        self.index.insert(value.into(), i);
        i
    }

    pub fn get(&self, i: u32) -> &str {
        &self.values[i as usize]
    }
}

/// The counters of a rollup row, in the table's column order: visitors,
/// hour_visitors, visits, bounces, duration_ms, pageviews, events, entries.
pub type Counters = [i64; 8];

/// `entries` of a page row: the visits that entered on the page (a copy of
/// the entry-page row's visits), so a page breakdown, whose bounce rate is
/// over the visits that entered on each page, reads the page rows alone.
const ENTRIES: usize = 7;

fn slot(m: Metric) -> usize {
    match m {
        Metric::Visitors => 0,
        Metric::HourVisitors => 1,
        Metric::Visits => 2,
        Metric::Bounces => 3,
        Metric::DurationMs => 4,
        Metric::Pageviews => 5,
        Metric::Events => 6,
    }
}

/// The `hour` of every rollup row but the total row's, as the fold writes them: whole days
/// (their weeks' and months' rows are added by [`AnalyticsFold::seal`]).
pub const WHOLE_DAY: i16 = Span::Day.code();

/// The hour a delta's row is keyed by. Only the total row is ever read per hour (hourly time
/// series); the other dimensions are only summed over whole days (breakdowns, conversions),
/// so they get one row per day: a 30-day page breakdown then reads up to 24x fewer rows.
pub fn rollup_hour(dim: Dim, hour: u8) -> i16 {
    if dim == Dim::Total { i16::from(hour) } else { WHOLE_DAY }
}

/// A visitor-day as loaded and as changed.
#[derive(Debug, Clone, Default)]
pub struct Day {
    pub state: VisitorDay,
    pub last_position: i64,
    /// Changed by this batch (so its current session is written too).
    pub dirty: bool,
}

/// One `analytics_events` row: the event and its session's number.
#[derive(Debug, Clone)]
pub struct EventRow<'a> {
    pub event: &'a AnalyticsEvent,
    pub seq: i32,
}

/// Everything a batch writes.
#[derive(Debug, Default)]
pub struct AnalyticsFold<'a> {
    pub days: HashMap<DayKey, Day>,
    pub rollup: HashMap<RollupKey, Counters>,
    pub values: Values,
    /// Sessions the batch changed and then closed (a later event of the
    /// visitor-day started a new one); the current sessions are in `days`.
    pub closed: Vec<(DayKey, Session)>,
    pub events: Vec<EventRow<'a>>,
    /// The first open day of each site that has one (`analytics_open`): [`Self::seal`] adds
    /// only the days before it to their weeks and months. A site not here has none open.
    pub open_from: HashMap<Uuid, NaiveDate>,
}

impl<'a> AnalyticsFold<'a> {
    pub fn apply(&mut self, rules: &Rules, e: &'a AnalyticsEvent) -> Verdict {
        let key = e.key();
        let day = self.days.entry(key.clone()).or_default();
        if e.position <= day.last_position {
            return Verdict::Duplicate;
        }
        let (rollup, values) = (&mut self.rollup, &mut self.values);
        let closed = day.state.step_into(rules, &e.hit, &mut |bucket, dim, value, row| {
            // Entry- and exit-page breakdowns are answered from the sessions (their rows
            // would lack events), so their rows are not stored (an exit page moves with
            // every pageview: two rows written per pageview for nobody). Only the entry
            // visits are kept, on the page row.
            let (dim, only) = match dim {
                Dim::EntryPage => (Dim::Page, Some(Metric::Visits)),
                Dim::ExitPage => return,
                dim => (dim, None),
            };
            if only.is_some_and(|m| !row.iter().any(|(metric, _)| *metric == m)) {
                return;
            }
            let k = (e.site_id, dim, bucket.date, rollup_hour(dim, bucket.hour), values.intern(value));
            let counters = rollup.entry(k).or_default();
            for &(metric, amount) in row {
                match only {
                    Some(m) if m == metric => counters[ENTRIES] += amount,
                    Some(_) => {}
                    None => counters[slot(metric)] += amount,
                }
            }
        });
        // A closed session untouched by this batch is already stored as it is.
        if let Some(closed) = closed.filter(|_| day.dirty) {
            self.closed.push((key.clone(), closed));
        }
        day.last_position = e.position;
        day.dirty = true;
        let seq = day.state.session.as_ref().expect("a step always leaves a current session").seq;
        self.events.push(EventRow { event: e, seq: seq as i32 });
        Verdict::Applied
    }

    /// Makes the rollup rows ready to write, once, just before they are: each day row's
    /// counters are also added to its week's and its month's row (a breakdown reads whole
    /// spans, `tally_domain::sessions::span`) unless the day is still open (`open_from`: the
    /// projector adds it once it is over, `closing`), then rows whose deltas cancelled out
    /// are dropped. Done per row rather than per delta, so the fold's hot path is unchanged.
    pub fn seal(&mut self) {
        let open_from = &self.open_from;
        let wider: Vec<(RollupKey, Counters)> = self
            .rollup
            .iter()
            .filter(|(k, _)| k.3 == WHOLE_DAY && open_from.get(&k.0).is_none_or(|open| k.2 < *open))
            .flat_map(|(&(site, dim, date, _, value), c)| {
                Span::WIDER_THAN_DAY.map(|span| ((site, dim, span.start(date), span.code(), value), *c))
            })
            .collect();
        for (key, counters) in wider {
            let row = self.rollup.entry(key).or_default();
            for (sum, v) in row.iter_mut().zip(counters) {
                *sum += v;
            }
        }
        self.rollup.retain(|_, c| c.iter().any(|v| *v != 0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_adds_each_day_row_to_its_week_and_month_and_drops_empty_rows() {
        let site = Uuid::nil();
        let (sun, mon) = (NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(), NaiveDate::from_ymd_opt(2026, 11, 2).unwrap());
        let mut fold = AnalyticsFold::default();
        let page = fold.values.intern("/");
        let mut c = Counters::default();
        c[slot(Metric::Pageviews)] = 2;
        fold.rollup.insert((site, Dim::Page, sun, WHOLE_DAY, page), c);
        fold.rollup.insert((site, Dim::Page, mon, WHOLE_DAY, page), c);
        fold.rollup.insert((site, Dim::Total, mon, 9, page), c);
        fold.rollup.insert((site, Dim::Source, mon, WHOLE_DAY, page), Counters::default());
        fold.seal();
        let get = |date, span: Span| fold.rollup.get(&(site, Dim::Page, date, span.code(), page)).copied();
        let (oct26, nov) =
            (NaiveDate::from_ymd_opt(2026, 10, 26).unwrap(), NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
        assert_eq!(get(oct26, Span::Week).map(|c| c[5]), Some(2), "Sunday's week started in October");
        assert_eq!(get(mon, Span::Week).map(|c| c[5]), Some(2));
        assert_eq!(get(nov, Span::Month).map(|c| c[5]), Some(4), "both days are in November");
        assert_eq!(get(sun, Span::Day).map(|c| c[5]), Some(2));
        // The hourly total row gets no spans; the empty source row is dropped.
        assert_eq!(fold.rollup.len(), 6, "{:?}", fold.rollup.keys().collect::<Vec<_>>());
    }

    #[test]
    fn an_open_day_is_written_alone_and_a_closed_one_with_its_spans() {
        let (site, other) = (Uuid::nil(), Uuid::max());
        let (sun, mon) = (NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(), NaiveDate::from_ymd_opt(2026, 11, 2).unwrap());
        let mut fold = AnalyticsFold::default();
        let page = fold.values.intern("/");
        let mut c = Counters::default();
        c[slot(Metric::Pageviews)] = 1;
        for s in [site, other] {
            fold.rollup.insert((s, Dim::Page, sun, WHOLE_DAY, page), c);
            fold.rollup.insert((s, Dim::Page, mon, WHOLE_DAY, page), c);
        }
        fold.open_from.insert(site, mon);
        fold.seal();
        let spans = |s: Uuid| {
            let mut v: Vec<_> = fold
                .rollup
                .iter()
                .filter(|(k, _)| k.0 == s && k.3 != WHOLE_DAY)
                .map(|(k, c)| (k.2, k.3, c[5]))
                .collect();
            v.sort();
            v
        };
        let (oct26, nov) =
            (NaiveDate::from_ymd_opt(2026, 10, 26).unwrap(), NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
        // Monday is open: only Sunday is in its week and month.
        assert_eq!(spans(site), vec![(oct26, Span::Week.code(), 1), (nov, Span::Month.code(), 1)]);
        // A site without open days gets both.
        assert_eq!(
            spans(other),
            vec![(oct26, Span::Week.code(), 1), (nov, Span::Month.code(), 2), (mon, Span::Week.code(), 1)]
        );
        assert_eq!(
            fold.rollup.get(&(site, Dim::Page, mon, WHOLE_DAY, page)).map(|c| c[5]),
            Some(1),
            "the day row stays"
        );
    }

    #[test]
    fn only_the_total_row_is_kept_per_hour() {
        assert_eq!(rollup_hour(Dim::Total, 13), 13);
        assert_eq!(rollup_hour(Dim::Page, 13), WHOLE_DAY);
        assert_eq!(rollup_hour(Dim::Source, 0), WHOLE_DAY);
    }
}
