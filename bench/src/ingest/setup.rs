//! The services under test and the sites they serve.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use tally_devstack::{Broker, BrokerOptions, PgCluster};
use tally_proto::v1::{CreateProfileRequest, IssueSiteReadKeyRequest, Profile, RegisterSiteRequest, Site};
use tonic::transport::Endpoint;

use super::events::{TIME_ZONES, domain};
use super::probe::{self, Commands, Queries};
use crate::binaries::ReadSide;
use crate::cluster;
use crate::processes::{self, Running};

pub use crate::reads::{READ_DB, WRITE_DB};

const PROFILE_TOPIC: &str = "tally.profile.v1";
const ANALYTICS_TOPIC: &str = "tally.analytics.v1";

pub struct Stack {
    pub pg: PgCluster,
    settings: BTreeMap<String, String>,
    _broker: Broker,
    pub command: Running,
    projector: Running,
    query: Running,
    pub commands: Commands,
    pub queries: Queries,
}

impl Stack {
    pub async fn start(bins: &ReadSide, partitions: u32, statements: bool) -> anyhow::Result<Self> {
        let pg = cluster::start(if statements { crate::statements::settings() } else { Vec::new() }).await?;
        let admin = cluster::connect(&pg, "postgres").await?;
        let settings = cluster::settings(&admin).await?;
        if statements {
            crate::statements::install(&admin).await?;
        }
        pg.create_database(WRITE_DB).await?;
        pg.create_database(READ_DB).await?;
        let (write_url, read_url) = (pg.url(WRITE_DB), pg.url(READ_DB));
        let broker = Broker::start(BrokerOptions::default()).await.context("starting Tansu")?;
        broker.create_topic(PROFILE_TOPIC, partitions).await?;
        broker.create_topic(ANALYTICS_TOPIC, partitions).await?;
        let brokers = broker.bootstrap();
        // The clients send each event's visitor address (`ip`) like an edge would: the
        // service believes it only from a trusted proxy, loopback here.
        let env = vec![
            ("TALLY_INGEST__TRUSTED_PROXIES", "127.0.0.1".to_owned()),
            ("TALLY_INGEST__ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
        ];
        let command =
            processes::command_service_with(&bins.command_service, &write_url, &brokers, partitions, env).await?;
        let projector = processes::projector(&bins.projector, &read_url, &write_url, &brokers).await?;
        let query = processes::query_service(&bins.query_service, &read_url, None).await?;
        let connect = |base: String| async move {
            Endpoint::from_shared(base.clone())?
                .tcp_nodelay(true)
                .connect()
                .await
                .with_context(|| format!("gRPC connect to {base}"))
        };
        let commands = Commands::new(connect(command.base.clone()).await?);
        let queries = Queries::new(connect(query.base.clone()).await?);
        Ok(Self { pg, settings, _broker: broker, command, projector, query, commands, queries })
    }

    /// A connection to the cluster's `postgres` database.
    pub async fn admin(&self) -> anyhow::Result<tokio_postgres::Client> {
        cluster::connect(&self.pg, "postgres").await
    }

    /// Each service's peak resident memory since it started (`VmHWM`), in MiB.
    pub fn peak_rss_mib(&self) -> Vec<(String, f64)> {
        [("command-service", &self.command), ("projector", &self.projector), ("query-service", &self.query)]
            .into_iter()
            .map(|(name, s)| {
                let kib = crate::footprint::rss::read(s.process.pid()).map_or(0, |m| m.hwm_kib);
                (name.to_owned(), kib as f64 / 1024.0)
            })
            .collect()
    }

    /// Stops the services (a crash during the run fails it); returns the server settings.
    pub async fn stop(mut self) -> anyhow::Result<BTreeMap<String, String>> {
        for service in [&mut self.command, &mut self.projector, &mut self.query] {
            service.ensure_running()?;
        }
        for service in [self.command, self.projector, self.query] {
            service.stop().await?;
        }
        Ok(self.settings)
    }
}

/// The command-service's admin token in this run (it issues the sites' read keys).
const ADMIN_TOKEN: &str = "ingest-bench-admin";

/// The registered sites, in generator order, with their read keys, and the probe site.
pub struct Sites {
    pub ids: Vec<String>,
    pub keys: Vec<String>,
    pub probe: String,
    pub probe_key: String,
}

/// Registers one owner, `n` sites and the probe site, and waits until the read side has them.
pub async fn register_sites(stack: &Stack, n: usize, limit: Duration) -> anyhow::Result<Sites> {
    let mut commands = stack.commands.clone();
    let owner = commands
        .create_profile(CreateProfileRequest {
            profile: Some(Profile {
                handle: "ingest_owner".to_owned(),
                display_name: "Ingest bench".to_owned(),
                email: "owner@bench.example".to_owned(),
                ..Default::default()
            }),
            command_id: String::new(),
        })
        .await
        .context("CreateProfile")?
        .into_inner()
        .profile
        .map(|p| p.id)
        .context("CreateProfile returned no profile")?;
    let (mut ids, mut keys) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for k in 0..n {
        let (id, _) = register(&mut commands, &owner, domain(k), TIME_ZONES[k % TIME_ZONES.len()]).await?;
        keys.push(read_key(&mut commands, &id).await?.0);
        ids.push(id);
    }
    let (probe, _) = register(&mut commands, &owner, "probe.bench.example".to_owned(), "UTC").await?;
    let (probe_key, position) = read_key(&mut commands, &probe).await?;
    // Not measured: the read side knows every site and key before the clock starts.
    probe::aggregate(&mut stack.queries.clone(), &probe, &probe_key, position, limit)
        .await
        .map_err(anyhow::Error::msg)?;
    Ok(Sites { ids, keys, probe, probe_key })
}

/// IssueSiteReadKey; returns the bearer token and the position of its event.
async fn read_key(commands: &mut Commands, site: &str) -> anyhow::Result<(String, u64)> {
    let mut request = tonic::Request::new(IssueSiteReadKeyRequest {
        site_id: site.to_owned(),
        label: "bench".to_owned(),
        ..Default::default()
    });
    request.metadata_mut().insert("authorization", format!("Bearer {ADMIN_TOKEN}").parse()?);
    let r =
        commands.issue_site_read_key(request).await.with_context(|| format!("IssueSiteReadKey {site}"))?.into_inner();
    Ok((r.token, r.result.map_or(0, |r| r.global_position)))
}

/// RegisterSite; returns the site's id and the position of its event.
async fn register(
    commands: &mut Commands,
    owner: &str,
    domain: String,
    time_zone: &str,
) -> anyhow::Result<(String, u64)> {
    let r = commands
        .register_site(RegisterSiteRequest {
            site: Some(Site {
                domain: domain.clone(),
                time_zone: time_zone.to_owned(),
                owner_profile_id: owner.to_owned(),
                ..Default::default()
            }),
            command_id: String::new(),
        })
        .await
        .with_context(|| format!("RegisterSite {domain}"))?
        .into_inner();
    let id = r.site.map(|s| s.id).with_context(|| format!("RegisterSite {domain} returned no site"))?;
    Ok((id, r.result.map_or(0, |r| r.global_position)))
}

/// What `aggregate` counts once the read side has reached `position`.
pub struct Visible {
    pub events: u64,
}

/// Waits until the read side has reached `position`, then sums `events` over every site.
pub async fn count_visible(
    stack: &mut Stack,
    sites: &Sites,
    position: u64,
    limit: Duration,
) -> anyhow::Result<Visible> {
    let mut events = 0;
    for (id, key) in sites.ids.iter().zip(&sites.keys) {
        let metrics =
            probe::aggregate(&mut stack.queries, id, key, position, limit).await.map_err(anyhow::Error::msg)?;
        events += metrics.events;
    }
    Ok(Visible { events })
}

/// The probe site's events (every probe waited for its own visibility before this).
pub async fn probe_count(stack: &mut Stack, sites: &Sites, limit: Duration) -> anyhow::Result<u64> {
    let metrics = probe::aggregate(&mut stack.queries, &sites.probe, &sites.probe_key, 0, limit)
        .await
        .map_err(anyhow::Error::msg)?;
    Ok(metrics.events)
}
