//! Assembling and running the command-service: `App::build`, then
//! `run_until_stopped`.

use std::{net::SocketAddr, time::Duration};

use axum::Router;
use tally_event_store::{Appender, AppenderConfig, migrate};
use tally_platform::{
    db,
    http::{Readiness, not_found, ops_routes, serve, with_common_layers},
};
use tally_proto::v1::command_service_server::CommandServiceServer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic_health::{ServingStatus, server::HealthReporter};

use crate::{
    app::{Commands, Executor},
    grpc::CommandGrpc,
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
    pool: deadpool_postgres::Pool,
    drain: Duration,
}

type CommandServer = CommandServiceServer<CommandGrpc>;

impl App {
    /// Connects, migrates (if configured), starts the appender and binds the port.
    pub async fn build(settings: Settings) -> Result<App, StartupError> {
        tally_platform::metrics::install();
        let pool = db::pool(&settings.database)?;
        if settings.migrate_on_start {
            migrate::run(&db::pg_config(&settings.database)?).await?;
        }

        let (appender, appender_task) = Appender::spawn(
            pool.clone(),
            AppenderConfig {
                max_batch: settings.appender.max_batch,
                queue_capacity: settings.appender.queue_capacity,
            },
        );
        let commands = Commands::new(Executor::new(pool.clone(), appender, settings.cache.streams));

        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_serving::<CommandServer>().await;
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(tally_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|e| StartupError::Reflection(e.to_string()))?;
        let max = settings.server.max_body_bytes;
        let grpc = CommandServer::new(CommandGrpc::new(commands.clone()))
            .max_decoding_message_size(max)
            .max_encoding_message_size(max);
        let grpc_routes = tonic::service::Routes::new(health_service)
            .add_service(reflection)
            .add_service(grpc)
            .into_axum_router();

        let readiness = Readiness::default();
        let router = with_common_layers(
            grpc_routes
                .merge(rest::router(commands, max, settings.server.request_timeout))
                .merge(ops_routes(readiness.clone()))
                .fallback(not_found),
        );

        let address = settings.server.address();
        let listener = TcpListener::bind(&address).await.map_err(|source| StartupError::Bind { address, source })?;
        Ok(App { listener, router, readiness, health, appender: appender_task, pool, drain: settings.server.drain })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// Serves until `shutdown` fires, then drains: health NOT_SERVING, wait,
    /// finish in-flight requests, flush the appender queue.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<(), StartupError> {
        let App { listener, router, readiness, health, appender, pool, drain } = self;
        let maintenance = tokio::spawn(maintain_partitions(pool, shutdown.clone()));
        readiness.set(true);
        tracing::info!(address = %listener.local_addr().map_err(StartupError::Serve)?, "command-service listening (gRPC + REST)");

        let on_drain = async move {
            health.set_not_serving::<CommandServer>().await;
            health.set_service_status("", ServingStatus::NotServing).await;
        };
        serve(listener, router, readiness, shutdown, drain, on_drain).await.map_err(StartupError::Serve)?;
        // The router (and with it every appender handle) is gone now, so the
        // appender commits what is queued and stops.
        let _ = appender.await;
        let _ = maintenance.await;
        tracing::info!("command-service stopped");
        Ok(())
    }
}

async fn maintain_partitions(pool: deadpool_postgres::Pool, shutdown: CancellationToken) {
    loop {
        match pool.get().await {
            Ok(client) => match migrate::ensure_partitions(&client, 2).await {
                Ok(created) if created > 0 => tracing::info!(created, "created analytics partitions"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "partition maintenance failed; will retry"),
            },
            Err(e) => tracing::warn!(error = %e, "partition maintenance could not get a connection"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(PARTITION_MAINTENANCE) => {}
        }
    }
}
