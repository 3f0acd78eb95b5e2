//! The HTTP edge shared by every service: one port for gRPC and REST.
//!
//! Tonic's routes are an axum router, so a service merges its gRPC services
//! and REST handlers into one `Router` and hands it to [`serve`], which adds
//! tracing with W3C context extraction, metrics, problem+json for bare error
//! statuses, and the drain-then-stop shutdown sequence.

use std::{
    future::Future,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::Body,
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::{
    catch_panic::CatchPanicLayer,
    trace::{DefaultOnFailure, TraceLayer},
};

use crate::error::{ApiError, ErrorKind};

/// Readiness as seen by `/readyz` (and mirrored into gRPC health by services).
#[derive(Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::SeqCst);
    }
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// `/healthz` (the process is alive) and `/readyz` (send it traffic), plus
/// `/metrics`.
pub fn ops_routes(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .route(
            "/readyz",
            axum::routing::get(move || {
                let ready = readiness.is_ready();
                async move {
                    if ready {
                        (StatusCode::OK, "ready").into_response()
                    } else {
                        ApiError::new(ErrorKind::Unavailable, "not ready: starting or draining").into_response()
                    }
                }
            }),
        )
        .route("/metrics", axum::routing::get(crate::metrics::render))
}

/// Answers for paths no route matches, as problem+json.
pub async fn not_found(req: Request) -> ApiError {
    ApiError::new(ErrorKind::NotFound, format!("no route for {} {}", req.method(), req.uri().path()))
}

/// Axum answers some errors itself (405, 413 from body limits, …) with an
/// empty or plain-text body. Rewrite those into problem+json so every REST
/// error has the same shape. gRPC responses are left alone: they always carry
/// `application/grpc` and report errors in `grpc-status`.
async fn problem_for_bare_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let ct = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if ct.starts_with("application/problem+json") || ct.starts_with("application/grpc") {
        return response;
    }
    let (kind, detail) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (ErrorKind::MethodNotAllowed, "this method is not allowed on this resource"),
        StatusCode::PAYLOAD_TOO_LARGE => (ErrorKind::PayloadTooLarge, "request body exceeds the size limit"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            (ErrorKind::UnsupportedMediaType, "expected content-type: application/json")
        }
        StatusCode::NOT_FOUND => (ErrorKind::NotFound, "not found"),
        StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => {
            (ErrorKind::DeadlineExceeded, "the request took too long")
        }
        s if s.is_client_error() => (ErrorKind::InvalidArgument, "the request could not be understood"),
        _ => (ErrorKind::Internal, "an internal error occurred; it has been logged"),
    };
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut rewritten = ApiError::new(kind, detail).into_response();
    // Keep the real status (e.g. 408 stays 408) and any Allow header.
    *rewritten.status_mut() = status;
    if let Some(allow) = allow {
        rewritten.headers_mut().insert(header::ALLOW, allow);
    }
    rewritten
}

/// Tonic answers an undecodable request message with INTERNAL, following the
/// gRPC status-code table. For Tally a malformed request is the client's
/// fault and must never look like a server failure (no input may produce a
/// 500-class answer), so it is re-labelled INVALID_ARGUMENT; the message,
/// which says what failed to decode, is kept.
async fn grpc_decode_errors_are_invalid_arguments(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let is_internal = headers.get("grpc-status").is_some_and(|v| v == "13");
    let is_decode = headers.get("grpc-message").and_then(|v| v.to_str().ok()).is_some_and(|m| {
        m.starts_with("failed%20to%20decode%20Protobuf") || m.starts_with("failed to decode Protobuf")
    });
    if is_internal && is_decode {
        headers.insert("grpc-status", HeaderValue::from_static("3"));
    }
    response
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    // A panic is a bug; the catch keeps one request's bug from killing the
    // connection and tells the client in the usual shape.
    tracing::error!("request handler panicked");
    ApiError::internal().into_response()
}

/// Wraps a service's router with the layers every service wants.
pub fn with_common_layers(router: Router) -> Router {
    router
        .layer(axum::middleware::map_response(problem_for_bare_errors))
        .layer(axum::middleware::map_response(grpc_decode_errors_are_invalid_arguments))
        .layer(axum::middleware::from_fn(crate::metrics::track_http))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let span = tracing::info_span!(
                        "request",
                        otel.kind = "server",
                        http.method = %req.method(),
                        http.path = %req.uri().path(),
                        http.status = tracing::field::Empty,
                    );
                    crate::propagation::set_parent_from_headers(&span, req.headers());
                    span
                })
                .on_response(|res: &Response, latency: Duration, span: &tracing::Span| {
                    span.record("http.status", res.status().as_u16());
                    tracing::debug!(latency_ms = latency.as_secs_f64() * 1e3, "response");
                })
                // A 5xx is logged where it is handled, with its cause and at the level it
                // deserves (a read model that is behind, or a database being restarted, is
                // a WARN); the layer's own line would repeat every one at ERROR.
                .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
        )
}

/// Serves `router` until `shutdown` fires, then: readiness off, `on_drain`
/// (e.g. gRPC health NOT_SERVING), wait `drain` so balancers stop routing
/// here, stop accepting, and let in-flight requests finish.
pub async fn serve<F>(
    listener: TcpListener,
    router: Router,
    readiness: Readiness,
    shutdown: CancellationToken,
    drain: Duration,
    on_drain: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let graceful = async move {
        shutdown.cancelled().await;
        readiness.set(false);
        on_drain.await;
        tracing::info!(drain_secs = drain.as_secs_f64(), "draining before stop");
        tokio::time::sleep(drain).await;
    };
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(graceful)
        .await
}

/// Binds a listener with `TCP_NODELAY` set on the listening socket, which
/// Linux hands down to every accepted connection. Without it, Nagle's
/// algorithm holds small HTTP/2 writes (gRPC sends headers, data and trailers
/// as separate frames) until the client's delayed ACK, ~40 ms later: under
/// concurrent load a one-millisecond read took 44 ms.
pub async fn bind(address: &str) -> std::io::Result<TcpListener> {
    let mut last_error = None;
    for addr in tokio::net::lookup_host(address).await? {
        let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
        socket.set_reuseaddr(true)?;
        socket.set_nodelay(true)?;
        match socket.bind(addr).and_then(|()| socket.listen(1024)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| std::io::Error::other("the address resolved to nothing")))
}

/// `ETag` value for a stream version.
pub fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits and quotes are valid header bytes")
}

/// The token of an `Authorization: Bearer <token>` value (REST header or gRPC metadata);
/// `None` for another scheme or no token. The scheme is case-insensitive (RFC 9110, 11.1).
pub fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    let token = token.trim_start();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_takes_the_token_of_the_bearer_scheme_only() {
        assert_eq!(bearer("Bearer abc.def"), Some("abc.def"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        for other in ["", "Bearer", "Bearer ", "Basic abc", "abc"] {
            assert_eq!(bearer(other), None, "{other:?}");
        }
    }

    #[tokio::test]
    async fn accepted_connections_have_nagle_off() {
        let listener = bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        assert!(accepted.nodelay().unwrap(), "TCP_NODELAY is inherited from the listener");
    }
}
