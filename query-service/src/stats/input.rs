//! Validation of statistics requests, shared by gRPC and REST; every
//! failure names the field as the client spelled it.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::NaiveDate;
use tally_platform::error::ApiError;
use tally_proto::v1;

use super::model::{DateRange, Dimension, Filter, Goal, Interval, Operator, Order, Period};

/// The longest custom range served (ten years of days).
const MAX_DAYS: i64 = 3660;
/// Limits on filter input, so one request cannot build a huge statement.
const MAX_FILTERS: usize = 20;
const MAX_VALUES: usize = 100;
const MAX_VALUE_BYTES: usize = 2000;

pub const DEFAULT_ROWS: usize = 100;
pub const MAX_ROWS: usize = 1000;

fn date(raw: &str, field: &str) -> Result<NaiveDate, ApiError> {
    if raw.is_empty() {
        return Err(ApiError::field(field, "is required"));
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|_| raw.len() == 10)
        .ok_or_else(|| ApiError::field(field, format!("must be a date YYYY-MM-DD, got {:?}", clip(raw))))
}

/// A custom range; `prefix` is `date_range.` in gRPC and empty in REST.
pub fn date_range(start: &str, end: &str, prefix: &str) -> Result<DateRange, ApiError> {
    let start_field = format!("{prefix}start_date");
    let end_field = format!("{prefix}end_date");
    let s = date(start, &start_field)?;
    let e = date(end, &end_field)?;
    if e < s {
        return Err(ApiError::field(end_field, format!("must not be before {start_field} ({s})")));
    }
    if (e - s).num_days() + 1 > MAX_DAYS {
        return Err(ApiError::field(end_field, format!("the range may span at most {MAX_DAYS} days")));
    }
    Ok(DateRange { start: s, end: e })
}

/// The gRPC period and range.
pub fn grpc_period(period: i32, range: Option<&v1::DateRange>) -> Result<Period, ApiError> {
    use v1::Period as P;
    let p = P::try_from(period).map_err(|_| ApiError::field("period", format!("{period} is not a Period")))?;
    let simple = match p {
        P::Unspecified | P::ThirtyDays => Period::ThirtyDays,
        P::Day => Period::Day,
        P::SevenDays => Period::SevenDays,
        P::Month => Period::Month,
        P::SixMonths => Period::SixMonths,
        P::TwelveMonths => Period::TwelveMonths,
        P::Custom => {
            let r = range.ok_or_else(|| ApiError::field("date_range", "is required with PERIOD_CUSTOM"))?;
            return Ok(Period::Custom(date_range(&r.start_date, &r.end_date, "date_range.")?));
        }
    };
    if range.is_some() {
        return Err(ApiError::field("date_range", "must be unset unless period is PERIOD_CUSTOM"));
    }
    Ok(simple)
}

/// The REST period (`day`, `7d`, `30d`, `month`, `6mo`, `12mo`, `custom`).
pub fn rest_period(period: Option<&str>, start: Option<&str>, end: Option<&str>) -> Result<Period, ApiError> {
    let simple = match period.unwrap_or("30d") {
        "day" => Period::Day,
        "7d" => Period::SevenDays,
        "30d" => Period::ThirtyDays,
        "month" => Period::Month,
        "6mo" => Period::SixMonths,
        "12mo" => Period::TwelveMonths,
        "custom" => return Ok(Period::Custom(date_range(start.unwrap_or(""), end.unwrap_or(""), "")?)),
        other => {
            return Err(ApiError::field(
                "period",
                format!("must be one of day, 7d, 30d, month, 6mo, 12mo, custom; got {:?}", clip(other)),
            ));
        }
    };
    for (name, v) in [("start_date", start), ("end_date", end)] {
        if v.is_some() {
            return Err(ApiError::field(name, "is only allowed with period=custom"));
        }
    }
    Ok(simple)
}

fn values(values: Vec<String>, field: &str) -> Result<Vec<String>, ApiError> {
    if values.is_empty() {
        return Err(ApiError::field(field, "needs at least one value"));
    }
    if values.len() > MAX_VALUES {
        return Err(ApiError::field(field, format!("at most {MAX_VALUES} values")));
    }
    if values.iter().any(|v| v.len() > MAX_VALUE_BYTES) {
        return Err(ApiError::field(field, format!("each value is at most {MAX_VALUE_BYTES} bytes")));
    }
    Ok(values)
}

/// A gRPC dimension with its prop key.
pub fn grpc_dimension(dim: i32, prop_key: &str, field: &str, key_field: &str) -> Result<Dimension, ApiError> {
    use v1::Dimension as D;
    let d = D::try_from(dim).map_err(|_| ApiError::field(field, format!("{dim} is not a Dimension")))?;
    let dimension = match d {
        D::Unspecified => return Err(ApiError::field(field, "is required")),
        D::Page => Dimension::Page,
        D::EntryPage => Dimension::EntryPage,
        D::ExitPage => Dimension::ExitPage,
        D::Source => Dimension::Source,
        D::Referrer => Dimension::Referrer,
        D::UtmSource => Dimension::UtmSource,
        D::UtmMedium => Dimension::UtmMedium,
        D::UtmCampaign => Dimension::UtmCampaign,
        D::UtmContent => Dimension::UtmContent,
        D::UtmTerm => Dimension::UtmTerm,
        D::Device => Dimension::Device,
        D::Browser => Dimension::Browser,
        D::Os => Dimension::Os,
        D::Country => Dimension::Country,
        D::EventName => Dimension::EventName,
        D::Prop => {
            if prop_key.is_empty() {
                return Err(ApiError::field(key_field, "is required with DIMENSION_PROP"));
            }
            if prop_key.len() > 300 {
                return Err(ApiError::field(key_field, "is at most 300 bytes"));
            }
            return Ok(Dimension::Prop(prop_key.to_owned()));
        }
    };
    if !prop_key.is_empty() {
        return Err(ApiError::field(key_field, "must be empty unless the dimension is DIMENSION_PROP"));
    }
    Ok(dimension)
}

/// A REST dimension: a name from [`Dimension::parse`], or `prop` with `prop_key`,
/// or (in filters) `prop.<key>`.
pub fn rest_dimension(name: &str, prop_key: Option<&str>, field: &str) -> Result<Dimension, ApiError> {
    if let Some(key) = name.strip_prefix("prop.") {
        return grpc_dimension(v1::Dimension::Prop as i32, key, field, field);
    }
    if name == "prop" {
        return grpc_dimension(v1::Dimension::Prop as i32, prop_key.unwrap_or(""), field, "prop_key");
    }
    if prop_key.is_some() {
        return Err(ApiError::field("prop_key", "is only allowed with dimension=prop"));
    }
    Dimension::parse(name).ok_or_else(|| {
        ApiError::field(
            field,
            format!(
                "must be one of page, entry_page, exit_page, source, referrer, utm_source, utm_medium, \
                 utm_campaign, utm_content, utm_term, device, browser, os, country, event_name, prop; got {:?}",
                clip(name)
            ),
        )
    })
}

/// gRPC filters.
pub fn grpc_filters(filters: Vec<v1::Filter>) -> Result<Vec<Filter>, ApiError> {
    if filters.len() > MAX_FILTERS {
        return Err(ApiError::field("filters", format!("at most {MAX_FILTERS} filters")));
    }
    filters
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            use v1::filter::Operator as O;
            let dimension = grpc_dimension(
                f.dimension,
                &f.prop_key,
                &format!("filters[{i}].dimension"),
                &format!("filters[{i}].prop_key"),
            )?;
            let operator = match O::try_from(f.operator) {
                Ok(O::Unspecified | O::Is) => Operator::Is,
                Ok(O::IsNot) => Operator::IsNot,
                Ok(O::Contains) => Operator::Contains,
                Err(_) => {
                    return Err(ApiError::field(
                        format!("filters[{i}].operator"),
                        format!("{} is not an Operator", f.operator),
                    ));
                }
            };
            Ok(Filter { dimension, operator, values: values(f.values, &format!("filters[{i}].values"))? })
        })
        .collect()
}

/// REST filters: `filter=<dimension>:<is|is_not|contains>:<value>[|<value>…]`.
pub fn rest_filters(raw: &[String]) -> Result<Vec<Filter>, ApiError> {
    if raw.len() > MAX_FILTERS {
        return Err(ApiError::field("filter", format!("at most {MAX_FILTERS} filters")));
    }
    raw.iter()
        .map(|f| {
            let mut parts = f.splitn(3, ':');
            let (Some(dim), Some(op), Some(vals)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(ApiError::field(
                    "filter",
                    format!("must be <dimension>:<is|is_not|contains>:<value>[|<value>…], got {:?}", clip(f)),
                ));
            };
            let dimension = rest_dimension(dim, None, "filter")?;
            let operator = match op {
                "is" => Operator::Is,
                "is_not" => Operator::IsNot,
                "contains" => Operator::Contains,
                other => {
                    return Err(ApiError::field(
                        "filter",
                        format!("the operator must be is, is_not or contains, got {:?}", clip(other)),
                    ));
                }
            };
            Ok(Filter { dimension, operator, values: values(vals.split('|').map(str::to_owned).collect(), "filter")? })
        })
        .collect()
}

/// A gRPC goal (absent or empty = none).
pub fn grpc_goal(goal: Option<v1::Goal>) -> Result<Option<Goal>, ApiError> {
    use v1::goal::Kind;
    match goal.and_then(|g| g.kind) {
        None => Ok(None),
        Some(Kind::PagePath(p)) if p.is_empty() => Err(ApiError::field("goal.page_path", "must not be empty")),
        Some(Kind::EventName(n)) if n.is_empty() => Err(ApiError::field("goal.event_name", "must not be empty")),
        Some(Kind::PagePath(p)) => Ok(Some(Goal::Page(p))),
        Some(Kind::EventName(n)) => Ok(Some(Goal::Event(n))),
    }
}

/// A REST goal: `page:/path` or `event:name`.
pub fn rest_goal(raw: Option<&str>) -> Result<Option<Goal>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    match raw.split_once(':') {
        Some(("page", p)) if !p.is_empty() => Ok(Some(Goal::Page(p.to_owned()))),
        Some(("event", n)) if !n.is_empty() => Ok(Some(Goal::Event(n.to_owned()))),
        _ => Err(ApiError::field("goal", format!("must be page:<path> or event:<name>, got {:?}", clip(raw)))),
    }
}

/// The interval, checked against the period (hours for at most 7 days).
pub fn interval(interval: Option<Interval>, period: Period, field: &str) -> Result<Option<Interval>, ApiError> {
    if interval == Some(Interval::Hour) {
        let short = match period {
            Period::Day | Period::SevenDays => true,
            Period::Custom(r) => r.days() <= 7,
            _ => false,
        };
        if !short {
            return Err(ApiError::field(field, "hourly buckets are only available for ranges of at most 7 days"));
        }
    }
    Ok(interval)
}

pub fn grpc_interval(raw: i32) -> Result<Option<Interval>, ApiError> {
    use v1::Interval as I;
    Ok(match I::try_from(raw).map_err(|_| ApiError::field("interval", format!("{raw} is not an Interval")))? {
        I::Unspecified => None,
        I::Hour => Some(Interval::Hour),
        I::Day => Some(Interval::Day),
        I::Week => Some(Interval::Week),
        I::Month => Some(Interval::Month),
    })
}

pub fn rest_interval(raw: Option<&str>) -> Result<Option<Interval>, ApiError> {
    Ok(match raw {
        None => None,
        Some("hour") => Some(Interval::Hour),
        Some("day") => Some(Interval::Day),
        Some("week") => Some(Interval::Week),
        Some("month") => Some(Interval::Month),
        Some(other) => {
            return Err(ApiError::field(
                "interval",
                format!("must be hour, day, week or month, got {:?}", clip(other)),
            ));
        }
    })
}

pub fn grpc_order(raw: i32) -> Result<Order, ApiError> {
    use v1::breakdown_request::Order as O;
    Ok(match O::try_from(raw).map_err(|_| ApiError::field("order", format!("{raw} is not an Order")))? {
        O::Unspecified | O::VisitorsDesc => Order::Visitors,
        O::VisitsDesc => Order::Visits,
        O::PageviewsDesc => Order::Pageviews,
        O::EventsDesc => Order::Events,
        O::ValueAsc => Order::Value,
    })
}

pub fn rest_order(raw: Option<&str>) -> Result<Order, ApiError> {
    Ok(match raw.unwrap_or("visitors") {
        "visitors" => Order::Visitors,
        "visits" => Order::Visits,
        "pageviews" => Order::Pageviews,
        "events" => Order::Events,
        "value" => Order::Value,
        other => {
            return Err(ApiError::field(
                "order",
                format!("must be visitors, visits, pageviews, events or value, got {:?}", clip(other)),
            ));
        }
    })
}

/// gRPC `page_size` (AIP-158).
pub fn rows(page_size: i32) -> Result<usize, ApiError> {
    match usize::try_from(page_size) {
        Err(_) => Err(ApiError::field("page_size", format!("must not be negative, got {page_size}"))),
        Ok(0) => Ok(DEFAULT_ROWS),
        Ok(n) => Ok(n.min(MAX_ROWS)),
    }
}

/// REST `limit`: 1..=1000.
pub fn rest_rows(raw: Option<&str>) -> Result<usize, ApiError> {
    let Some(raw) = raw else { return Ok(DEFAULT_ROWS) };
    raw.trim().parse::<usize>().ok().filter(|n| (1..=MAX_ROWS).contains(n)).ok_or_else(|| {
        ApiError::field("limit", format!("must be an integer from 1 to {MAX_ROWS}, got {:?}", clip(raw)))
    })
}

/// A breakdown page token: the base64url of the next row's offset.
pub fn encode_offset(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("o{offset}"))
}

pub fn decode_offset(token: &str, field: &str) -> Result<usize, ApiError> {
    if token.is_empty() {
        return Ok(0);
    }
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix('o').and_then(|n| n.parse().ok()))
        .ok_or_else(|| ApiError::field(field, "is not a page token returned by this API"))
}

fn clip(raw: &str) -> &str {
    let end = raw.char_indices().nth(64).map_or(raw.len(), |(i, _)| i);
    &raw[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: ApiError) -> String {
        e.violations[0].field.clone()
    }

    #[test]
    fn bad_input_names_its_field() {
        assert_eq!(field(rest_period(Some("week"), None, None).unwrap_err()), "period");
        assert_eq!(field(rest_period(Some("custom"), Some("2026-01-02"), Some("2026-01-01")).unwrap_err()), "end_date");
        assert_eq!(field(rest_period(Some("custom"), Some("2026-1-2"), Some("2026-01-03")).unwrap_err()), "start_date");
        assert_eq!(field(rest_period(Some("7d"), Some("2026-01-02"), None).unwrap_err()), "start_date");
        assert_eq!(field(grpc_period(7, None).unwrap_err()), "date_range");
        let r = v1::DateRange { start_date: "2026-02-30".into(), end_date: "2026-03-01".into() };
        assert_eq!(field(grpc_period(7, Some(&r)).unwrap_err()), "date_range.start_date");
        assert_eq!(field(rest_filters(&["page:equals:/a".into()]).unwrap_err()), "filter");
        assert_eq!(field(rest_filters(&["colour:is:red".into()]).unwrap_err()), "filter");
        assert_eq!(
            field(grpc_filters(vec![v1::Filter { dimension: 1, ..Default::default() }]).unwrap_err()),
            "filters[0].values"
        );
        assert_eq!(field(rest_goal(Some("signup")).unwrap_err()), "goal");
        assert_eq!(field(interval(Some(Interval::Hour), Period::ThirtyDays, "interval").unwrap_err()), "interval");
        assert_eq!(field(decode_offset("nope!", "after").unwrap_err()), "after");
    }

    #[test]
    fn filters_and_tokens_parse() {
        let f = rest_filters(&["prop.plan:is_not:free|trial".into()]).unwrap();
        assert_eq!(f[0].dimension, Dimension::Prop("plan".into()));
        assert_eq!(f[0].values, ["free", "trial"]);
        assert_eq!(decode_offset(&encode_offset(200), "after").unwrap(), 200);
    }
}
