//! gRPC transport (tonic), one HTTP/2 channel per simulated client.

use std::time::Duration;

use anyhow::Context;
use tally_proto::v1::command_service_client::CommandServiceClient;
use tally_proto::v1::{CreateProfileRequest, Profile, ProfileCommandResponse, UpdateProfileRequest};
use tonic::transport::{Channel, Endpoint};

use super::client::{OpError, email, expect_one_event};

pub struct GrpcConn {
    client: CommandServiceClient<Channel>,
}

impl GrpcConn {
    pub async fn connect(base: &str, timeout: Duration) -> anyhow::Result<Self> {
        let channel = Endpoint::from_shared(base.to_owned())?
            .connect_timeout(timeout)
            .timeout(timeout)
            // Small request/response pairs: Nagle would add delay, never throughput.
            .tcp_nodelay(true)
            .connect()
            .await
            .with_context(|| format!("gRPC connect to {base}"))?;
        Ok(Self { client: CommandServiceClient::new(channel) })
    }

    pub async fn create(&mut self, handle: &str) -> Result<String, OpError> {
        let request = CreateProfileRequest {
            profile: Some(Profile {
                handle: handle.to_owned(),
                display_name: format!("Bench {handle}"),
                email: email(handle),
                ..Default::default()
            }),
            command_id: String::new(),
        };
        let response = self.client.create_profile(request).await.map_err(status)?.into_inner();
        check(&response)?;
        response
            .profile
            .map(|p| p.id)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| OpError::new("unexpected result", "CreateProfile returned no profile id"))
    }

    pub async fn update(&mut self, id: &str, bio: &str) -> Result<(), OpError> {
        let request = UpdateProfileRequest {
            profile: Some(Profile { id: id.to_owned(), bio: bio.to_owned(), ..Default::default() }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["bio".to_owned()] }),
            ..Default::default()
        };
        let response = self.client.update_profile(request).await.map_err(status)?.into_inner();
        check(&response)
    }
}

fn check(response: &ProfileCommandResponse) -> Result<(), OpError> {
    expect_one_event(response.result.as_ref().map(|r| u64::from(r.events_appended)))
}

fn status(s: tonic::Status) -> OpError {
    OpError::new(format!("grpc {:?}", s.code()), s.message().to_owned())
}
