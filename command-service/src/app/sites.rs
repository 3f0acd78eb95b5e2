//! Site use cases.

use tally_domain::{
    DeleteSite, Profile, RegisterSite, Site, SiteCommand, SiteId, SiteInput, UpdateSite, ValidationError, stream_id,
};

use super::{AppError, CommandContext, Executed, Executor, Stream, fingerprint};

#[derive(Clone)]
pub struct SiteCommands {
    pub(super) executor: Executor,
}

impl SiteCommands {
    pub fn new(executor: Executor) -> Self {
        Self { executor }
    }

    /// Registers a site for an existing profile.
    pub async fn register(&self, input: SiteInput, ctx: &CommandContext) -> Result<Executed<Site>, AppError> {
        let print = fingerprint("RegisterSite", "", &input);
        let id = SiteId::new_v7();
        let command = RegisterSite::new(id, input)?;
        // A cross-aggregate check, so it reads the owner's latest state; a
        // profile deleted in the same instant may still own a new site, which
        // the read model shows as an orphan rather than losing the site.
        let owner = self.executor.load::<Profile>(&stream_id::<Profile>(command.owner_profile_id)).await?;
        if owner.state.data().is_none() {
            return Err(ValidationError::single("owner_profile_id", "no active profile has this id").into());
        }
        self.executor.execute(Stream::New(stream_id::<Site>(id)), &SiteCommand::Register(command), ctx, print).await
    }

    pub async fn update(
        &self,
        id: SiteId,
        input: SiteInput,
        mask: &[String],
        ctx: &CommandContext,
    ) -> Result<Executed<Site>, AppError> {
        let command = UpdateSite::new(id, input, mask)?;
        let print = fingerprint("UpdateSite", &id.to_string(), &command);
        self.executor.execute(Stream::Existing(stream_id::<Site>(id)), &SiteCommand::Update(command), ctx, print).await
    }

    pub async fn delete(&self, id: SiteId, ctx: &CommandContext) -> Result<Executed<Site>, AppError> {
        let command = SiteCommand::Delete(DeleteSite { site_id: id });
        let print = fingerprint("DeleteSite", &id.to_string(), &command);
        self.executor.execute(Stream::Existing(stream_id::<Site>(id)), &command, ctx, print).await
    }
}
