//! Profile use cases.

use tally_domain::{
    CreateProfile, DeleteProfile, Profile, ProfileCommand, ProfileId, ProfileInput, UpdateProfile, stream_id,
};

use super::{AppError, CommandContext, Executed, Executor, Stream, fingerprint};

#[derive(Clone)]
pub struct ProfileCommands {
    executor: Executor,
}

impl ProfileCommands {
    pub fn new(executor: Executor) -> Self {
        Self { executor }
    }

    /// Creates a profile with a new server-assigned id.
    pub async fn create(&self, input: ProfileInput, ctx: &CommandContext) -> Result<Executed<Profile>, AppError> {
        let print = fingerprint("CreateProfile", "", &input);
        let id = ProfileId::new_v7();
        let command = ProfileCommand::Create(CreateProfile::new(id, input)?);
        self.executor.execute(Stream::New(stream_id::<Profile>(id)), &command, ctx, print).await
    }

    /// Changes the fields named by `mask` (AIP-134).
    pub async fn update(
        &self,
        id: ProfileId,
        input: ProfileInput,
        mask: &[String],
        ctx: &CommandContext,
    ) -> Result<Executed<Profile>, AppError> {
        let command = UpdateProfile::new(id, input, mask)?;
        let print = fingerprint("UpdateProfile", &id.to_string(), &command);
        self.executor
            .execute(Stream::Existing(stream_id::<Profile>(id)), &ProfileCommand::Update(command), ctx, print)
            .await
    }

    pub async fn delete(&self, id: ProfileId, ctx: &CommandContext) -> Result<Executed<Profile>, AppError> {
        let command = ProfileCommand::Delete(DeleteProfile { profile_id: id });
        let print = fingerprint("DeleteProfile", &id.to_string(), &command);
        self.executor.execute(Stream::Existing(stream_id::<Profile>(id)), &command, ctx, print).await
    }
}
