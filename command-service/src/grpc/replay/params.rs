//! Validation of read parameters, shared by gRPC and REST so both refuse
//! the same input with the same words; each caller names its own field.

use tally_event_store::reader::Filter;
use tally_platform::error::ApiError;

/// A page holds this many events when the client does not say.
pub const DEFAULT_PAGE_SIZE: i64 = 100;
/// Larger requested pages are coerced to this (AIP-158), which bounds the
/// memory and time one request can cost.
pub const MAX_PAGE_SIZE: i64 = 1000;
/// The store keeps positions and versions as `bigint`.
pub const MAX_POSITION: u64 = i64::MAX as u64;
/// A filter longer than this is a mistake, not a use case.
const MAX_FILTER_ENTRIES: usize = 50;
const MAX_CATEGORY_LEN: usize = 63;
const MAX_EVENT_TYPE_LEN: usize = 200;
const MAX_STREAM_ID_LEN: usize = 200;

/// A well-formed stream id and the category it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamId {
    pub id: String,
    pub category: String,
}

impl StreamId {
    /// `<category>-<id>`: the category is the part before the first `-`.
    pub fn parse(raw: &str, field: &str) -> Result<StreamId, ApiError> {
        if raw.is_empty() {
            return Err(ApiError::field(field, "is required, e.g. \"profile-<uuid>\""));
        }
        if raw.len() > MAX_STREAM_ID_LEN {
            return Err(ApiError::field(field, format!("must be at most {MAX_STREAM_ID_LEN} bytes")));
        }
        let shape = || {
            ApiError::field(
                field,
                format!(
                    "must look like \"<category>-<id>\" (lowercase category, id of letters, digits, '-', '_', '.', ':'), got {raw:?}"
                ),
            )
        };
        let (category, rest) = raw.split_once('-').ok_or_else(shape)?;
        let id_ok = !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
        if !is_category(category) || !id_ok {
            return Err(shape());
        }
        Ok(StreamId { id: raw.to_owned(), category: category.to_owned() })
    }
}

fn is_category(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= MAX_CATEGORY_LEN
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_event_type(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= MAX_EVENT_TYPE_LEN
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// A requested page size: 0 means the default, above the maximum is coerced
/// to it, negative is refused.
pub fn page_size(requested: i64, field: &str) -> Result<i64, ApiError> {
    match requested {
        n if n < 0 => Err(ApiError::field(field, format!("must not be negative, got {n}"))),
        0 => Ok(DEFAULT_PAGE_SIZE),
        n => Ok(n.min(MAX_PAGE_SIZE)),
    }
}

/// A global position or stream version the store can represent.
pub fn position(value: u64, field: &str) -> Result<u64, ApiError> {
    if value > MAX_POSITION {
        return Err(ApiError::field(field, format!("must be at most {MAX_POSITION}, got {value}")));
    }
    Ok(value)
}

/// A category / event-type filter. `field_of(kind, index)` names an entry
/// the way the caller's API does (`categories[2]` in gRPC, `category` in REST).
pub fn filter<C, T>(categories: C, event_types: T, field_of: impl Fn(Kind, usize) -> String) -> Result<Filter, ApiError>
where
    C: IntoIterator<Item = String>,
    T: IntoIterator<Item = String>,
{
    let categories = checked(categories, Kind::Category, &field_of)?;
    let event_types = checked(event_types, Kind::EventType, &field_of)?;
    Ok(Filter { categories, event_types })
}

/// Which list of a filter an entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Category,
    EventType,
}

fn checked(
    values: impl IntoIterator<Item = String>,
    kind: Kind,
    field_of: &impl Fn(Kind, usize) -> String,
) -> Result<Vec<String>, ApiError> {
    let values: Vec<String> = values.into_iter().collect();
    if values.len() > MAX_FILTER_ENTRIES {
        return Err(ApiError::field(field_of(kind, 0), format!("at most {MAX_FILTER_ENTRIES} values are allowed")));
    }
    for (index, value) in values.iter().enumerate() {
        let (ok, shape) = match kind {
            Kind::Category => (is_category(value), "a lowercase category such as \"profile\""),
            Kind::EventType => (is_event_type(value), "a full event type such as \"tally.v1.ProfileCreated\""),
        };
        if value.is_empty() {
            return Err(ApiError::field(field_of(kind, index), format!("must not be empty; expected {shape}")));
        }
        if !ok {
            return Err(ApiError::field(field_of(kind, index), format!("must be {shape}, got {value:?}")));
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: ApiError) -> String {
        e.violations[0].field.clone()
    }

    #[test]
    fn stream_ids_split_at_the_first_dash() {
        let id = StreamId::parse("analytics-0190a3c4-7f1e-7000-8000-000000000001", "stream_id").unwrap();
        assert_eq!(id.category, "analytics");
        assert_eq!(StreamId::parse("profile-abc", "s").unwrap().category, "profile");
        for bad in ["", "profile", "profile-", "-abc", "Profile-abc", "pro file-abc", "profile-a b", "profile-ä"] {
            assert_eq!(field(StreamId::parse(bad, "stream_id").unwrap_err()), "stream_id", "{bad:?}");
        }
        assert!(StreamId::parse(&format!("profile-{}", "a".repeat(300)), "s").is_err());
    }

    #[test]
    fn page_sizes_default_coerce_and_refuse_negatives() {
        assert_eq!(page_size(0, "page_size").unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(7, "page_size").unwrap(), 7);
        assert_eq!(page_size(5000, "page_size").unwrap(), MAX_PAGE_SIZE);
        assert_eq!(field(page_size(-1, "page_size").unwrap_err()), "page_size");
    }

    #[test]
    fn positions_must_fit_the_store() {
        assert_eq!(position(MAX_POSITION, "after").unwrap(), MAX_POSITION);
        assert_eq!(field(position(MAX_POSITION + 1, "after").unwrap_err()), "after");
    }

    #[test]
    fn filters_name_the_offending_entry() {
        let name = |kind: Kind, i: usize| match kind {
            Kind::Category => format!("categories[{i}]"),
            Kind::EventType => format!("event_types[{i}]"),
        };
        let ok = filter(vec!["profile".into()], vec!["tally.v1.ProfileCreated".into()], name).unwrap();
        assert_eq!(ok.categories, ["profile"]);
        let err = filter(vec!["profile".into(), "Site".into()], Vec::new(), name).unwrap_err();
        assert_eq!(field(err), "categories[1]");
        let err = filter(Vec::new(), vec![String::new()], name).unwrap_err();
        assert_eq!(field(err), "event_types[0]");
        let err = filter(Vec::new(), vec!["tally v1".into()], name).unwrap_err();
        assert_eq!(field(err), "event_types[0]");
        let many = (0..51).map(|i| format!("c{i}"));
        assert_eq!(field(filter(many, Vec::new(), name).unwrap_err()), "categories[0]");
    }
}
