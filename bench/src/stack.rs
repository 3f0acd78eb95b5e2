//! The whole Tally stack a workload runs against: one durable cluster with the event store
//! (migrated) and the read DB, and — for the workloads that need the streaming path — Tansu
//! with the topics plus the real command-service (with its relay), projector and
//! query-service.

use std::collections::BTreeMap;

use anyhow::Context;
use tally_devstack::{Broker, BrokerOptions, PgCluster};
use tokio_postgres::Client;

use crate::binaries::ReadSide;
use crate::cluster;
use crate::processes::{self, Running};
use crate::reads::{READ_DB, WRITE_DB};
use crate::seed;

/// Every topic the relay publishes to and the projector follows.
const TOPICS: [&str; 2] = ["tally.profile.v1", "tally.analytics.v1"];

pub struct Databases {
    pub pg: PgCluster,
    pub admin: Client,
    /// The server's settings, for the report.
    pub settings: BTreeMap<String, String>,
    pub write_url: String,
    pub read_url: String,
}

impl Databases {
    /// Starts the cluster, creates both databases and migrates the event store.
    pub async fn start() -> anyhow::Result<Self> {
        let pg = cluster::start(Vec::new()).await?;
        let admin = cluster::connect(&pg, "postgres").await?;
        let settings = cluster::settings(&admin).await?;
        pg.create_database(WRITE_DB).await?;
        pg.create_database(READ_DB).await?;
        let (write_url, read_url) = (pg.url(WRITE_DB), pg.url(READ_DB));
        seed::migrate(&write_url).await?;
        Ok(Self { pg, admin, settings, write_url, read_url })
    }

    pub async fn write_db(&self) -> anyhow::Result<Client> {
        cluster::connect(&self.pg, WRITE_DB).await
    }

    pub async fn read_db(&self) -> anyhow::Result<Client> {
        cluster::connect(&self.pg, READ_DB).await
    }
}

/// The three services, in this order, and the broker between them.
pub struct Services {
    /// Lives (and is shut down) with the services.
    broker: Broker,
    pub command: Running,
    pub projector: Running,
    pub query: Running,
}

impl Services {
    pub async fn start(bins: &ReadSide, dbs: &Databases, partitions: u32) -> anyhow::Result<Self> {
        let broker = Broker::start(BrokerOptions::default()).await.context("starting Tansu")?;
        for topic in TOPICS {
            broker.create_topic(topic, partitions).await?;
        }
        let brokers = broker.bootstrap();
        let command = processes::command_service(&bins.command_service, &dbs.write_url, &brokers, partitions).await?;
        let projector = processes::projector(&bins.projector, &dbs.read_url, &dbs.write_url, &brokers).await?;
        let query = processes::query_service(&bins.query_service, &dbs.read_url, None).await?;
        Ok(Self { broker, command, projector, query })
    }

    pub fn all(&self) -> [&Running; 3] {
        [&self.command, &self.projector, &self.query]
    }

    /// `(name, pid)` of each service.
    pub fn pids(&self) -> Vec<(String, i32)> {
        self.all().iter().map(|s| (s.process.name().to_owned(), s.process.pid())).collect()
    }

    /// The broker's pid: part of Tally's write path, so part of its CPU use.
    pub fn broker_pid(&self) -> i32 {
        self.broker.pid()
    }

    /// Fails when any service has died.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        for service in [&mut self.command, &mut self.projector, &mut self.query] {
            service.ensure_running()?;
        }
        Ok(())
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        for service in [self.command, self.projector, self.query] {
            service.stop().await?;
        }
        Ok(())
    }
}
