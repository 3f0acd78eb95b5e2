//! `tally grpc …`: a few calls of the gRPC API, so the stack can be tried without grpcurl.
//! They go through the gateway of `tally up` unless `--addr` says otherwise, and print
//! which instance answered (nginx's `x-upstream` header).

use anyhow::{Context, Result};
use serde_json::{Value, json};
use tally_proto::v1::{
    CreateProfileRequest, GetProfileByHandleRequest, GetProfileRequest, ListProfilesRequest, Profile,
    command_service_client::CommandServiceClient, query_service_client::QueryServiceClient,
};
use tonic::transport::Channel;

#[derive(Debug, clap::Args)]
pub struct Target {
    /// The gRPC endpoint (h2c).
    #[arg(long, env = "TALLY_GRPC_ADDR", default_value = "http://127.0.0.1:8081", global = true)]
    addr: String,
}

#[derive(Debug, clap::Subcommand)]
pub enum GrpcCommand {
    /// QueryService/ListProfiles.
    ListProfiles {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value_t = 10)]
        page_size: i32,
    },
    /// QueryService/GetProfile (by id) or GetProfileByHandle.
    GetProfile {
        #[command(flatten)]
        target: Target,
        #[arg(long, conflicts_with = "handle", required_unless_present = "handle")]
        id: Option<String>,
        #[arg(long)]
        handle: Option<String>,
    },
    /// CommandService/CreateProfile.
    CreateProfile {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        handle: String,
        #[arg(long)]
        display_name: String,
        #[arg(long)]
        email: String,
    },
}

/// Runs one call and prints the answer as JSON.
pub async fn run(cmd: GrpcCommand) -> Result<()> {
    let out = match cmd {
        GrpcCommand::ListProfiles { target, page_size } => {
            let mut client = QueryServiceClient::new(channel(&target).await?);
            let resp = client
                .list_profiles(ListProfilesRequest { page_size, page_token: String::new(), min_position: None })
                .await?;
            let served_by = upstream(resp.metadata());
            let list = resp.into_inner();
            json!({
                "profiles": list.profiles.iter().map(profile_json).collect::<Vec<_>>(),
                "next_page_token": list.next_page_token,
                "served_by": served_by,
            })
        }
        GrpcCommand::GetProfile { target, id, handle } => {
            let mut client = QueryServiceClient::new(channel(&target).await?);
            let resp = match (id, handle) {
                (Some(id), _) => client.get_profile(GetProfileRequest { id, min_position: None }).await?,
                (None, Some(handle)) => {
                    client.get_profile_by_handle(GetProfileByHandleRequest { handle, ..Default::default() }).await?
                }
                (None, None) => anyhow::bail!("pass --id or --handle"),
            };
            let served_by = upstream(resp.metadata());
            json!({ "profile": profile_json(resp.get_ref()), "served_by": served_by })
        }
        GrpcCommand::CreateProfile { target, handle, display_name, email } => {
            let mut client = CommandServiceClient::new(channel(&target).await?);
            let profile = Profile { handle, display_name, email, ..Default::default() };
            let resp = client
                .create_profile(CreateProfileRequest { profile: Some(profile), command_id: String::new() })
                .await?;
            let served_by = upstream(resp.metadata());
            let created = resp.into_inner();
            json!({
                "profile": created.profile.as_ref().map(profile_json),
                "global_position": created.result.map(|r| r.global_position),
                "served_by": served_by,
            })
        }
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

async fn channel(target: &Target) -> Result<Channel> {
    Channel::from_shared(target.addr.clone())
        .with_context(|| format!("invalid --addr {}", target.addr))?
        .connect()
        .await
        .with_context(|| format!("connect to {}", target.addr))
}

fn upstream(metadata: &tonic::metadata::MetadataMap) -> Option<String> {
    metadata.get("x-upstream").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn profile_json(p: &Profile) -> Value {
    json!({
        "id": p.id,
        "handle": p.handle,
        "display_name": p.display_name,
        "email": p.email,
        "bio": p.bio,
        "version": p.version,
    })
}
