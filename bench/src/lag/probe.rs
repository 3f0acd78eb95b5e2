//! One command and its way to the read side: UpdateProfile through the command-service, then
//! GetProfile with the command's `min_position` until the query-service answers. The lag is
//! the time from the command's acknowledgement to that answer: what a client doing
//! read-your-writes waits, including the query-service's own freshness poll.

use std::time::{Duration, Instant};

use tally_proto::v1::command_service_client::CommandServiceClient;
use tally_proto::v1::query_service_client::QueryServiceClient;
use tally_proto::v1::{CreateProfileRequest, GetProfileRequest, Profile, UpdateProfileRequest};
use tonic::Code;
use tonic::transport::Channel;

pub type Commands = CommandServiceClient<Channel>;
pub type Queries = QueryServiceClient<Channel>;

/// What one probe saw.
pub struct Sample {
    pub acked_at: Instant,
    pub command: Duration,
    /// `None` when the command failed or never became visible (then `error` says why).
    pub lag: Option<Duration>,
    /// Bounded waits the query-service gave up on (`UNAVAILABLE`) before the answer.
    pub retries: u32,
    pub error: Option<String>,
}

/// Creates a profile and returns its id and the position of its event.
pub async fn create(commands: &mut Commands, handle: &str) -> anyhow::Result<(String, u64)> {
    let response = commands
        .create_profile(CreateProfileRequest {
            profile: Some(Profile {
                handle: handle.to_owned(),
                display_name: format!("Lag {handle}"),
                email: format!("{handle}@bench.example"),
                ..Default::default()
            }),
            command_id: String::new(),
        })
        .await?
        .into_inner();
    let id = response.profile.map(|p| p.id).unwrap_or_default();
    let position = response.result.map_or(0, |r| r.global_position);
    anyhow::ensure!(!id.is_empty() && position > 0, "CreateProfile returned no id or position");
    Ok((id, position))
}

/// Waits until `id` is readable at `position` (bounded by `limit`); returns the retries.
pub async fn visible(queries: &mut Queries, id: &str, position: u64, limit: Duration) -> Result<u32, String> {
    let deadline = Instant::now() + limit;
    let mut retries = 0;
    loop {
        let request = GetProfileRequest { id: id.to_owned(), min_position: Some(position) };
        match queries.get_profile(request).await {
            Ok(_) => return Ok(retries),
            // The service's bounded wait ran out: the read side is behind, ask again.
            Err(s) if s.code() == Code::Unavailable && Instant::now() < deadline => retries += 1,
            Err(s) => return Err(format!("GetProfile at position {position}: {:?} {}", s.code(), s.message())),
        }
    }
}

/// Updates `id` (one event) and follows it to the read side.
pub async fn probe(mut commands: Commands, mut queries: Queries, id: String, k: u64, limit: Duration) -> Sample {
    let started = Instant::now();
    let request = UpdateProfileRequest {
        profile: Some(Profile { id: id.clone(), bio: format!("lag probe {k}"), ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["bio".to_owned()] }),
        ..Default::default()
    };
    let result = commands.update_profile(request).await;
    let acked_at = Instant::now();
    let failed =
        |error: String| Sample { acked_at, command: acked_at - started, lag: None, retries: 0, error: Some(error) };
    let position = match result {
        Ok(r) => match r.into_inner().result {
            Some(result) if result.global_position > 0 => result.global_position,
            _ => return failed("UpdateProfile returned no position".to_owned()),
        },
        Err(s) => return failed(format!("UpdateProfile: {:?} {}", s.code(), s.message())),
    };
    match visible(&mut queries, &id, position, limit).await {
        Ok(retries) => {
            Sample { acked_at, command: acked_at - started, lag: Some(acked_at.elapsed()), retries, error: None }
        }
        Err(e) => failed(e),
    }
}
