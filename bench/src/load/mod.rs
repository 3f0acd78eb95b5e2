//! The Tally workload: single-event profile commands from simulated clients.
//!
//! Each simulated client has its own connection and owns a few profiles, created before the
//! clock starts. It then loops: UpdateProfile with a new bio (exactly one event) on its
//! profiles in turn, and every Nth command a CreateProfile (one event, new stream). Because
//! no two clients touch the same profile, concurrency never manufactures version conflicts:
//! any error is a real failure and is reported as such.

pub(crate) mod client;
mod driver;
mod grpc;
mod rest;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use tokio::task::JoinSet;
use tokio_postgres::Client;

use crate::cli::Transport;
use crate::cpu::Watch;
use crate::latency::{Latencies, LatencySummary};
use crate::peer::Peer;
use crate::progress::{Live, Progress};
use crate::service::{Batches, CommandService};
use crate::window::{self, Usage, Window};
pub use client::Conn;
pub use driver::SimClient;
use driver::{Outcome, Plan};

/// What the load generator does at one concurrency level.
#[derive(Debug, Clone)]
pub struct Workload {
    pub transport: Transport,
    pub profiles_per_client: u32,
    pub create_every: u64,
    pub max_ops_per_client: u64,
    pub request_timeout: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct TallyResult {
    pub concurrency: u32,
    pub transport: Transport,
    /// Successful commands completed inside the window, per second.
    pub cmds_per_sec: f64,
    pub commands: u64,
    pub creates: u64,
    pub updates: u64,
    /// Failed commands over the whole run, warm-up included (must be 0).
    pub errors: u64,
    pub error_kinds: BTreeMap<String, u64>,
    /// The first few error messages, for diagnosis.
    pub sample_errors: Vec<String>,
    pub latency: LatencySummary,
    pub create_latency: LatencySummary,
    pub update_latency: LatencySummary,
    pub usage: Usage,
    pub batches: Batches,
}

impl Workload {
    /// Runs the `clients` from [`Workload::prepare`] for warm-up + duration against `service`.
    #[allow(clippy::too_many_arguments)]
    pub async fn measure(
        &self,
        tag: usize,
        clients: Vec<SimClient>,
        warmup: Duration,
        duration: Duration,
        service: Option<&CommandService>,
        admin: &Client,
        watch: Watch,
        progress: &Progress,
    ) -> anyhow::Result<TallyResult> {
        let concurrency = clients.len() as u32;

        let live = Arc::new(Live::default());
        let window = Window::after(warmup, duration);
        let plan = Arc::new(Plan {
            tag,
            create_every: self.create_every,
            max_ops: self.max_ops_per_client,
            timeout: self.request_timeout,
            window,
        });
        let _phase = progress.phase(
            &format!("{} {concurrency}", if service.is_some() { "tally" } else { "postgres-es" }),
            warmup + duration,
            Some(live.clone()),
        );
        let mut drivers = JoinSet::new();
        for client in clients {
            drivers.spawn(driver::drive(client, plan.clone(), live.clone()));
        }
        let collect = async {
            let mut outcomes = Vec::new();
            while let Some(done) = drivers.join_next().await {
                outcomes.push(done.context("a load-generator task panicked")?);
            }
            anyhow::Ok(outcomes)
        };
        // The appender's batches exist only on the Tally side; the in-process peer has none.
        let batches = async {
            match service {
                Some(service) => service.observe_batches(window).await,
                None => Ok(Batches::default()),
            }
        };
        let (outcomes, usage, batches) = tokio::join!(collect, window::observe(window, admin, watch), batches);
        Ok(summarise(concurrency, self.transport, &window, outcomes?, usage?, batches?))
    }

    /// Like [`Workload::prepare`] for the in-process peer baseline: every client shares `peer`.
    pub async fn prepare_peer(&self, tag: usize, concurrency: u32, peer: &Peer) -> anyhow::Result<Vec<SimClient>> {
        let mut clients = Vec::new();
        for id in 0..concurrency {
            let mut conn = Conn::Peer(peer.clone());
            let profiles =
                create_profiles(&mut conn, &format!("b{tag}c{id}p"), self.profiles_per_client, self.request_timeout)
                    .await?;
            clients.push(SimClient { id, conn, profiles });
        }
        Ok(clients)
    }

    /// Opens one connection per client and creates its profiles (not measured). `tag` keeps
    /// the handles of this run distinct from earlier runs on the same database.
    pub async fn prepare(&self, tag: usize, concurrency: u32, base: &str) -> anyhow::Result<Vec<SimClient>> {
        let mut setup = JoinSet::new();
        for id in 0..concurrency {
            let (transport, base, count, timeout) =
                (self.transport, base.to_owned(), self.profiles_per_client, self.request_timeout);
            setup.spawn(async move {
                let mut conn = Conn::connect(transport, &base, timeout).await?;
                let profiles = create_profiles(&mut conn, &format!("b{tag}c{id}p"), count, timeout).await?;
                anyhow::Ok(SimClient { id, conn, profiles })
            });
        }
        let mut clients = Vec::new();
        while let Some(done) = setup.join_next().await {
            clients.push(done.context("a setup task panicked")??);
        }
        Ok(clients)
    }

    /// Creates `total` profiles nobody updates later, before any measurement: an event store
    /// in service holds many streams, and a nearly empty one is not what we want to measure
    /// (tiny tables get different query plans and fit in any cache).
    pub async fn seed(&self, total: u32, base: &str) -> anyhow::Result<()> {
        // Enough concurrent creators for the appender to batch, so seeding takes seconds.
        const WORKERS: u32 = 16;
        let mut setup = JoinSet::new();
        for w in 0..WORKERS.min(total) {
            let count = total / WORKERS + u32::from(w < total % WORKERS);
            let (transport, base, timeout) = (self.transport, base.to_owned(), self.request_timeout);
            setup.spawn(async move {
                let mut conn = Conn::connect(transport, &base, timeout).await?;
                create_profiles(&mut conn, &format!("s{w}n"), count, timeout).await
            });
        }
        while let Some(done) = setup.join_next().await {
            done.context("a seeding task panicked")??;
        }
        Ok(())
    }
}

/// Creates `count` profiles with handles `<prefix><n>` one after another; returns their ids.
async fn create_profiles(conn: &mut Conn, prefix: &str, count: u32, timeout: Duration) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::with_capacity(count as usize);
    for n in 0..count {
        let handle = format!("{prefix}{n}");
        let id = tokio::time::timeout(timeout, conn.create(&handle))
            .await
            .map_err(|_| anyhow::anyhow!("creating {handle} timed out"))?
            .map_err(|e| anyhow::anyhow!("creating {handle}: {e}"))?;
        ids.push(id);
    }
    Ok(ids)
}

fn summarise(
    concurrency: u32,
    transport: Transport,
    window: &Window,
    outcomes: Vec<Outcome>,
    usage: Usage,
    batches: Batches,
) -> TallyResult {
    let mut all = Latencies::default();
    let mut creates = Latencies::default();
    let mut updates = Latencies::default();
    let mut error_kinds = BTreeMap::new();
    let mut sample_errors = Vec::new();
    for o in &outcomes {
        all.merge(&o.creates);
        all.merge(&o.updates);
        creates.merge(&o.creates);
        updates.merge(&o.updates);
        for (kind, n) in &o.error_kinds {
            *error_kinds.entry(kind.clone()).or_insert(0) += n;
        }
        sample_errors.extend(o.sample_errors.iter().cloned());
    }
    sample_errors.truncate(5);
    let latency = all.summary();
    TallyResult {
        concurrency,
        transport,
        cmds_per_sec: latency.count as f64 / window.seconds(),
        commands: latency.count,
        creates: creates.summary().count,
        updates: updates.summary().count,
        errors: error_kinds.values().sum(),
        error_kinds,
        sample_errors,
        latency,
        create_latency: creates.summary(),
        update_latency: updates.summary(),
        usage,
        batches,
    }
}
