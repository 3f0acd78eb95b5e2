//! What travels with a command besides its body.

use tally_platform::propagation::TraceContext;

/// Per-request facts the transports extract (headers, metadata, fields).
#[derive(Debug, Clone, Default)]
pub struct CommandContext {
    /// Client idempotency key (gRPC `command_id`, REST `Idempotency-Key`).
    pub command_id: Option<String>,
    /// Optimistic concurrency (gRPC `expected_version`, REST `If-Match`).
    pub expected_version: Option<u64>,
    pub correlation_id: String,
    pub actor: String,
    pub trace: TraceContext,
}

/// Longest accepted command id: enough for a UUID or a ULID with a prefix.
pub const MAX_COMMAND_ID_LEN: usize = 128;

/// Checks a client-supplied command id; `field` names it in the error.
pub fn parse_command_id(raw: &str, field: &str) -> Result<Option<String>, tally_domain::ValidationError> {
    let id = raw.trim();
    if id.is_empty() {
        return Ok(None);
    }
    if id.len() > MAX_COMMAND_ID_LEN {
        return Err(tally_domain::ValidationError::single(
            field,
            format!("must be at most {MAX_COMMAND_ID_LEN} bytes"),
        ));
    }
    if !id.chars().all(|c| c.is_ascii_graphic()) {
        return Err(tally_domain::ValidationError::single(field, "may only contain printable ASCII characters"));
    }
    Ok(Some(id.to_owned()))
}
