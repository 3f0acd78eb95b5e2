//! Request extraction with errors that name the field.
//!
//! Axum's stock extractors answer bad input with plain-text messages such as
//! "Failed to deserialize the JSON body"; clients need to know *which* field
//! is wrong. These extractors answer with problem+json naming it.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request, rejection::BytesRejection},
    http::{HeaderMap, header, request::Parts},
};
use serde::de::DeserializeOwned;
use tally_platform::error::{ApiError, ErrorKind};

use crate::app::CommandContext;

/// Reads the body after checking its content type and size.
async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if !(mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))) {
        let shown = if content_type.is_empty() { "none".to_owned() } else { format!("{content_type:?}") };
        return Err(ApiError::new(
            ErrorKind::UnsupportedMediaType,
            format!("content-type must be application/json, got {shown}"),
        ));
    }
    Bytes::from_request(req, state).await.map_err(|rejection| match rejection {
        BytesRejection::FailedToBufferBody(_) if rejection.status() == http::StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(ErrorKind::PayloadTooLarge, "request body exceeds the size limit")
        }
        other => ApiError::field("body", other.body_text()),
    })
}

/// Parses JSON, naming the path of the first offending field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::field("body", format!("malformed JSON: {inner}"));
        }
        let field = if path == "." { "body".to_owned() } else { path };
        // serde's message ends with "at line L column C"; the field name is
        // what matters, the position only repeats it.
        let message = inner.to_string();
        let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
        ApiError::field(field, message)
    })
}

/// A JSON body of type `T`.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Optional explicit field mask for PATCH, as comma-separated paths; shared by every
/// PATCH endpoint so they all read the mask the same way.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct PatchParams {
    /// The fields to change, e.g. `display_name,bio` for a profile or `time_zone` for a
    /// site. Without it, the mask is the set of keys in the body.
    pub update_mask: Option<String>,
}

/// A JSON merge-patch body: the object and the top-level keys it names,
/// which become the update mask unless `update_mask` is given explicitly.
pub struct JsonPatch {
    pub object: serde_json::Map<String, serde_json::Value>,
}

impl<S: Send + Sync> FromRequest<S> for JsonPatch {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(req, state).await?;
        let value: serde_json::Value = parse_json(&bytes)?;
        match value {
            serde_json::Value::Object(object) => Ok(JsonPatch { object }),
            _ => Err(ApiError::field("body", "must be a JSON object")),
        }
    }
}

impl JsonPatch {
    /// The mask: explicit paths when given, else the keys present.
    pub fn mask(&self, explicit: Option<&str>) -> Vec<String> {
        match explicit {
            Some(paths) => paths.split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect(),
            None => self.object.keys().cloned().collect(),
        }
    }

    /// Deserialises the patch. A `null` member means "clear": it stays in the
    /// mask but is dropped from the body, so the DTO's empty default applies.
    pub fn into_body<T: DeserializeOwned>(self) -> Result<T, ApiError> {
        let object: serde_json::Map<_, _> = self.object.into_iter().filter(|(_, v)| !v.is_null()).collect();
        let bytes = serde_json::to_vec(&object).map_err(|_| ApiError::internal())?;
        parse_json(&bytes)
    }
}

/// A resource id from the path; must be a UUID.
pub fn parse_id<T: std::str::FromStr>(raw: &str, field: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::field(field, format!("must be a UUID, got {raw:?}")))
}

/// The command context from REST headers: `Idempotency-Key`, `If-Match`,
/// `X-Correlation-Id`, and the trace context of the request span.
pub struct RestContext(pub CommandContext);

impl<S: Send + Sync> FromRequestParts<S> for RestContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        context_from_headers(&parts.headers).map(RestContext)
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| ApiError::field(name, "must be visible ASCII")),
    }
}

pub fn context_from_headers(headers: &HeaderMap) -> Result<CommandContext, ApiError> {
    let command_id = match header_str(headers, "idempotency-key")? {
        Some(raw) => crate::app::context::parse_command_id(raw, "Idempotency-Key")
            .map_err(|e| ApiError::field("Idempotency-Key", e.violations[0].description.clone()))?,
        None => None,
    };
    let expected_version = match header_str(headers, "if-match")? {
        None => None,
        Some(raw) => Some(parse_if_match(raw)?),
    };
    let correlation_id = header_str(headers, "x-correlation-id")?
        .map(|s| s.chars().take(128).collect())
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    Ok(CommandContext {
        command_id,
        expected_version,
        correlation_id,
        actor: String::new(),
        trace: tally_platform::propagation::current(),
    })
}

/// `If-Match: "3"` (our ETags), also tolerating `W/"3"` and a bare `3`.
fn parse_if_match(raw: &str) -> Result<u64, ApiError> {
    let tag = raw.trim().trim_start_matches("W/").trim_matches('"');
    tag.parse().map_err(|_| {
        ApiError::field("If-Match", format!("must be an ETag from a previous response, like \"3\"; got {raw:?}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        handle: String,
        #[serde(default)]
        attributes: std::collections::BTreeMap<String, String>,
    }

    #[test]
    fn type_errors_name_the_field_path() {
        let err = parse_json::<Sample>(br#"{"handle":"a","attributes":{"k":5}}"#).unwrap_err();
        assert_eq!(err.violations[0].field, "attributes.k");
        let err = parse_json::<Sample>(br#"{"handle":7}"#).unwrap_err();
        assert_eq!(err.violations[0].field, "handle");
    }

    #[test]
    fn unknown_fields_and_syntax_errors_are_reported() {
        let err = parse_json::<Sample>(br#"{"handle":"a","nick":"b"}"#).unwrap_err();
        assert!(err.detail.contains("nick"), "{}", err.detail);
        let err = parse_json::<Sample>(br#"{"handle": "#).unwrap_err();
        assert_eq!(err.violations[0].field, "body");
        assert!(err.detail.contains("malformed JSON"));
    }

    #[test]
    fn if_match_accepts_etag_forms() {
        assert_eq!(parse_if_match("\"3\"").unwrap(), 3);
        assert_eq!(parse_if_match("W/\"4\"").unwrap(), 4);
        assert_eq!(parse_if_match("5").unwrap(), 5);
        assert_eq!(parse_if_match("abc").unwrap_err().violations[0].field, "If-Match");
    }
}
