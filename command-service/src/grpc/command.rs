//! `tally.v1.CommandService`: proto requests become domain commands here.

use tally_domain::{Profile, ProfileId, ProfileInput, Site, SiteId, SiteInput};
use tally_platform::error::ApiError;
use tally_proto::{
    convert::{ResourceMeta, profile_to_proto, site_to_proto},
    v1::{self, command_service_server::CommandService},
};
use tonic::{Request, Response, Status};

use super::context::command_context;
use crate::app::{AppError, Commands, Executed, Loaded, analytics::Ingest};

/// The gRPC service over the shared [`Commands`] and analytics [`Ingest`].
#[derive(Clone)]
pub struct CommandGrpc {
    commands: Commands,
    ingest: Ingest,
}

impl CommandGrpc {
    pub fn new(commands: Commands, ingest: Ingest) -> Self {
        Self { commands, ingest }
    }

    /// Refuses a request without the admin token in `authorization` metadata.
    fn admin(&self, metadata: &tonic::metadata::MetadataMap, what: &str) -> Result<(), Status> {
        let presented =
            metadata.get("authorization").and_then(|v| v.to_str().ok()).and_then(tally_platform::http::bearer);
        self.ingest.check_admin(presented).map_err(|r| Status::from(r.into_api_error(what)))
    }
}

pub(super) fn failed(e: AppError) -> Status {
    e.log_if_internal();
    ApiError::from(e).into()
}

fn result(done: &tally_event_store::AppendResult) -> v1::CommandResult {
    v1::CommandResult {
        stream_id: done.stream_id.clone(),
        stream_version: done.stream_version,
        global_position: done.global_position,
        events_appended: done.events_appended,
        replayed: done.replayed,
    }
}

fn meta<A>(loaded: &Loaded<A>) -> ResourceMeta {
    ResourceMeta { version: loaded.version, create_time: loaded.created_at, update_time: loaded.updated_at }
}

fn profile_response(done: Executed<Profile>) -> v1::ProfileCommandResponse {
    v1::ProfileCommandResponse {
        profile: done.loaded.state.data().map(|d| profile_to_proto(d, &meta(&done.loaded))),
        result: Some(result(&done.result)),
    }
}

fn site_response(done: Executed<Site>) -> v1::SiteCommandResponse {
    v1::SiteCommandResponse {
        site: done.loaded.state.data().map(|d| site_to_proto(d, &meta(&done.loaded))),
        result: Some(result(&done.result)),
    }
}

fn parse_id<T: std::str::FromStr>(raw: &str, field: &str) -> Result<T, Status> {
    raw.parse().map_err(|_| ApiError::field(field, format!("must be a UUID, got {raw:?}")).into())
}

fn mask_paths(mask: Option<prost_types::FieldMask>) -> Vec<String> {
    mask.map(|m| m.paths).unwrap_or_default()
}

#[tonic::async_trait]
impl CommandService for CommandGrpc {
    async fn create_profile(
        &self,
        request: Request<v1::CreateProfileRequest>,
    ) -> Result<Response<v1::ProfileCommandResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let ctx = command_context(&metadata, &req.command_id, None)?;
        let profile = req.profile.ok_or_else(|| Status::from(ApiError::field("profile", "is required")))?;
        let done = self.commands.profiles.create(ProfileInput::from(profile), &ctx).await.map_err(failed)?;
        Ok(Response::new(profile_response(done)))
    }

    async fn update_profile(
        &self,
        request: Request<v1::UpdateProfileRequest>,
    ) -> Result<Response<v1::ProfileCommandResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let ctx = command_context(&metadata, &req.command_id, req.expected_version)?;
        let profile = req.profile.ok_or_else(|| Status::from(ApiError::field("profile", "is required")))?;
        let id: ProfileId = parse_id(&profile.id, "profile.id")?;
        let mask = mask_paths(req.update_mask);
        let done = self.commands.profiles.update(id, ProfileInput::from(profile), &mask, &ctx).await.map_err(failed)?;
        Ok(Response::new(profile_response(done)))
    }

    async fn delete_profile(
        &self,
        request: Request<v1::DeleteProfileRequest>,
    ) -> Result<Response<v1::DeleteResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let ctx = command_context(&metadata, &req.command_id, req.expected_version)?;
        let id: ProfileId = parse_id(&req.id, "id")?;
        let done = self.commands.profiles.delete(id, &ctx).await.map_err(failed)?;
        Ok(Response::new(v1::DeleteResponse { result: Some(result(&done.result)) }))
    }

    async fn register_site(
        &self,
        request: Request<v1::RegisterSiteRequest>,
    ) -> Result<Response<v1::SiteCommandResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let ctx = command_context(&metadata, &req.command_id, None)?;
        let site = req.site.ok_or_else(|| Status::from(ApiError::field("site", "is required")))?;
        let done = self.commands.sites.register(SiteInput::from(site), &ctx).await.map_err(failed)?;
        Ok(Response::new(site_response(done)))
    }

    async fn update_site(
        &self,
        request: Request<v1::UpdateSiteRequest>,
    ) -> Result<Response<v1::SiteCommandResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let ctx = command_context(&metadata, &req.command_id, req.expected_version)?;
        let site = req.site.ok_or_else(|| Status::from(ApiError::field("site", "is required")))?;
        let id: SiteId = parse_id(&site.id, "site.id")?;
        let mask = mask_paths(req.update_mask);
        let done = self.commands.sites.update(id, SiteInput::from(site), &mask, &ctx).await.map_err(failed)?;
        Ok(Response::new(site_response(done)))
    }

    async fn delete_site(
        &self,
        request: Request<v1::DeleteSiteRequest>,
    ) -> Result<Response<v1::DeleteResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let ctx = command_context(&metadata, &req.command_id, req.expected_version)?;
        let id: SiteId = parse_id(&req.id, "id")?;
        let done = self.commands.sites.delete(id, &ctx).await.map_err(failed)?;
        Ok(Response::new(v1::DeleteResponse { result: Some(result(&done.result)) }))
    }

    async fn issue_site_read_key(
        &self,
        request: Request<v1::IssueSiteReadKeyRequest>,
    ) -> Result<Response<v1::IssueSiteReadKeyResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        self.admin(&metadata, "issuing read keys")?;
        let ctx = command_context(&metadata, &req.command_id, None)?;
        let id: SiteId = parse_id(&req.site_id, "site_id")?;
        let key = self.commands.sites.issue_read_key(id, &req.label, &ctx).await.map_err(failed)?;
        Ok(Response::new(v1::IssueSiteReadKeyResponse {
            token: key.bearer().unwrap_or_default(),
            secret: key.secret().unwrap_or_default(),
            key_id: key.key_id,
            result: Some(result(&key.result)),
        }))
    }

    async fn revoke_site_read_key(
        &self,
        request: Request<v1::RevokeSiteReadKeyRequest>,
    ) -> Result<Response<v1::RevokeSiteReadKeyResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        self.admin(&metadata, "revoking read keys")?;
        let ctx = command_context(&metadata, &req.command_id, None)?;
        let id: SiteId = parse_id(&req.site_id, "site_id")?;
        let done = self.commands.sites.revoke_read_key(id, &req.key_id, &ctx).await.map_err(failed)?;
        Ok(Response::new(v1::RevokeSiteReadKeyResponse { result: Some(result(&done)) }))
    }

    async fn record_events(
        &self,
        request: Request<v1::RecordEventsRequest>,
    ) -> Result<Response<v1::RecordEventsResponse>, Status> {
        super::ingest::record_events(&self.ingest, request).await
    }
}
