//! Query-string parameters with errors that name the parameter.
//!
//! Axum's `Query` answers a bad value with a plain-text message and cannot
//! take a repeated key (`?category=a&category=b`); this parser does both and
//! refuses parameters the endpoint does not know, so a typo such as
//! `?categroy=` is reported instead of silently widening a filter.

use axum::{extract::FromRequestParts, http::request::Parts};
use tally_platform::error::ApiError;

/// The decoded `name=value` pairs of a request's query string, in order.
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(QueryParams::parse(parts.uri.query().unwrap_or("")))
    }
}

impl QueryParams {
    pub fn parse(query: &str) -> QueryParams {
        QueryParams { pairs: url::form_urlencoded::parse(query.as_bytes()).into_owned().collect() }
    }

    /// Refuses any parameter not in `known`, naming it.
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        match self.pairs.iter().find(|(name, _)| !known.contains(&name.as_str())) {
            None => Ok(()),
            Some((name, _)) => Err(ApiError::field(
                name.clone(),
                format!("is not a parameter of this endpoint; expected one of: {}", known.join(", ")),
            )),
        }
    }

    /// The value of a parameter that may appear at most once.
    pub fn single(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut values = self.pairs.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(ApiError::field(name, "must be given at most once"));
        }
        Ok(first)
    }

    /// A whole number from `min` to `max`, when present.
    pub fn number(&self, name: &str, min: u64, max: u64) -> Result<Option<u64>, ApiError> {
        let Some(raw) = self.single(name)? else { return Ok(None) };
        let refuse = || ApiError::field(name, format!("must be a whole number from {min} to {max}, got {raw:?}"));
        let value: u64 = raw.trim().parse().map_err(|_| refuse())?;
        if value < min || value > max {
            return Err(refuse());
        }
        Ok(Some(value))
    }

    /// Every value of a list parameter: repeated (`?type=a&type=b`) and/or
    /// comma-separated (`?type=a,b`). Empty entries are kept, so the caller's
    /// validation reports them.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_owned()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: ApiError) -> String {
        e.violations[0].field.clone()
    }

    #[test]
    fn numbers_are_range_checked_and_named() {
        let q = QueryParams::parse("limit=5&after=x&big=99999999999999999999999");
        assert_eq!(q.number("limit", 1, 10).unwrap(), Some(5));
        assert_eq!(q.number("missing", 1, 10).unwrap(), None);
        assert_eq!(field(q.number("limit", 6, 10).unwrap_err()), "limit");
        assert_eq!(field(q.number("after", 0, 10).unwrap_err()), "after");
        assert_eq!(field(q.number("big", 0, u64::MAX).unwrap_err()), "big");
        assert_eq!(field(QueryParams::parse("limit=").number("limit", 1, 10).unwrap_err()), "limit");
    }

    #[test]
    fn repeats_and_unknowns_are_refused() {
        let q = QueryParams::parse("limit=1&limit=2");
        assert_eq!(field(q.single("limit").unwrap_err()), "limit");
        let q = QueryParams::parse("limit=1&categroy=profile");
        assert_eq!(field(q.only(&["limit", "category"]).unwrap_err()), "categroy");
        assert!(QueryParams::parse("limit=1").only(&["limit"]).is_ok());
    }

    #[test]
    fn lists_combine_repeats_and_commas() {
        let q = QueryParams::parse("type=a,b&type=c&category=%20x%20&empty=");
        assert_eq!(q.list("type"), ["a", "b", "c"]);
        assert_eq!(q.list("category"), ["x"]);
        assert_eq!(q.list("empty"), [""]);
        assert!(q.list("none").is_empty());
    }
}
