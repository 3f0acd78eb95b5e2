//! Request extraction with errors that name the field: the `X-Min-Position`
//! header (or `min_position` parameter) and the list query (`limit`, `after`); and the read key.

use std::convert::Infallible;

use axum::{extract::FromRequestParts, http::request::Parts};
use tally_platform::error::ApiError;

use crate::{input, read::PageRequest, stats::access::Presented};

pub const MIN_POSITION_HEADER: &str = "X-Min-Position";

/// `X-Min-Position: <global position>`, or `?min_position=` (as gRPC names it, and for
/// clients that cannot set headers, such as a plain link): answer no
/// older than it.
pub struct MinPosition(pub Option<u64>);

/// The query parameter [`MinPosition`] also reads; the lists' and the statistics' own query
/// parsers let it through.
pub const MIN_POSITION_PARAM: &str = "min_position";

/// The OpenAPI descriptions of the two.
pub const MIN_POSITION_HEADER_DOC: &str = "Answer no older than this global position (read-your-writes)";
pub const MIN_POSITION_PARAM_DOC: &str =
    "The same as X-Min-Position, for clients that cannot set headers; give one of the two";

impl<S: Send + Sync> FromRequestParts<S> for MinPosition {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let mut params = url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .filter(|(k, _)| k == MIN_POSITION_PARAM)
            .map(|(_, v)| v);
        let param = params.next();
        if params.next().is_some() {
            return Err(ApiError::field(MIN_POSITION_PARAM, "must be given at most once"));
        }
        match (parts.headers.get(MIN_POSITION_HEADER), param) {
            (None, None) => Ok(MinPosition(None)),
            (Some(_), Some(_)) => Err(ApiError::field(
                MIN_POSITION_PARAM,
                "give the position once: as the X-Min-Position header or as this parameter",
            )),
            (Some(value), None) => {
                let raw = value.to_str().map_err(|_| ApiError::field(MIN_POSITION_HEADER, "must be visible ASCII"))?;
                input::min_position(raw, MIN_POSITION_HEADER).map(|p| MinPosition(Some(p)))
            }
            (None, Some(raw)) => input::min_position(&raw, MIN_POSITION_PARAM).map(|p| MinPosition(Some(p))),
        }
    }
}

/// `Authorization: Bearer <key_id>.<secret>`, as presented. Never refused here: a statistics
/// read checks its parameters first and the key last (`Reads::authorize`).
pub struct ReadKey(pub Presented);

impl<S: Send + Sync> FromRequestParts<S> for ReadKey {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(http::header::AUTHORIZATION).map(|v| v.as_bytes());
        Ok(ReadKey(Presented::parse(header)))
    }
}

/// `?limit=&after=` of a list. Parsed by hand rather than with `Query`, so
/// an unknown or repeated parameter is reported by its own name.
pub struct ListQuery(pub PageRequest);

impl<S: Send + Sync> FromRequestParts<S> for ListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parse_list_query(parts.uri.query().unwrap_or("")).map(ListQuery)
    }
}

fn parse_list_query(query: &str) -> Result<PageRequest, ApiError> {
    let mut limit = None;
    let mut after = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let slot = match key.as_ref() {
            "limit" => &mut limit,
            "after" => &mut after,
            MIN_POSITION_PARAM => continue,
            other => {
                return Err(ApiError::field(
                    other,
                    "is not a parameter of this list; expected limit, after or min_position",
                ));
            }
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(ApiError::field(key, "must be given at most once"));
        }
    }
    let size = input::limit(limit.as_deref())?;
    let after = input::cursor(after.as_deref().unwrap_or(""), "after")?;
    Ok(PageRequest::new(size, after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::Cursor;

    fn field(query: &str) -> String {
        parse_list_query(query).unwrap_err().violations[0].field.clone()
    }

    #[test]
    fn list_queries_parse_and_name_bad_parameters() {
        let c = Cursor(uuid::Uuid::new_v4());
        let page = parse_list_query(&format!("limit=5&after={}", c.encode())).unwrap();
        assert_eq!((page.size(), page.after), (5, Some(c)));
        assert_eq!(parse_list_query("").unwrap().size(), crate::read::DEFAULT_PAGE_SIZE);
        assert_eq!(parse_list_query("min_position=7&limit=3").unwrap().size(), 3, "read by MinPosition");
        assert_eq!(field("limt=5"), "limt");
        assert_eq!(field("limit=1&limit=2"), "limit");
        assert_eq!(field("limit=0"), "limit");
        assert_eq!(field("after=%%%"), "after");
        assert_eq!(field("after=abc"), "after");
    }
}
