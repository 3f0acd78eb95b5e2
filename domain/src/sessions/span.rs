//! Spans of local days whose sums a dimension's rollup rows hold: a day, an
//! ISO week (Monday to Sunday) and a calendar month. Every row a day gets is
//! also added to its week's and its month's row, so a breakdown over a date
//! range reads a signed combination of whole spans ([`cover`]) instead of one
//! row per value per day. The counters are additive (visitors are counted per
//! day and value), so a span's row minus a day's row is exactly the rest of
//! the span.
//!
//! Why: a breakdown groups one row per value per term, so its cost is
//! `terms × values`. Any 30 days are at most 10 terms instead of 30, the
//! twelve-month period at most 20 and any 365 days at most 27 instead of 365
//! (`docs/analytics-read.md`).
//!
//! A site's most recent days may still be **open**: the projector adds a day
//! to its week and month only once the day is over ([`cover_open`]), so a
//! live batch writes one row per value instead of three.

use chrono::{Datelike, Duration, Months, NaiveDate};

/// A span of local days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Span {
    /// One local day.
    Day,
    /// Monday to Sunday.
    Week,
    /// The first to the last day of a calendar month.
    Month,
}

impl Span {
    /// The spans a day's counters are added to besides the day itself.
    pub const WIDER_THAN_DAY: [Span; 2] = [Span::Week, Span::Month];

    /// The first day of the span that contains `day`.
    pub fn start(self, day: NaiveDate) -> NaiveDate {
        match self {
            Span::Day => day,
            Span::Week => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
            Span::Month => day.with_day(1).expect("every month has a day 1"),
        }
    }

    /// The last day of the span that starts at `start` (a [`Span::start`]).
    pub fn end(self, start: NaiveDate) -> NaiveDate {
        match self {
            Span::Day => start,
            Span::Week => start + Duration::days(6),
            Span::Month => {
                let next = start.checked_add_months(Months::new(1)).unwrap_or(NaiveDate::MAX);
                next.pred_opt().unwrap_or(next)
            }
        }
    }

    /// The rollup table's marker for a row of this span, kept in its `hour` column: hours
    /// 0–23 are the total row's (the only one read per hour), so negative values are free.
    pub const fn code(self) -> i16 {
        match self {
            Span::Day => -1,
            Span::Week => -2,
            Span::Month => -3,
        }
    }

    /// The next finer span (`None` for a day).
    fn finer(self) -> Option<Span> {
        match self {
            Span::Month => Some(Span::Week),
            Span::Week => Some(Span::Day),
            Span::Day => None,
        }
    }
}

/// One term of a [`cover`]: the rows of the `span` that starts on `start`, added (`sign`
/// 1) or subtracted (−1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    /// Which span.
    pub span: Span,
    /// Its first day.
    pub start: NaiveDate,
    /// 1 or −1.
    pub sign: i8,
}

/// Whole spans whose signed sum is exactly the days `first..=last` (empty when `first` is
/// after `last`), with few terms: whole months and weeks inside the range, and at each edge
/// either the days inside or the whole span minus the days outside, whichever is fewer —
/// with weeks alone where month edges would cost more.
pub fn cover(first: NaiveDate, last: NaiveDate) -> Vec<Term> {
    let mut out = Vec::new();
    cover_with(first, last, Span::Month, 1, NaiveDate::MAX, &mut out);
    out
}

/// [`cover`] for a site whose days from `open_from` on are **open**: not yet added to their
/// week's and month's rows (`None`: no day is). Open days are read as days; a week or month
/// that reaches past `open_from` holds only its days before it, and is used as such.
pub fn cover_open(first: NaiveDate, last: NaiveDate, open_from: Option<NaiveDate>) -> Vec<Term> {
    let Some(open_from) = open_from else { return cover(first, last) };
    let mut out = Vec::new();
    if let Some(closed_last) = open_from.pred_opt() {
        cover_with(first, last.min(closed_last), Span::Month, 1, closed_last, &mut out);
    }
    out.extend(days(first.max(open_from), last).map(|start| Term { span: Span::Day, start, sign: 1 }));
    out
}

/// `limit`: the last day any span holds (the day before the first open day).
fn cover_with(first: NaiveDate, last: NaiveDate, span: Span, sign: i8, limit: NaiveDate, out: &mut Vec<Term>) {
    if first > last {
        return;
    }
    let Some(finer) = span.finer() else {
        out.extend(days(first, last).map(|start| Term { span, start, sign }));
        return;
    };
    let mut with_span = Vec::new();
    let mut start = span.start(first);
    while start <= last {
        let end = span.end(start).min(limit);
        let (inside_first, inside_last) = (start.max(first), end.min(last));
        if (inside_first, inside_last) == (start, end) {
            with_span.push(Term { span, start, sign });
        } else {
            let mut inside = Vec::new();
            cover_with(inside_first, inside_last, finer, sign, limit, &mut inside);
            let mut outside = vec![Term { span, start, sign }];
            if let Some(before) = inside_first.pred_opt() {
                cover_with(start, before, finer, -sign, limit, &mut outside);
            }
            if let Some(after) = inside_last.succ_opt() {
                cover_with(after, end, finer, -sign, limit, &mut outside);
            }
            with_span.extend(if outside.len() < inside.len() { outside } else { inside });
        }
        match end.succ_opt() {
            Some(next) => start = next,
            None => break,
        }
    }
    let mut without = Vec::new();
    cover_with(first, last, finer, sign, limit, &mut without);
    out.extend(if without.len() <= with_span.len() { without } else { with_span });
}

fn days(first: NaiveDate, last: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    first.iter_days().take_while(move |d| *d <= last)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// How many times the terms count each day (0 outside the range when exact).
    fn weights(terms: &[Term]) -> BTreeMap<NaiveDate, i64> {
        weights_open(terms, None)
    }

    /// [`weights`] where a week's or month's row holds only its days before `open_from`.
    fn weights_open(terms: &[Term], open_from: Option<NaiveDate>) -> BTreeMap<NaiveDate, i64> {
        let mut w = BTreeMap::new();
        for t in terms {
            let end = t.span.end(t.start);
            let end = match open_from {
                Some(open) if t.span != Span::Day => end.min(open - Duration::days(1)),
                _ => end,
            };
            for d in days(t.start, end) {
                *w.entry(d).or_insert(0) += i64::from(t.sign);
            }
        }
        w.retain(|_, v| *v != 0);
        w
    }

    fn assert_exact(first: NaiveDate, last: NaiveDate) -> usize {
        let terms = cover(first, last);
        let want: BTreeMap<NaiveDate, i64> = days(first, last).map(|d| (d, 1)).collect();
        assert_eq!(weights(&terms), want, "{first}..={last}: {terms:?}");
        for t in &terms {
            assert_eq!(t.span.start(t.start), t.start, "{t:?} does not start a span");
        }
        terms.len()
    }

    #[test]
    fn spans_start_and_end_where_the_calendar_says() {
        let sunday = date(2026, 11, 22);
        assert_eq!(Span::Week.start(sunday), date(2026, 11, 16));
        assert_eq!(Span::Week.end(date(2026, 11, 16)), sunday);
        assert_eq!(Span::Month.end(date(2024, 2, 1)), date(2024, 2, 29));
        assert_eq!(Span::Month.end(date(2026, 12, 1)), date(2026, 12, 31));
        assert_eq!(Span::Day.end(sunday), sunday);
    }

    #[test]
    fn every_range_of_two_years_is_covered_exactly() {
        let origin = date(2023, 12, 20);
        for offset in 0..420 {
            let first = origin + Duration::days(offset);
            for len in [1, 2, 3, 6, 7, 8, 13, 14, 27, 28, 29, 30, 31, 45, 60, 89, 90, 180, 365, 400] {
                assert_exact(first, first + Duration::days(len - 1));
            }
        }
    }

    #[test]
    fn thirty_days_are_at_most_ten_terms_and_twelve_months_at_most_twenty() {
        let origin = date(2024, 1, 1);
        let most = |range: &dyn Fn(NaiveDate) -> (NaiveDate, NaiveDate)| {
            (0..800)
                .map(|o| range(origin + Duration::days(o)))
                .map(|(first, last)| assert_exact(first, last))
                .max()
                .unwrap()
        };
        assert_eq!(most(&|first| (first, first + Duration::days(29))), 10);
        assert_eq!(most(&|first| (first, first + Duration::days(364))), 27);
        // The `12mo` period: eleven whole months and this month up to today.
        let twelve_months =
            |today: NaiveDate| (Span::Month.start(today).checked_sub_months(Months::new(11)).unwrap(), today);
        assert_eq!(most(&twelve_months), 20);
        // A whole month is one term; the benchmark's 30 days up to 2026-11-22 are six.
        assert_eq!(assert_exact(date(2026, 10, 1), date(2026, 10, 31)), 1);
        assert_eq!(assert_exact(date(2026, 10, 24), date(2026, 11, 22)), 6);
    }

    #[test]
    fn an_empty_range_has_no_terms() {
        assert!(cover(date(2026, 1, 2), date(2026, 1, 1)).is_empty());
        assert!(cover_open(date(2026, 1, 2), date(2026, 1, 1), Some(date(2026, 1, 1))).is_empty());
    }

    #[test]
    fn open_days_are_read_as_days_and_spans_as_holding_only_closed_days() {
        let origin = date(2025, 12, 1);
        for offset in (0..120).step_by(3) {
            let first = origin + Duration::days(offset);
            for len in [1, 2, 7, 8, 29, 30, 31, 45, 90] {
                let last = first + Duration::days(len - 1);
                // From before the range to after it, and every day of it in between.
                for open in -3..len + 3 {
                    let open_from = first + Duration::days(open);
                    let terms = cover_open(first, last, Some(open_from));
                    let want: BTreeMap<NaiveDate, i64> = days(first, last).map(|d| (d, 1)).collect();
                    assert_eq!(weights_open(&terms, Some(open_from)), want, "{first}..={last} open from {open_from}");
                    for t in &terms {
                        assert_eq!(t.span.start(t.start), t.start, "{t:?} does not start a span");
                        assert!(t.span == Span::Day || t.start < open_from, "{t:?} holds no closed day");
                    }
                }
            }
        }
        // The 30 days up to today with only today open: at most 9 terms (10 with none open).
        let most = (0..800)
            .map(|o| origin + Duration::days(o))
            .map(|today| cover_open(today - Duration::days(29), today, Some(today)).len())
            .max();
        assert_eq!(most, Some(9));
        assert_eq!(
            cover_open(date(2026, 10, 1), date(2026, 10, 31), None),
            cover(date(2026, 10, 1), date(2026, 10, 31))
        );
    }
}
