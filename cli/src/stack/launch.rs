//! The complete local stack as one value. `tally up` and the gateway end-to-end test both
//! start it through [`Stack::start`], so the test exercises exactly what users run.
//!
//! Start order (stop order is the reverse): write Postgres, read Postgres, a streaming
//! replica of the read cluster, the Kafka-protocol broker with its topics, the
//! command-service (its relay publishes to the broker), the projector (Kafka mode), two
//! query-services on the replica, and nginx in front.

use std::path::PathBuf;

use anyhow::{Context, Result};
use rand::Rng;
use tally_devstack::{
    Broker, BrokerOptions, GatewayPorts, Nginx, NginxOptions, PgCluster, PgOptions, ProcessStamp, Readiness, Service,
    ServiceSpec, free_port,
};

use super::endpoints::Endpoints;
use super::services::{self, READ_DB, WRITE_DB};
use super::state::{ServiceEntry, StackFile, StateDir};
use super::{health, kafka_replay};
use crate::ui::{note, step};

/// Ports of every part; 0 picks a free one at start (tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackPorts {
    pub pg_write: u16,
    pub pg_read: u16,
    pub pg_replica: u16,
    pub broker: u16,
    pub command: u16,
    pub projector: u16,
    pub query: [u16; 2],
    /// The gateway's REST (HTTP/1.1) port.
    pub http: u16,
    /// The gateway's gRPC (h2c) port.
    pub grpc: u16,
}

impl StackPorts {
    /// The fixed ports of `tally up`, so printed examples and bookmarks stay valid.
    pub const LOCAL: Self = Self {
        pg_write: 5433,
        pg_read: 5434,
        pg_replica: 5435,
        broker: 9092,
        command: 8100,
        projector: 8101,
        query: [8102, 8103],
        http: 8080,
        grpc: 8081,
    };

    /// Free ports, picked as each part starts.
    pub const EPHEMERAL: Self = Self {
        pg_write: 0,
        pg_read: 0,
        pg_replica: 0,
        broker: 0,
        command: 0,
        projector: 0,
        query: [0, 0],
        http: 0,
        grpc: 0,
    };

    /// The fixed TCP ports among these (0 = "any" is left out).
    pub fn fixed(&self) -> Vec<u16> {
        let all = [
            self.pg_write,
            self.pg_read,
            self.pg_replica,
            self.broker,
            self.command,
            self.projector,
            self.query[0],
            self.query[1],
            self.http,
            self.grpc,
        ];
        all.into_iter().filter(|p| *p != 0).collect()
    }
}

/// What to start and where.
#[derive(Debug, Clone)]
pub struct StackConfig {
    pub state: StateDir,
    pub ports: StackPorts,
    /// Directory holding `command-service`, `projector` and `query-service`.
    pub bin_dir: PathBuf,
    /// Durable clusters (fsync on), as `tally up` keeps them; tests trade that for speed.
    pub durable: bool,
}

/// Partitions per topic: more than one, so per-partition ordering and watermarks matter,
/// few enough for one projector.
pub const TOPIC_PARTITIONS: u32 = 3;

/// Tally's topics (`tally_streaming::TOPICS`), spelled out rather than imported: that crate
/// would link librdkafka into this CLI. The relay creates any topic missing here anyway.
const TOPICS: [&str; 2] = ["tally.profile.v1", "tally.analytics.v1"];

/// The running stack. Fields are declared in stop order, so even a plain drop (a failing
/// test) stops the gateway and the services before the infrastructure they use.
#[derive(Default)]
pub struct Stack {
    nginx: Option<Nginx>,
    services: Vec<Service>,
    broker: Option<Broker>,
    replica: Option<PgCluster>,
    read: Option<PgCluster>,
    write: Option<PgCluster>,
    endpoints: Option<Endpoints>,
    record: StackFile,
    state: Option<StateDir>,
}

impl Stack {
    /// Starts every part, each once the previous one is healthy. On error, what did start
    /// stays in `self` for [`Stack::shutdown`].
    pub async fn start(&mut self, cfg: &StackConfig) -> Result<()> {
        let state = &cfg.state;
        self.state = Some(state.clone());
        std::fs::create_dir_all(state.logs()).with_context(|| format!("create {}", state.logs().display()))?;

        let write = start_pg("postgres (write)", state.pg(), cfg.ports.pg_write, cfg.durable, None).await?;
        let write = self.write.insert(write);
        write.ensure_database(WRITE_DB).await?;
        self.record.postgres_port = Some(write.port());
        let write_url = write.url(WRITE_DB);

        let read = start_pg("postgres (read)", state.pg_read(), cfg.ports.pg_read, cfg.durable, None).await?;
        let read = self.read.insert(read);
        read.ensure_database(READ_DB).await?;
        let read_url = read.url(READ_DB);
        let read_port = read.port();

        let replica =
            start_pg("postgres (read replica)", state.pg_replica(), cfg.ports.pg_replica, cfg.durable, Some(read_port))
                .await?;
        let replica_url = self.replica.insert(replica).url(READ_DB);

        let broker_log = state.logs().join("tansu.log");
        let broker = step("kafka broker (tansu)", start_broker(cfg.ports.broker, broker_log), |b: &Broker| {
            format!("{} with topics {} × {TOPIC_PARTITIONS} partitions", b.bootstrap(), TOPICS.join(", "))
        })
        .await?;
        let brokers = broker.bootstrap();
        self.track(Some(broker.pid()), "tansu", None, broker.log_path().to_path_buf());
        self.broker = Some(broker);
        // The broker keeps messages in memory only: a restarted stack has an empty one.
        step("kafka replay", kafka_replay::rewind(&write_url, &read_url), Clone::clone).await?;

        let command_port = pick(cfg.ports.command)?;
        // A new one at every start, never written anywhere: only this process seeds.
        let admin_token: String = rand::rng().sample_iter(rand::distr::Alphanumeric).take(32).map(char::from).collect();
        let env = services::command(&write_url, &brokers, command_port, &admin_token);
        self.spawn(cfg, "command-service", env, command_port).await?;
        let projector_port = pick(cfg.ports.projector)?;
        self.spawn(
            cfg,
            "projector",
            services::projector(&read_url, &write_url, &brokers, projector_port),
            projector_port,
        )
        .await?;
        // The query-services read the replica: it must have the projector's migrations first.
        step("read replica caught up", health::await_replica(&read_url, &replica_url), Clone::clone).await?;
        let mut query_ports = [0; 2];
        for (i, port) in query_ports.iter_mut().enumerate() {
            *port = pick(cfg.ports.query[i])?;
            let name = format!("query-service-{}", i + 1);
            self.spawn(cfg, &name, services::query(&replica_url, *port), *port).await?;
        }

        let ports = GatewayPorts {
            http: pick(cfg.ports.http)?,
            grpc: pick(cfg.ports.grpc)?,
            command: command_port,
            query: query_ports,
            projector: projector_port,
        };
        let nginx = step(
            "nginx (gateway)",
            async { Ok(Nginx::start(NginxOptions::new(state.nginx(), ports)).await?) },
            |n: &Nginx| format!("REST {} · gRPC {}", n.http_base(), n.grpc_base()),
        )
        .await?;
        let (http, grpc) = (nginx.http_base(), nginx.grpc_base());
        let access_log = nginx.prefix().join("logs/access.log");
        let nginx = self.nginx.insert(nginx);
        let nginx_pid = nginx.service().pid();
        self.track(Some(nginx_pid), "nginx", Some(format!("{http}/healthz")), access_log);

        step("health through the gateway", health::check_gateway(http.clone()), |n: &usize| {
            format!("{n} upstreams ready")
        })
        .await?;
        let endpoints = Endpoints {
            http,
            grpc,
            command: format!("http://127.0.0.1:{command_port}"),
            projector: format!("http://127.0.0.1:{projector_port}"),
            query: query_ports.iter().map(|p| format!("http://127.0.0.1:{p}")).collect(),
            write_db: write_url,
            read_db: read_url,
            replica_db: replica_url,
            brokers,
            logs: state.logs(),
            nginx_logs: state.nginx().join("logs"),
            ingest_admin_token: admin_token,
        };
        self.record.endpoints = Some(endpoints.clone());
        state.write_stack(&self.record)?;
        self.endpoints = Some(endpoints);
        Ok(())
    }

    /// Where everything listens; `None` until [`Stack::start`] succeeded.
    pub fn endpoints(&self) -> Option<&Endpoints> {
        self.endpoints.as_ref()
    }

    /// A supervised service by name (`command-service`, `projector`, `query-service-1`, …),
    /// e.g. to kill it in a failure test.
    pub fn service_mut(&mut self, name: &str) -> Option<&mut Service> {
        self.services.iter_mut().find(|s| s.name() == name)
    }

    /// Waits until some process of the stack exits on its own; returns what happened.
    pub async fn wait_for_exit(&mut self) -> String {
        let mut watched: Vec<&mut Service> = self.services.iter_mut().collect();
        if let Some(broker) = self.broker.as_mut() {
            watched.push(broker.service());
        }
        if let Some(nginx) = self.nginx.as_mut() {
            watched.push(nginx.service());
        }
        if watched.is_empty() {
            return futures::future::pending().await;
        }
        let exits = watched.into_iter().map(|s| {
            Box::pin(async move {
                let status = s.wait_exit().await;
                let status = status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                format!("{} exited unexpectedly ({status}); last log lines:\n{}", s.name(), s.log_tail(40))
            })
        });
        futures::future::select_all(exits).await.0
    }

    /// Stops everything that runs, in reverse start order. Idempotent.
    pub async fn shutdown(&mut self) {
        if let Some(mut nginx) = self.nginx.take() {
            report("nginx", nginx.stop().await);
        }
        while let Some(mut svc) = self.services.pop() {
            let name = svc.name().to_owned();
            report(&name, svc.terminate().await);
        }
        if let Some(mut broker) = self.broker.take() {
            report("tansu", broker.service().terminate().await);
        }
        for (label, cluster) in [
            ("postgres (read replica)", self.replica.take()),
            ("postgres (read)", self.read.take()),
            ("postgres (write)", self.write.take()),
        ] {
            let Some(cluster) = cluster else { continue };
            match tokio::task::spawn_blocking(move || cluster.stop()).await {
                Ok(Ok(())) => note(format!("stopped {label}")),
                Ok(Err(e)) => note(format!("stopping {label}: {e}")),
                Err(e) => note(format!("stopping {label}: {e}")),
            }
        }
        if let Some(state) = &self.state {
            let _ = std::fs::remove_file(state.stack_file());
        }
        self.endpoints = None;
    }

    async fn spawn(&mut self, cfg: &StackConfig, name: &str, env: services::Env, port: u16) -> Result<()> {
        let program = cfg.bin_dir.join(env.binary);
        anyhow::ensure!(
            program.is_file(),
            "{} not found: run `cargo build --bins` (or `--release`), or pass --bin-dir",
            program.display()
        );
        let ready = format!("http://127.0.0.1:{port}/readyz");
        let mut spec = ServiceSpec::new(name, program, Readiness::Http(ready.clone()));
        spec.args = env.args.iter().map(Into::into).collect();
        spec.envs = env.vars.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        if std::env::var_os("RUST_LOG").is_none() {
            spec.envs.push(("RUST_LOG".into(), "info".into()));
        }
        spec.log_path = Some(cfg.state.logs().join(format!("{name}.log")));
        let svc = step(name, async { Ok(Service::spawn_spec(spec).await?) }, |s: &Service| {
            format!("127.0.0.1:{port}, pid {}", s.pid())
        })
        .await?;
        self.track(Some(svc.pid()), name, Some(ready), svc.log_path().to_path_buf());
        self.services.push(svc);
        Ok(())
    }

    /// Records a started process in `stack.json`, for `tally down` / `status` elsewhere.
    fn track(&mut self, pid: Option<i32>, name: &str, ready_url: Option<String>, log: PathBuf) {
        let Some(stamp) = pid.and_then(ProcessStamp::of) else { return };
        self.record.services.push(ServiceEntry {
            name: name.to_owned(),
            pid: stamp.pid,
            start_time: stamp.start_time,
            ready_url,
            log,
        });
        if let Some(state) = &self.state
            && let Err(e) = state.write_stack(&self.record)
        {
            note(format!("could not record {name}: {e:#}"));
        }
    }
}

fn report(name: &str, result: tally_devstack::Result<std::process::ExitStatus>) {
    match result {
        Ok(status) => note(format!("stopped {name} ({status})")),
        Err(e) => note(format!("stopping {name}: {e}")),
    }
}

fn pick(port: u16) -> Result<u16> {
    Ok(if port == 0 { free_port()? } else { port })
}

async fn start_pg(label: &str, dir: PathBuf, port: u16, durable: bool, replica_of: Option<u16>) -> Result<PgCluster> {
    let opts = PgOptions { dir: Some(dir), port, durable, replica_of, ..PgOptions::default() };
    step(label, async { Ok(PgCluster::start(opts).await?) }, |pg: &PgCluster| {
        let how = match (pg.reused(), replica_of) {
            (true, _) => "reused".to_owned(),
            (false, Some(primary)) => format!("new replica of :{primary}"),
            (false, None) => "new cluster".to_owned(),
        };
        format!("127.0.0.1:{} ({how}, {})", pg.port(), pg.dir().display())
    })
    .await
}

async fn start_broker(port: u16, log: PathBuf) -> Result<Broker> {
    let opts = BrokerOptions { port: (port != 0).then_some(port), log_path: Some(log), ..BrokerOptions::default() };
    let mut broker = Broker::start(opts).await?;
    for topic in TOPICS {
        broker.create_topic(topic, TOPIC_PARTITIONS).await?;
    }
    // Fail here, not at the first produce, if the broker died while creating topics.
    if let Some(status) = broker.service().try_exit_status()? {
        anyhow::bail!("tansu exited while creating topics ({status})");
    }
    Ok(broker)
}
