//! Assembling and running the projector: `App::build`, then
//! `run_until_stopped`. The process serves `/healthz`, `/readyz` and
//! `/metrics` while it consumes.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::Router;
use tally_event_store::tail::Listener;
use tally_platform::{
    db,
    http::{Readiness, not_found, ops_routes, serve, with_common_layers},
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{ProjectorError, analytics::closing, batch::Applier, migrate, settings::Settings, single_node};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Projector(#[from] ProjectorError),
    #[error(transparent)]
    Db(#[from] tally_platform::db::DbError),
    #[error("cannot listen on {address}: {source}")]
    Bind { address: String, source: std::io::Error },
    #[error("server failed: {0}")]
    Serve(std::io::Error),
}

/// A built, bound, not yet consuming projector.
pub struct App {
    listener: TcpListener,
    router: Router,
    readiness: Readiness,
    applier: Arc<Applier>,
    settings: Settings,
}

impl App {
    /// Connects to the read DB, migrates it (if configured) and binds the
    /// ops port. Consuming starts in [`App::run_until_stopped`].
    pub async fn build(settings: Settings) -> Result<App, StartupError> {
        tally_platform::metrics::install();
        let read_pool = db::pool(&settings.read_database)?;
        if settings.migrate_on_start {
            migrate::run(&db::pg_config(&settings.read_database)?).await?;
        }
        let applier =
            Arc::new(Applier::new(read_pool, settings.consumer()).with_session_rules(settings.analytics.rules()));
        let readiness = Readiness::default();
        let router = with_common_layers(ops_routes(readiness.clone()).fallback(not_found));
        let address = settings.server.address();
        let listener = TcpListener::bind(&address).await.map_err(|source| StartupError::Bind { address, source })?;
        Ok(App { listener, router, readiness, applier, settings })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// Consumes until `shutdown` fires (finishing the batch in flight), then
    /// stops the ops server. A consumer that fails for good stops the process
    /// with its error, so an orchestrator restarts it.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<(), StartupError> {
        let App { listener, router, readiness, applier, settings } = self;
        let closing =
            tokio::spawn(closing::run(applier.pool().clone(), settings.analytics.closing(), shutdown.clone()));
        let consumer = tokio::spawn(consume(applier, settings.clone(), shutdown.clone()));
        readiness.set(true);
        tracing::info!(
            address = %listener.local_addr().map_err(StartupError::Serve)?,
            mode = if settings.kafka.enabled() { "kafka" } else { "single-node" },
            "projector running"
        );
        let server = tokio::spawn(serve(
            listener,
            router,
            readiness,
            shutdown.clone(),
            settings.server.drain,
            std::future::ready(()),
        ));
        let consumed = match consumer.await {
            Ok(result) => result,
            Err(join) => Err(ProjectorError::Internal(format!("the consumer task failed: {join}"))),
        };
        // Whatever ended the consumer ends the process.
        shutdown.cancel();
        match tokio::time::timeout(settings.server.drain + Duration::from_secs(5), server).await {
            Ok(Ok(served)) => served.map_err(StartupError::Serve)?,
            Ok(Err(join)) => tracing::error!(error = %join, "ops server task failed"),
            Err(_) => tracing::warn!("ops server did not stop in time"),
        }
        if let Err(join) = closing.await {
            tracing::error!(error = %join, "closing task failed");
        }
        consumed?;
        tracing::info!("projector stopped");
        Ok(())
    }
}

async fn consume(applier: Arc<Applier>, settings: Settings, shutdown: CancellationToken) -> Result<(), ProjectorError> {
    if settings.kafka.enabled() {
        return crate::kafka::run(applier, &settings, shutdown).await;
    }
    let store_pool = db::pool(&settings.event_store)?;
    let listener = Listener::spawn(db::pg_config(&settings.event_store)?, shutdown.clone());
    single_node::run(applier, store_pool, listener, settings.batch.max_events, shutdown).await
}
