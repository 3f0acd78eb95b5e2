//! Periods to date ranges, and the buckets of a range.

use chrono::{Datelike, Duration, Months, NaiveDate};

use super::model::{DateRange, Interval, Period};

fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).expect("day 1 exists")
}

/// The range a period covers, given the site's today.
pub fn resolve(period: Period, today: NaiveDate) -> DateRange {
    let back = |days: i64| DateRange { start: today - Duration::days(days - 1), end: today };
    let months = |n: u32| DateRange {
        start: first_of_month(today).checked_sub_months(Months::new(n - 1)).unwrap_or(today),
        end: today,
    };
    match period {
        Period::Day => back(1),
        Period::SevenDays => back(7),
        Period::ThirtyDays => back(30),
        Period::Month => months(1),
        Period::SixMonths => months(6),
        Period::TwelveMonths => months(12),
        Period::Custom(r) => r,
    }
}

/// Hour for one day, month for six months or more, else day.
pub fn default_interval(range: DateRange) -> Interval {
    match range.days() {
        1 => Interval::Hour,
        d if d >= 180 => Interval::Month,
        _ => Interval::Day,
    }
}

/// Every bucket label of `range`, in order.
pub fn buckets(range: DateRange, interval: Interval) -> Vec<String> {
    let mut out = Vec::new();
    let mut day = range.start;
    while day <= range.end {
        let label = match interval {
            Interval::Hour => {
                out.extend((0..24).map(|h| format!("{}T{h:02}:00", day.format("%Y-%m-%d"))));
                None
            }
            Interval::Day => Some(day),
            Interval::Week => {
                Some((day - Duration::days(i64::from(day.weekday().num_days_from_monday()))).max(range.start))
            }
            Interval::Month => Some(first_of_month(day).max(range.start)),
        };
        if let Some(l) = label {
            let l = l.format("%Y-%m-%d").to_string();
            if out.last() != Some(&l) {
                out.push(l);
            }
        }
        day = match day.succ_opt() {
            Some(d) => d,
            None => break,
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn periods_resolve_relative_to_the_sites_today() {
        let today = d("2026-03-15");
        assert_eq!(resolve(Period::Day, today), DateRange { start: today, end: today });
        assert_eq!(resolve(Period::SevenDays, today).start, d("2026-03-09"));
        assert_eq!(resolve(Period::ThirtyDays, today).start, d("2026-02-14"));
        assert_eq!(resolve(Period::Month, today).start, d("2026-03-01"));
        assert_eq!(resolve(Period::SixMonths, today).start, d("2025-10-01"));
        assert_eq!(resolve(Period::TwelveMonths, today).start, d("2025-04-01"));
        let r = DateRange { start: d("2026-03-10"), end: d("2026-03-16") };
        assert_eq!(r.previous(), DateRange { start: d("2026-03-03"), end: d("2026-03-09") });
    }

    #[test]
    fn buckets_cover_the_range_clipped() {
        let r = DateRange { start: d("2026-03-04"), end: d("2026-04-02") };
        assert_eq!(buckets(r, Interval::Month), ["2026-03-04", "2026-04-01"]);
        assert_eq!(buckets(r, Interval::Week)[..2], ["2026-03-04", "2026-03-09"]);
        assert_eq!(buckets(r, Interval::Day).len(), 30);
        let one = DateRange { start: d("2026-03-04"), end: d("2026-03-04") };
        assert_eq!(buckets(one, Interval::Hour)[23], "2026-03-04T23:00");
    }
}
