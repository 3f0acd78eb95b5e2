//! Read keys: the bearer credentials of a site's statistics.
//!
//! The secret is drawn here, returned once and never stored: the event
//! carries its SHA-256 only, which is all the query side needs to check it.

use rand::RngCore as _;
use tally_domain::{IssueReadKey, ReadKeyToken, RevokeReadKey, Site, SiteCommand, SiteEvent, SiteId, stream_id};
use tally_event_store::AppendResult;

use super::{AppError, CommandContext, SiteCommands, Stream, fingerprint};

/// A key as its issuer sees it.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    /// The key's id, unique within its site.
    pub key_id: String,
    /// The credential; `None` when the command was a replay (its secret was
    /// shown the first time and is not kept anywhere).
    pub token: Option<ReadKeyToken>,
    /// Where the event landed.
    pub result: AppendResult,
}

impl IssuedKey {
    /// The secret alone, as the API shows it next to the token.
    pub fn secret(&self) -> Option<String> {
        self.token.as_ref().map(|t| t.secret().to_owned())
    }

    /// The bearer credential the stats API takes: `<key_id>.<secret>`.
    pub fn bearer(&self) -> Option<String> {
        self.token.as_ref().map(ToString::to_string)
    }
}

/// A fresh token from `rand`'s thread generator, a CSPRNG seeded from the OS.
fn draw() -> ReadKeyToken {
    let mut rng = rand::rng();
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut id);
    rng.fill_bytes(&mut secret);
    ReadKeyToken::from_random(id, secret)
}

impl SiteCommands {
    /// Issues a read key for a live site.
    pub async fn issue_read_key(&self, id: SiteId, label: &str, ctx: &CommandContext) -> Result<IssuedKey, AppError> {
        // The drawn id and secret differ on every attempt, so the
        // fingerprint covers only what the caller asked for.
        let print = fingerprint("IssueSiteReadKey", &id.to_string(), &label.trim());
        let token = draw();
        let command = IssueReadKey::new(id, token.key_id().clone(), token.digest(), label)?;
        let stream = stream_id::<Site>(id);
        let done = self
            .executor
            .execute::<Site>(Stream::Existing(stream.clone()), &SiteCommand::IssueReadKey(command), ctx, print)
            .await?;
        if !done.result.replayed {
            let key_id = token.key_id().as_str().to_owned();
            return Ok(IssuedKey { key_id, token: Some(token), result: done.result });
        }
        // A retry of an issued key answers with that key's id.
        match self.executor.event_at::<Site>(&stream, done.result.stream_version).await? {
            SiteEvent::ReadKeyIssued(e) => {
                Ok(IssuedKey { key_id: e.key_id.as_str().to_owned(), token: None, result: done.result })
            }
            other => Err(AppError::Corrupt {
                stream_id: stream,
                version: done.result.stream_version,
                reason: format!("command replayed as {other:?}, not a read key"),
            }),
        }
    }

    /// Revokes a read key; revoking a revoked key records nothing.
    pub async fn revoke_read_key(
        &self,
        id: SiteId,
        key_id: &str,
        ctx: &CommandContext,
    ) -> Result<AppendResult, AppError> {
        let command = RevokeReadKey::new(id, key_id)?;
        let print = fingerprint("RevokeSiteReadKey", &id.to_string(), &command);
        let done = self
            .executor
            .execute::<Site>(Stream::Existing(stream_id::<Site>(id)), &SiteCommand::RevokeReadKey(command), ctx, print)
            .await?;
        Ok(done.result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawn_keys_are_well_formed_and_distinct() {
        let (a, b) = (draw(), draw());
        let (secret_a, secret_b) = (a.secret(), b.secret());
        assert_ne!((a.key_id(), secret_a), (b.key_id(), secret_b));
        assert_eq!(secret_a.len(), 43, "{secret_a}");
        assert!(secret_a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'), "{secret_a}");
    }

    #[test]
    fn the_hash_is_sha256_of_the_secret_text() {
        use sha2::Digest as _;
        let token = draw();
        assert_eq!(token.digest(), <[u8; 32]>::from(sha2::Sha256::digest(token.secret().as_bytes())));
    }
}
