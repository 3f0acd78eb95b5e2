//! One shutdown signal for the whole process.
//!
//! SIGINT/SIGTERM cancel a single token; every server, consumer and
//! background task selects on a clone of it, so nothing is forgotten when a
//! pod is asked to stop.

use tokio_util::sync::CancellationToken;

/// Cancels `token` on the first SIGINT or SIGTERM.
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM; only SIGINT will stop the process");
                    std::future::pending::<()>().await;
                }
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => tracing::info!(signal = "SIGINT", "shutdown requested"),
            _ = term => tracing::info!(signal = "SIGTERM", "shutdown requested"),
            _ = token.cancelled() => return,
        }
        token.cancel();
    });
}

pub use tokio_util::sync::CancellationToken as ShutdownToken;
