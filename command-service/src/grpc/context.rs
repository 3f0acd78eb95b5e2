//! Command context from gRPC metadata and request fields.

use tally_platform::error::ApiError;
use tonic::metadata::MetadataMap;

use crate::app::{CommandContext, context::parse_command_id};

/// Builds the context; `command_id` and `expected_version` come from the
/// request message, correlation from metadata, trace from the request span
/// (which the HTTP layer already parented on the incoming `traceparent`).
pub fn command_context(
    metadata: &MetadataMap,
    command_id: &str,
    expected_version: Option<u64>,
) -> Result<CommandContext, ApiError> {
    let command_id = parse_command_id(command_id, "command_id").map_err(|e| {
        let v = &e.violations[0];
        ApiError::field(v.field.clone(), v.description.clone())
    })?;
    let correlation_id = metadata
        .get("x-correlation-id")
        .and_then(|v| v.to_str().ok())
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
