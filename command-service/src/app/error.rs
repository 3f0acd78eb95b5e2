//! Application errors and their one mapping into the API taxonomy.

use tally_domain::{DomainError, ValidationError};
use tally_event_store::{AppendError, StoreError};
use tally_platform::{
    causes::Causes,
    error::{ApiError, ErrorKind, FieldViolation},
};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Append(#[from] AppendError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored event no longer decodes: the store holds something this
    /// build does not understand. Never the client's fault.
    #[error("stream {stream_id} holds an undecodable event at version {version}: {reason}")]
    Corrupt { stream_id: String, version: u64, reason: String },
    /// Every retry lost the race for the stream to other writers.
    #[error("stream {stream_id} is under heavy contention; retry")]
    Contention { stream_id: String },
}

impl From<ValidationError> for AppError {
    fn from(e: ValidationError) -> Self {
        AppError::Domain(DomainError::Invalid(e))
    }
}

/// The request field a unique-key scope is about.
fn field_of_scope(scope: &str) -> &str {
    scope.rsplit('.').next().unwrap_or(scope)
}

fn violations(e: &ValidationError) -> Vec<FieldViolation> {
    e.violations.iter().map(|v| FieldViolation { field: v.field.clone(), message: v.description.clone() }).collect()
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Domain(DomainError::Invalid(v)) => ApiError::invalid(violations(&v)),
            AppError::Domain(e @ (DomainError::NotFound { .. } | DomainError::Gone { .. })) => {
                ApiError::new(ErrorKind::NotFound, e.to_string())
            }
            AppError::Domain(e @ DomainError::AlreadyExists { .. }) => {
                ApiError::new(ErrorKind::AlreadyExists, e.to_string())
            }
            AppError::Append(AppendError::Conflict { stream_id, expected, current }) => ApiError::new(
                ErrorKind::Conflict,
                format!("{stream_id} is at version {current}, not the expected {expected}; re-read and retry"),
            )
            .with_meta("current_version", current)
            .with_meta("stream_id", stream_id),
            AppError::Append(AppendError::KeyTaken { scope, key }) => {
                let field = field_of_scope(&scope).to_owned();
                let mut err = ApiError::new(ErrorKind::AlreadyExists, format!("{field} {key:?} is already taken"));
                err.violations.push(FieldViolation { field, message: format!("{key:?} is already taken") });
                err
            }
            AppError::Append(AppendError::CommandIdReused { command_id }) => ApiError::field(
                "command_id",
                format!("{command_id:?} was already used for a different command; use a new id"),
            ),
            AppError::Append(AppendError::Unavailable(_) | AppendError::ShuttingDown) => {
                ApiError::new(ErrorKind::Unavailable, "the event store is unavailable; retry with the same command id")
                    .with_retry_after(std::time::Duration::from_secs(1))
            }
            AppError::Contention { stream_id } => ApiError::new(
                ErrorKind::Conflict,
                format!("{stream_id} changed repeatedly while this command ran; retry"),
            ),
            AppError::Store(e) if e.is_unavailable() => {
                ApiError::new(ErrorKind::Unavailable, "the event store is unavailable; retry with the same command id")
                    .with_retry_after(std::time::Duration::from_secs(1))
            }
            AppError::Store(_) | AppError::Corrupt { .. } => ApiError::internal(),
        }
    }
}

impl AppError {
    /// Logs errors that are ours (not the client's) where they are handled:
    /// at the transport edge, once per request.
    pub fn log_if_internal(&self) {
        match self {
            AppError::Store(e) if e.is_unavailable() => tracing::warn!(error = %Causes(&e), "event store unavailable"),
            AppError::Store(e) => tracing::error!(error = %Causes(&e), "event store failure"),
            AppError::Corrupt { stream_id, version, reason } => {
                tracing::error!(stream_id, version, reason, "undecodable stored event")
            }
            AppError::Append(AppendError::Unavailable(reason)) => tracing::warn!(reason, "append unavailable"),
            _ => {}
        }
    }
}
