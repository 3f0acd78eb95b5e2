//! Assembling and running the query-service: `App::build`, then
//! `run_until_stopped`.

use std::{net::SocketAddr, time::Duration};

use axum::Router;
use tally_platform::{
    db,
    http::{Readiness, not_found, ops_routes, serve, with_common_layers},
};
use tally_proto::v1::query_service_server::QueryServiceServer;
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tonic_health::{ServingStatus, server::HealthReporter};

use crate::{
    grpc::QueryGrpc,
    read::{Freshness, Reads},
    rest,
    settings::Settings,
};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Db(#[from] tally_platform::db::DbError),
    #[error("cannot listen on {address}: {source}")]
    Bind { address: String, source: std::io::Error },
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    #[error("cannot build gRPC reflection: {0}")]
    Reflection(String),
}

/// A built, bound, not yet serving query-service.
pub struct App {
    listener: TcpListener,
    router: Router,
    readiness: Readiness,
    health: HealthReporter,
    poller: JoinHandle<()>,
    stop_poller: CancellationToken,
    drain: Duration,
}

type QueryServer = QueryServiceServer<QueryGrpc>;

impl App {
    /// Creates the (lazily connecting) read-DB pool, starts the position
    /// poller and binds the port. The read DB's schema belongs to the
    /// projector; this service never migrates it.
    pub async fn build(settings: Settings) -> Result<App, StartupError> {
        tally_platform::metrics::install();
        let pool = db::pool(&settings.database)?;
        let ryw = &settings.read_your_writes;
        let stop_poller = CancellationToken::new();
        let (freshness, poller) =
            Freshness::spawn(pool.clone(), ryw.projector_consumer.clone(), ryw.poll_interval_ms, stop_poller.clone());
        let reads = Reads::new(pool, freshness, ryw.max_wait_ms, settings.coalescing);

        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_serving::<QueryServer>().await;
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(tally_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|e| StartupError::Reflection(e.to_string()))?;
        let max = settings.server.max_body_bytes;
        let grpc = QueryServer::new(QueryGrpc::new(reads.clone())).max_decoding_message_size(max);
        let grpc_routes =
            tonic::service::Routes::new(health_service).add_service(reflection).add_service(grpc).into_axum_router();

        let readiness = Readiness::default();
        let router = with_common_layers(
            grpc_routes
                .merge(rest::router(reads, settings.server.request_timeout))
                .merge(ops_routes(readiness.clone()))
                .fallback(not_found),
        );

        let address = settings.server.address();
        let listener =
            tally_platform::http::bind(&address).await.map_err(|source| StartupError::Bind { address, source })?;
        Ok(App { listener, router, readiness, health, poller, stop_poller, drain: settings.server.drain })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// Serves until `shutdown` fires, then drains: health NOT_SERVING, wait
    /// `drain`, finish in-flight requests, stop the poller.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<(), StartupError> {
        let App { listener, router, readiness, health, poller, stop_poller, drain } = self;
        readiness.set(true);
        tracing::info!(address = %listener.local_addr().map_err(StartupError::Serve)?, "query-service listening (gRPC + REST)");

        let on_drain = async move {
            health.set_not_serving::<QueryServer>().await;
            health.set_service_status("", ServingStatus::NotServing).await;
        };
        let served = serve(listener, router, readiness, shutdown, drain, on_drain).await.map_err(StartupError::Serve);
        // In-flight reads may still have been waiting on the poller; they
        // are done now.
        stop_poller.cancel();
        let _ = poller.await;
        served?;
        tracing::info!("query-service stopped");
        Ok(())
    }
}
