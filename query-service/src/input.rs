//! Request validation shared by gRPC and REST: each failure names the field
//! as the client spelled it (`page_size` in gRPC, `limit` in REST, …).

use tally_platform::error::ApiError;
use uuid::Uuid;

use crate::read::{Cursor, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// A resource id; must be a UUID.
pub fn id(raw: &str, field: &str) -> Result<Uuid, ApiError> {
    if raw.is_empty() {
        return Err(ApiError::field(field, "is required"));
    }
    raw.parse().map_err(|_| ApiError::field(field, format!("must be a UUID, got {:?}", clip(raw))))
}

/// A handle, normalised as on write (trimmed, lowercased), so lookups are
/// case-insensitive. A string that could never be a handle is the client's
/// mistake, not an unknown profile.
pub fn handle(raw: &str, field: &str) -> Result<String, ApiError> {
    if raw.trim().is_empty() {
        return Err(ApiError::field(field, "is required"));
    }
    tally_domain::Handle::parse(raw).map(|h| h.as_str().to_owned()).map_err(|message| ApiError::field(field, message))
}

/// An optional page cursor; empty means "from the start".
pub fn cursor(raw: &str, field: &str) -> Result<Option<Cursor>, ApiError> {
    if raw.is_empty() {
        return Ok(None);
    }
    Cursor::decode(raw).map(Some).map_err(|message| ApiError::field(field, message))
}

/// gRPC `page_size` as AIP-158 has it: 0 is the default, larger than the
/// maximum is coerced to it, negative is an error.
pub fn page_size(raw: i32) -> Result<usize, ApiError> {
    match usize::try_from(raw) {
        Err(_) => Err(ApiError::field("page_size", format!("must not be negative, got {raw}"))),
        Ok(0) => Ok(DEFAULT_PAGE_SIZE),
        Ok(n) => Ok(n.min(MAX_PAGE_SIZE)),
    }
}

/// REST `limit`: absent is the default; otherwise an integer in
/// 1..=[`MAX_PAGE_SIZE`].
pub fn limit(raw: Option<&str>) -> Result<usize, ApiError> {
    let Some(raw) = raw else { return Ok(DEFAULT_PAGE_SIZE) };
    let out_of_range =
        || ApiError::field("limit", format!("must be an integer from 1 to {MAX_PAGE_SIZE}, got {:?}", clip(raw)));
    let n: usize = raw.trim().parse().map_err(|_| out_of_range())?;
    if (1..=MAX_PAGE_SIZE).contains(&n) { Ok(n) } else { Err(out_of_range()) }
}

/// REST `X-Min-Position`: a non-negative integer.
pub fn min_position(raw: &str, field: &str) -> Result<u64, ApiError> {
    raw.trim()
        .parse()
        .map_err(|_| ApiError::field(field, format!("must be a non-negative integer position, got {:?}", clip(raw))))
}

/// Echoes at most a short prefix of bad input, so error messages (and the
/// logs they end up in) stay small whatever the client sent.
fn clip(raw: &str) -> &str {
    let end = raw.char_indices().nth(64).map_or(raw.len(), |(i, _)| i);
    &raw[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: ApiError) -> String {
        e.violations[0].field.clone()
    }

    #[test]
    fn ids_must_be_uuids() {
        assert!(id("0190a0b0-0000-7000-8000-000000000001", "id").is_ok());
        assert_eq!(field_of(id("nope", "id").unwrap_err()), "id");
        assert_eq!(field_of(id("", "site.id").unwrap_err()), "site.id");
    }

    #[test]
    fn handles_are_normalised_and_checked() {
        assert_eq!(handle("  Ada_L ", "handle").unwrap(), "ada_l");
        assert_eq!(field_of(handle("a", "handle").unwrap_err()), "handle");
        assert_eq!(field_of(handle("ada lovelace", "handle").unwrap_err()), "handle");
        assert_eq!(field_of(handle("", "handle").unwrap_err()), "handle");
    }

    #[test]
    fn page_sizes_follow_aip_158() {
        assert_eq!(page_size(0).unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(7).unwrap(), 7);
        assert_eq!(page_size(100_000).unwrap(), MAX_PAGE_SIZE);
        assert_eq!(field_of(page_size(-1).unwrap_err()), "page_size");
    }

    #[test]
    fn rest_limits_are_strict() {
        assert_eq!(limit(None).unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(limit(Some("10")).unwrap(), 10);
        for bad in ["0", "-1", "501", "ten", ""] {
            assert_eq!(field_of(limit(Some(bad)).unwrap_err()), "limit", "{bad:?}");
        }
    }

    #[test]
    fn min_positions_are_non_negative_integers() {
        assert_eq!(min_position(" 42", "X-Min-Position").unwrap(), 42);
        assert_eq!(field_of(min_position("-3", "X-Min-Position").unwrap_err()), "X-Min-Position");
        assert_eq!(field_of(min_position("soon", "X-Min-Position").unwrap_err()), "X-Min-Position");
    }

    #[test]
    fn echoed_input_is_clipped() {
        let long = "x".repeat(10_000);
        assert!(id(&long, "id").unwrap_err().detail.len() < 200);
    }
}
