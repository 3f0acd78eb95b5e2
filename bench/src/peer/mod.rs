//! The peer baseline: the same Profile aggregate on `cqrs-es` + `postgres-es`.
//!
//! Users choosing an event-sourcing stack in Rust compare Tally with these crates, so the
//! commands workload runs them on the same Postgres, with the same commands, in the same run.
//! The baseline is generous to the peer: it runs *in process* (no network, no gRPC), keeps a
//! snapshot of each aggregate after every command (so a long-lived profile is not replayed
//! from its first event), and does not enforce unique handles (postgres-es has no set
//! validation). Tally does all three of those things the hard way.

mod aggregate;

use std::sync::Arc;

use anyhow::Context;
use cqrs_es::AggregateError;
use postgres_es::PostgresCqrs;
use sqlx::postgres::PgPoolOptions;
use tally_domain::{CreateProfile, ProfileCommand, ProfileId, ProfileInput, UpdateProfile};

pub use aggregate::PeerProfile;

use crate::load::client::{OpError, email};

/// The tables postgres-es reads and writes (its documented schema).
const SCHEMA: &str = "
CREATE TABLE events (
    aggregate_type text   NOT NULL,
    aggregate_id   text   NOT NULL,
    sequence       bigint NOT NULL CHECK (sequence >= 0),
    event_type     text   NOT NULL,
    event_version  text   NOT NULL,
    payload        json   NOT NULL,
    metadata       json   NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);
CREATE TABLE snapshots (
    aggregate_type   text   NOT NULL,
    aggregate_id     text   NOT NULL,
    last_sequence    bigint NOT NULL CHECK (last_sequence >= 0),
    current_snapshot bigint NOT NULL CHECK (current_snapshot >= 0),
    payload          json   NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
);";

/// A snapshot after every command: the peer's fastest configuration for streams that keep
/// growing (the plain event-store mode replays every event of the stream per command).
const SNAPSHOT_EVERY: usize = 1;

/// The peer framework over its own database, shared by every simulated client (it is what
/// an application would share between request handlers).
#[derive(Clone)]
pub struct Peer {
    cqrs: Arc<PostgresCqrs<PeerProfile>>,
}

impl Peer {
    /// Creates the schema in `url`'s (empty) database and a pool of `pool_size` connections,
    /// the same size as the command-service's.
    pub async fn start(url: &str, pool_size: u32) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(pool_size)
            .connect(url)
            .await
            .context("connecting the postgres-es pool")?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await.context("creating the postgres-es tables")?;
        let cqrs = postgres_es::postgres_snapshot_cqrs(pool, Vec::new(), SNAPSHOT_EVERY, ());
        Ok(Self { cqrs: Arc::new(cqrs) })
    }

    /// CreateProfile with the fields the Tally clients send; returns the new id.
    pub async fn create(&self, handle: &str) -> Result<String, OpError> {
        let id = ProfileId::new_v7();
        let input = ProfileInput {
            handle: handle.to_owned(),
            display_name: format!("Bench {handle}"),
            email: email(handle),
            ..Default::default()
        };
        let command = CreateProfile::new(id, input).map_err(|e| OpError::new("invalid", e.to_string()))?;
        self.execute(&id, ProfileCommand::Create(command)).await?;
        Ok(id.to_string())
    }

    /// UpdateProfile setting a new bio: one event.
    pub async fn update(&self, id: &str, bio: &str) -> Result<(), OpError> {
        let id: ProfileId = id.parse().map_err(|e| OpError::new("invalid", format!("{e}")))?;
        let input = ProfileInput { bio: bio.to_owned(), ..Default::default() };
        let command =
            UpdateProfile::new(id, input, &["bio".to_owned()]).map_err(|e| OpError::new("invalid", e.to_string()))?;
        self.execute(&id, ProfileCommand::Update(command)).await
    }

    async fn execute(&self, id: &ProfileId, command: ProfileCommand) -> Result<(), OpError> {
        self.cqrs.execute(&id.to_string(), PeerCommand(command)).await.map_err(|e| match e {
            AggregateError::AggregateConflict => OpError::new("conflict", "optimistic lock"),
            other => OpError::new("postgres-es", other.to_string()),
        })
    }
}

/// The command type the peer aggregate takes (a newtype so the trait impls live here).
#[derive(Debug)]
pub struct PeerCommand(pub ProfileCommand);
