//! `/v1/sites/{id}/read-keys`: issuing and revoking the bearer keys of a
//! site's statistics. Both need the admin token, like the backfill: whoever
//! holds a read key sees the site's traffic.

use axum::{
    Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{delete, post},
};
use serde::{Deserialize, Serialize};
use tally_domain::SiteId;
use tally_platform::error::ApiError;
use utoipa::ToSchema;

use super::{
    command_response,
    dto::CommandResultView,
    extract::{JsonBody, RestContext, parse_id},
    failed,
    ingest::bearer,
};
use crate::app::{Commands, analytics::Ingest};

/// What the read-key routes need: the commands, and the admin token check.
#[derive(Clone)]
struct KeyRoutes {
    commands: Commands,
    ingest: Ingest,
}

pub fn router(commands: Commands, ingest: Ingest) -> Router {
    Router::new()
        .route("/v1/sites/{id}/read-keys", post(issue))
        .route("/v1/sites/{id}/read-keys/{key_id}", delete(revoke))
        .with_state(KeyRoutes { commands, ingest })
}

/// The body of an issue request.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ReadKeyFields {
    /// What the key is for, e.g. `grafana dashboard`; at most 100 characters.
    pub label: String,
}

/// An issued key. The secret is shown here once and never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedKeyView {
    pub key_id: String,
    /// Absent on a replayed request: it was only shown the first time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The credential to send: `Authorization: Bearer <token>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub result: CommandResultView,
}

/// A revocation's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedKeyView {
    pub result: CommandResultView,
}

/// Issue a read key for a site's statistics API.
#[utoipa::path(
    post, path = "/v1/sites/{id}/read-keys", tag = "sites",
    request_body = ReadKeyFields,
    params(
        ("id" = String, Path, description = "Site id (UUID)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Client command id; a retry answers with the same key id and no secret"),
    ),
    security(("admin_token" = [])),
    responses(
        (status = 201, body = IssuedKeyView, description = "Issued; usable once the query side has projected it (pass `result.global_position` as `X-Min-Position`)"),
        (status = 400, description = "Invalid field, or 100 active keys already"),
        (status = 401, description = "Missing or wrong admin token"),
        (status = 403, description = "No admin token configured"),
        (status = 404, description = "No such site"),
    )
)]
async fn issue(
    State(routes): State<KeyRoutes>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RestContext(ctx): RestContext,
    JsonBody(fields): JsonBody<ReadKeyFields>,
) -> Result<Response, ApiError> {
    routes.ingest.check_admin(bearer(&headers)).map_err(|r| r.into_api_error("issuing read keys"))?;
    let id: SiteId = parse_id(&id, "id")?;
    let key = routes.commands.sites.issue_read_key(id, &fields.label, &ctx).await.map_err(failed)?;
    let version = key.result.stream_version;
    let location = Some(format!("/v1/sites/{id}/read-keys/{}", key.key_id));
    let body = IssuedKeyView {
        token: key.bearer(),
        secret: key.secret(),
        key_id: key.key_id,
        result: CommandResultView::from(&key.result),
    };
    Ok(command_response(StatusCode::CREATED, body, version, location))
}

/// Revoke a read key; the stats API refuses it once the revocation is projected.
#[utoipa::path(
    delete, path = "/v1/sites/{id}/read-keys/{key_id}", tag = "sites",
    params(
        ("id" = String, Path, description = "Site id (UUID)"),
        ("key_id" = String, Path, description = "The key's id (16 hex digits)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Client command id"),
    ),
    security(("admin_token" = [])),
    responses(
        (status = 200, body = RevokedKeyView, description = "Revoked (or already revoked: nothing appended)"),
        (status = 400, description = "Malformed key id"),
        (status = 401, description = "Missing or wrong admin token"),
        (status = 403, description = "No admin token configured"),
        (status = 404, description = "No such site or key"),
    )
)]
async fn revoke(
    State(routes): State<KeyRoutes>,
    Path((id, key_id)): Path<(String, String)>,
    headers: HeaderMap,
    RestContext(ctx): RestContext,
) -> Result<Response, ApiError> {
    routes.ingest.check_admin(bearer(&headers)).map_err(|r| r.into_api_error("revoking read keys"))?;
    let id: SiteId = parse_id(&id, "id")?;
    let done = routes.commands.sites.revoke_read_key(id, &key_id, &ctx).await.map_err(failed)?;
    Ok(axum::Json(RevokedKeyView { result: CommandResultView::from(&done) }).into_response())
}
