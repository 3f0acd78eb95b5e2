//! Assembling and running the command-service: `App::build`, then
//! `run_until_stopped`.

use std::{net::SocketAddr, time::Duration};

use axum::Router;
use tally_event_store::{Appender, AppenderConfig, migrate, tail::Listener};
use tally_platform::{
    causes::Causes,
    db,
    http::{Readiness, not_found, ops_routes, serve, with_common_layers},
    settings::DatabaseSettings,
};
use tally_proto::v1::{command_service_server::CommandServiceServer, event_store_server::EventStoreServer};
use tokio::net::TcpListener;
use tokio_util::sync::{CancellationToken, DropGuard};
use tonic_health::{ServingStatus, server::HealthReporter};

use crate::{
    app::{
        Commands, Executor,
        analytics::{self, CountryDb, Ingest, IngestParts, SaltCache, SiteDirectory, SkewLimits, TrustedProxies},
    },
    grpc::{CommandGrpc, EventStoreGrpc, replay::EventReads},
    rest,
    settings::Settings,
};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Db(#[from] tally_platform::db::DbError),
    #[error(transparent)]
    Store(#[from] tally_event_store::StoreError),
    #[error("cannot listen on {address}: {source}")]
    Bind { address: String, source: std::io::Error },
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    #[error("cannot build gRPC reflection: {0}")]
    Reflection(String),
    #[error("invalid ingest settings: {0}")]
    Ingest(String),
    #[error("invalid relay settings: {0}")]
    Relay(#[from] tally_relay::RelayError),
}

/// How often analytics partitions for coming months are ensured.
const PARTITION_MAINTENANCE: Duration = Duration::from_secs(6 * 3600);

/// A built, bound, not yet serving command-service.
pub struct App {
    listener: TcpListener,
    router: Router,
    readiness: Readiness,
    health: HealthReporter,
    appender: tokio::task::JoinHandle<()>,
    analytics_appender: tokio::task::JoinHandle<()>,
    pool: deadpool_postgres::Pool,
    drain: Duration,
    /// Stops the NOTIFY listener when the app is dropped, i.e. after the
    /// relay (which also tails) stopped, or when an app that never ran goes.
    background: DropGuard,
    /// Ends event-store subscriptions; fired when the drain is over.
    streams: CancellationToken,
    /// The outbox relay, when Kafka is configured; it runs from `run_until_stopped`.
    relay: Option<tally_relay::Relay>,
}

type CommandServer = CommandServiceServer<CommandGrpc>;
type EventStoreService = EventStoreServer<EventStoreGrpc>;

impl App {
    /// Connects, migrates (if configured), starts the appender and binds the port.
    pub async fn build(settings: Settings) -> Result<App, StartupError> {
        tally_platform::metrics::install();
        let pool = db::pool(&settings.database)?;
        if settings.migrate_on_start {
            migrate::run(&db::pg_config(&settings.database)?).await?;
        }

        let (appender, appender_task) = Appender::spawn(
            appender_pool(&settings)?,
            AppenderConfig { max_batch: settings.appender.max_batch, queue_capacity: settings.appender.queue_capacity },
        );
        let executor = Executor::new(pool.clone(), appender, settings.cache.streams);
        let commands = Commands::new(executor.clone());
        let (ingest, analytics_task) = build_ingest(&settings, &pool, executor)?;
        // One LISTEN connection per process wakes every tailer in it.
        let background = CancellationToken::new();
        let listener = Listener::spawn(db::pg_config(&settings.database)?, background.clone());
        let streams = background.child_token();
        let relay = build_relay(&settings, &pool, &listener)?;
        let reads = EventReads::new(pool.clone(), listener, streams.clone());

        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_serving::<CommandServer>().await;
        health.set_serving::<EventStoreService>().await;
        let max = settings.server.max_body_bytes;
        let grpc = CommandServer::new(CommandGrpc::new(commands.clone(), ingest.clone()))
            .max_decoding_message_size(max)
            .max_encoding_message_size(max);
        // Requests are small; responses (pages of up to 1,000 events) keep
        // tonic's unbounded default.
        let event_store = EventStoreService::new(EventStoreGrpc::new(reads.clone())).max_decoding_message_size(max);
        let grpc_routes = tally_platform::grpc::with_reflection(
            tonic::service::Routes::new(health_service),
            &[tally_proto::FILE_DESCRIPTOR_SET],
        )
        .map_err(|e| StartupError::Reflection(e.to_string()))?
        .add_service(grpc)
        .add_service(event_store)
        .into_axum_router();

        let readiness = Readiness::default();
        let router = with_common_layers(
            grpc_routes
                .merge(rest::router(commands, reads, ingest, max, settings.server.request_timeout))
                .merge(ops_routes(readiness.clone()))
                .fallback(not_found),
        );

        let address = settings.server.address();
        let listener =
            tally_platform::http::bind(&address).await.map_err(|source| StartupError::Bind { address, source })?;
        Ok(App {
            listener,
            router,
            readiness,
            health,
            appender: appender_task,
            analytics_appender: analytics_task,
            pool,
            drain: settings.server.drain,
            background: background.drop_guard(),
            streams,
            relay,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// Serves until `shutdown` fires, then drains: health NOT_SERVING, wait,
    /// finish in-flight requests, flush the appender queue.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<(), StartupError> {
        let App {
            listener,
            router,
            readiness,
            health,
            appender,
            analytics_appender,
            pool,
            drain,
            background: _background,
            streams,
            relay,
        } = self;
        // The relay outlives the drain so it publishes what the appender flushes; the
        // guard stops it (releasing leadership) on every way out of this function.
        let relay_stop = CancellationToken::new();
        let _relay_guard = relay_stop.clone().drop_guard();
        let relay = relay.map(|r| r.spawn(relay_stop.clone()));
        let salts = tokio::spawn(analytics::destroy_expired_loop(pool.clone(), shutdown.clone()));
        let maintenance = tokio::spawn(maintain_partitions(pool, shutdown.clone()));
        tokio::spawn(end_streams_after_drain(shutdown.clone(), drain, streams.clone()));
        readiness.set(true);
        tracing::info!(address = %listener.local_addr().map_err(StartupError::Serve)?, "command-service listening (gRPC + REST)");

        let on_drain = async move {
            health.set_not_serving::<CommandServer>().await;
            health.set_not_serving::<EventStoreService>().await;
            health.set_service_status("", ServingStatus::NotServing).await;
        };
        let served = serve(listener, router, readiness, shutdown, drain, on_drain).await;
        streams.cancel();
        served.map_err(StartupError::Serve)?;
        // The router (and with it every appender handle) is gone now, so the
        // appender commits what is queued and stops.
        let _ = appender.await;
        let _ = analytics_appender.await;
        relay_stop.cancel();
        if let Some(relay) = relay {
            let _ = relay.await;
        }
        let _ = maintenance.await;
        let _ = salts.await;
        tracing::info!("command-service stopped");
        Ok(())
    }
}

/// The analytics ingest service and its appender task, from `[ingest]`.
fn build_ingest(
    settings: &Settings,
    pool: &deadpool_postgres::Pool,
    executor: Executor,
) -> Result<(Ingest, tokio::task::JoinHandle<()>), StartupError> {
    use secrecy::ExposeSecret as _;
    let s = &settings.ingest;
    let trusted =
        TrustedProxies::parse(&s.trusted_proxies).map_err(|e| StartupError::Ingest(format!("trusted_proxies: {e}")))?;
    let countries = match s.country_db.trim() {
        "" => None,
        path => Some(CountryDb::open(std::path::Path::new(path)).map_err(StartupError::Ingest)?),
    };
    let to_chrono = |d: Duration, key: &str| {
        chrono::Duration::from_std(d).map_err(|_| StartupError::Ingest(format!("{key} is out of range")))
    };
    let skew = SkewLimits {
        max_past: to_chrono(s.max_past_skew, "max_past_skew")?,
        max_future: to_chrono(s.max_future_skew, "max_future_skew")?,
    };
    let (appender, task) = tally_event_store::AnalyticsAppender::spawn(
        appender_pool(settings)?,
        tally_event_store::AnalyticsAppenderConfig { max_events: s.append_max_events, queue_capacity: s.append_queue },
    );
    let token = s.admin_token.expose_secret();
    let ingest = Ingest::new(IngestParts {
        sites: SiteDirectory::new(executor, pool.clone(), s.sites_cache),
        salts: SaltCache::new(pool.clone(), s.salt_cache),
        appender,
        countries,
        skew,
        trusted,
        admin_token: (!token.trim().is_empty()).then(|| token.to_owned()),
    });
    Ok((ingest, task))
}

/// A pool of one connection for one appender: it commits one batch at a time,
/// and a connection opened from its own thread is driven there (see
/// `tally_event_store::Appender::spawn`), not by the request handlers' runtime.
fn appender_pool(settings: &Settings) -> Result<deadpool_postgres::Pool, StartupError> {
    Ok(db::pool(&DatabaseSettings { pool_size: 1, ..settings.database.clone() })?)
}

/// The relay for `[kafka]`, or `None` when no brokers are configured or it is disabled.
fn build_relay(
    settings: &Settings,
    pool: &deadpool_postgres::Pool,
    listener: &Listener,
) -> Result<Option<tally_relay::Relay>, StartupError> {
    if !settings.kafka.relay() {
        tracing::info!("no Kafka brokers configured (or relay disabled): not relaying events");
        return Ok(None);
    }
    let config = tally_relay::RelayConfig::new(settings.kafka.brokers.clone(), settings.kafka.topic_partitions);
    let pg = db::pg_config(&settings.database)?;
    Ok(Some(tally_relay::Relay::new(pool.clone(), pg, listener.clone(), config)?))
}

/// Live subscriptions never finish on their own, and a graceful stop waits
/// for open responses: they end when the drain is over, like the server's
/// accepting, so subscribers resume on another pod.
async fn end_streams_after_drain(shutdown: CancellationToken, drain: Duration, streams: CancellationToken) {
    tokio::select! {
        _ = async { shutdown.cancelled().await; tokio::time::sleep(drain).await } => streams.cancel(),
        _ = streams.cancelled() => {}
    }
}

async fn maintain_partitions(pool: deadpool_postgres::Pool, shutdown: CancellationToken) {
    loop {
        match pool.get().await {
            Ok(client) => match migrate::ensure_partitions(&client, 2).await {
                Ok(created) if created > 0 => tracing::info!(created, "created analytics partitions"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %Causes(&e), "partition maintenance failed; will retry"),
            },
            Err(e) => tracing::warn!(error = %Causes(&e), "partition maintenance could not get a connection"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(PARTITION_MAINTENANCE) => {}
        }
    }
}
