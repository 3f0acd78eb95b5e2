//! One error taxonomy for every API, mapped once to gRPC codes and HTTP statuses.
//!
//! Layers keep their own `thiserror` enums (domain, store, …) and convert into
//! [`ApiError`] at the edge. The [`ErrorKind::TABLE`] below is the only place
//! where a kind meets a gRPC code and an HTTP status, so REST and gRPC clients
//! always see the same classification.

use std::{collections::BTreeMap, time::Duration};

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

/// What went wrong, independent of the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    InvalidArgument,
    NotFound,
    AlreadyExists,
    /// Optimistic-concurrency conflict: the expected version is stale.
    Conflict,
    FailedPrecondition,
    Unauthenticated,
    PermissionDenied,
    PayloadTooLarge,
    UnsupportedMediaType,
    MethodNotAllowed,
    ResourceExhausted,
    Unavailable,
    DeadlineExceeded,
    Internal,
}

struct Mapping {
    kind: ErrorKind,
    grpc: Code,
    http: StatusCode,
    title: &'static str,
}

impl ErrorKind {
    const TABLE: &'static [Mapping] = &[
        Mapping {
            kind: ErrorKind::InvalidArgument,
            grpc: Code::InvalidArgument,
            http: StatusCode::BAD_REQUEST,
            title: "Invalid argument",
        },
        Mapping { kind: ErrorKind::NotFound, grpc: Code::NotFound, http: StatusCode::NOT_FOUND, title: "Not found" },
        Mapping {
            kind: ErrorKind::AlreadyExists,
            grpc: Code::AlreadyExists,
            http: StatusCode::CONFLICT,
            title: "Already exists",
        },
        Mapping {
            kind: ErrorKind::Conflict,
            grpc: Code::Aborted,
            http: StatusCode::CONFLICT,
            title: "Version conflict",
        },
        Mapping {
            kind: ErrorKind::FailedPrecondition,
            grpc: Code::FailedPrecondition,
            http: StatusCode::UNPROCESSABLE_ENTITY,
            title: "Failed precondition",
        },
        Mapping {
            kind: ErrorKind::Unauthenticated,
            grpc: Code::Unauthenticated,
            http: StatusCode::UNAUTHORIZED,
            title: "Unauthenticated",
        },
        Mapping {
            kind: ErrorKind::PermissionDenied,
            grpc: Code::PermissionDenied,
            http: StatusCode::FORBIDDEN,
            title: "Permission denied",
        },
        Mapping {
            kind: ErrorKind::PayloadTooLarge,
            grpc: Code::ResourceExhausted,
            http: StatusCode::PAYLOAD_TOO_LARGE,
            title: "Payload too large",
        },
        Mapping {
            kind: ErrorKind::UnsupportedMediaType,
            grpc: Code::InvalidArgument,
            http: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            title: "Unsupported media type",
        },
        Mapping {
            kind: ErrorKind::MethodNotAllowed,
            grpc: Code::Unimplemented,
            http: StatusCode::METHOD_NOT_ALLOWED,
            title: "Method not allowed",
        },
        Mapping {
            kind: ErrorKind::ResourceExhausted,
            grpc: Code::ResourceExhausted,
            http: StatusCode::TOO_MANY_REQUESTS,
            title: "Too many requests",
        },
        Mapping {
            kind: ErrorKind::Unavailable,
            grpc: Code::Unavailable,
            http: StatusCode::SERVICE_UNAVAILABLE,
            title: "Unavailable",
        },
        Mapping {
            kind: ErrorKind::DeadlineExceeded,
            grpc: Code::DeadlineExceeded,
            http: StatusCode::GATEWAY_TIMEOUT,
            title: "Deadline exceeded",
        },
        Mapping {
            kind: ErrorKind::Internal,
            grpc: Code::Internal,
            http: StatusCode::INTERNAL_SERVER_ERROR,
            title: "Internal error",
        },
    ];

    fn mapping(self) -> &'static Mapping {
        Self::TABLE.iter().find(|m| m.kind == self).expect("every ErrorKind has a row in ErrorKind::TABLE")
    }

    pub fn grpc_code(self) -> Code {
        self.mapping().grpc
    }

    pub fn http_status(self) -> StatusCode {
        self.mapping().http
    }

    pub fn title(self) -> &'static str {
        self.mapping().title
    }

    /// The stable slug used in problem `type` URIs and `ErrorInfo.reason`.
    pub fn slug(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid-argument",
            ErrorKind::NotFound => "not-found",
            ErrorKind::AlreadyExists => "already-exists",
            ErrorKind::Conflict => "version-conflict",
            ErrorKind::FailedPrecondition => "failed-precondition",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::PermissionDenied => "permission-denied",
            ErrorKind::PayloadTooLarge => "payload-too-large",
            ErrorKind::UnsupportedMediaType => "unsupported-media-type",
            ErrorKind::MethodNotAllowed => "method-not-allowed",
            ErrorKind::ResourceExhausted => "too-many-requests",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::DeadlineExceeded => "deadline-exceeded",
            ErrorKind::Internal => "internal",
        }
    }
}

/// A field-level validation failure, named by its snake_case path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldViolation {
    pub field: String,
    pub message: String,
}

/// An error as an API client sees it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind:?}: {detail}")]
pub struct ApiError {
    pub kind: ErrorKind,
    /// Human-readable and safe to show: never contains secrets or internals.
    pub detail: String,
    pub violations: Vec<FieldViolation>,
    /// Machine-readable facts (e.g. `current_version`), sent as `ErrorInfo`
    /// metadata in gRPC (as strings) and as typed problem extension members
    /// in REST.
    pub metadata: BTreeMap<String, serde_json::Value>,
    pub retry_after: Option<Duration>,
}

/// Where problem `type` URIs point; documented in the README.
pub const PROBLEM_BASE: &str = "https://tally.dev/problems/";
const ERROR_DOMAIN: &str = "tally.dev";

impl ApiError {
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Self { kind, detail: detail.into(), violations: Vec::new(), metadata: BTreeMap::new(), retry_after: None }
    }

    pub fn invalid(violations: Vec<FieldViolation>) -> Self {
        let detail = violations.iter().map(|v| format!("{}: {}", v.field, v.message)).collect::<Vec<_>>().join("; ");
        Self { violations, ..Self::new(ErrorKind::InvalidArgument, detail) }
    }

    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::invalid(vec![FieldViolation { field: field.into(), message: message.into() }])
    }

    /// An unexpected failure. The cause is for the log line of whoever handles
    /// it, not for the client.
    pub fn internal() -> Self {
        Self::new(ErrorKind::Internal, "an internal error occurred; it has been logged")
    }

    pub fn with_meta(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.metadata.insert(key.to_owned(), value.into());
        self
    }

    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// The gRPC status with `BadRequest`, `ErrorInfo` and `RetryInfo` details.
    pub fn to_status(&self) -> tonic::Status {
        let mut details = ErrorDetails::new();
        for v in &self.violations {
            details.add_bad_request_violation(v.field.clone(), v.message.clone());
        }
        details.set_error_info(
            self.kind.slug(),
            ERROR_DOMAIN,
            self.metadata
                .iter()
                .map(|(k, v)| {
                    let text = match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect::<std::collections::HashMap<_, _>>(),
        );
        if let Some(after) = self.retry_after {
            details.set_retry_info(Some(after));
        }
        tonic::Status::with_error_details(self.kind.grpc_code(), self.detail.clone(), details)
    }
}

impl From<ApiError> for tonic::Status {
    fn from(e: ApiError) -> Self {
        e.to_status()
    }
}

/// RFC 9457 problem details, with `errors` for field violations and the
/// error's metadata flattened in as extension members.
#[derive(Serialize)]
pub struct Problem<'a> {
    #[serde(rename = "type")]
    type_: String,
    title: &'static str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [FieldViolation],
    #[serde(flatten)]
    metadata: &'a BTreeMap<String, serde_json::Value>,
}

impl ApiError {
    /// The problem+json body of this error, also for errors sent inside a stream.
    pub fn problem(&self) -> Problem<'_> {
        Problem {
            type_: format!("{PROBLEM_BASE}{}", self.kind.slug()),
            title: self.kind.title(),
            status: self.kind.http_status().as_u16(),
            detail: &self.detail,
            errors: &self.violations,
            metadata: &self.metadata,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.kind.http_status();
        let json = serde_json::to_vec(&self.problem()).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (status, json).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(after) = self.retry_after {
            let secs = after.as_secs().max(1);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_exactly_one_mapping() {
        for m in ErrorKind::TABLE {
            assert_eq!(ErrorKind::TABLE.iter().filter(|o| o.kind == m.kind).count(), 1, "{:?}", m.kind);
        }
        assert_eq!(ErrorKind::Conflict.grpc_code(), Code::Aborted);
        assert_eq!(ErrorKind::Conflict.http_status(), StatusCode::CONFLICT);
        assert_eq!(ErrorKind::PayloadTooLarge.http_status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn grpc_status_carries_field_violations_and_metadata() {
        let err = ApiError::field("handle", "must be 3 to 30 characters").with_meta("current_version", 3u64);
        let status = err.to_status();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let bad = details.bad_request().expect("BadRequest detail");
        assert_eq!(bad.field_violations[0].field, "handle");
        let info = details.error_info().expect("ErrorInfo detail");
        assert_eq!(info.metadata.get("current_version").map(String::as_str), Some("3"));
    }

    #[tokio::test]
    async fn rest_problem_names_fields_and_sets_retry_after() {
        let resp = ApiError::field("email", "is required").with_retry_after(Duration::from_secs(2)).into_response();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/problem+json");
        assert_eq!(resp.headers()[header::RETRY_AFTER], "2");
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["errors"][0]["field"], "email");
        assert_eq!(v["status"], 400);
        assert_eq!(v["type"], "https://tally.dev/problems/invalid-argument");
    }
}
