//! Logs and traces.
//!
//! Logs go to stdout (JSON in production, pretty for people), filtered by the
//! log level. Traces are *exported* over OTLP only when the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or the traces-specific variant) is set, so
//! operators configure it like any other OTel program. A service that writes
//! events ([`Traces::Propagated`]) always *propagates* them — an incoming
//! `traceparent` reaches event metadata and Kafka headers even when nothing is
//! exported and whatever the log level (info spans are kept for that); the
//! others ([`Traces::ExportedOnly`]) skip the trace layer, and its cost on every
//! request or event, when nothing would export what it builds.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_subscriber::{EnvFilter, Layer as _, filter::LevelFilter, layer::SubscriberExt, util::SubscriberInitExt};

use crate::settings::{LogFormat, TelemetrySettings};

/// Flushes pending spans when dropped; keep it alive for the whole process.
#[must_use = "dropping the guard stops trace export"]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        // Export failures at exit are not actionable; the spans are lost either way.
        let _ = self.provider.shutdown();
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid log filter {0:?}: {1}")]
    Filter(String, String),
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(String),
    #[error("a global subscriber is already installed")]
    AlreadyInstalled,
}

/// Whether the standard OTel variables ask for OTLP export.
fn export_requested() -> bool {
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    let endpoint = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        .iter()
        .any(|k| std::env::var(k).is_ok_and(|v| !v.is_empty()));
    endpoint && !disabled
}

/// What a service does with trace context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traces {
    /// It carries the caller's trace into what it writes (the command-service: event
    /// metadata, Kafka headers), so spans are built even when nothing exports them.
    Propagated,
    /// Its spans end in the service (reads, projections): without an exporter they would
    /// be built for nobody. The query-service spent a measurable share of each GetProfile
    /// on them (docs/benchmarks.md, "reads").
    ExportedOnly,
}

/// Whether this process builds OpenTelemetry spans (set once by [`init`]).
static TRACE_LAYER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether spans carry OpenTelemetry context in this process: when they do not, extracting
/// a caller's context to parent a span with is work for nothing (see [`Traces`]).
pub fn traces_built() -> bool {
    TRACE_LAYER.load(std::sync::atomic::Ordering::Relaxed)
}

/// Installs the global subscriber and propagator for a service.
pub fn init(
    service_name: &'static str,
    settings: &TelemetrySettings,
    traces: Traces,
) -> Result<TelemetryGuard, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    let resource = Resource::builder().with_service_name(service_name).build();
    let mut provider = SdkTracerProvider::builder().with_resource(resource);
    let exporting = export_requested();
    if exporting {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        provider = provider.with_batch_exporter(exporter);
    }
    let provider = provider.build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    // The log level filters the logs only. Spans feed propagation too: a request span
    // disabled by `warn` logs would lose the caller's trace before it reaches the event
    // metadata and the Kafka headers, so the trace layer keeps every info span.
    let built = exporting || traces == Traces::Propagated;
    let otel = built.then(|| {
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer(service_name));
        // Spans nobody exports only carry the trace into what the service writes
        // (`propagation::current` reads the span's own context). Activating an
        // OpenTelemetry context and timing every enter and exit of them, and
        // recording their thread and source location, was ~3 % of the
        // command-service's CPU per command (docs/benchmarks.md, commands).
        let layer = if exporting {
            layer
        } else {
            layer.with_context_activation(false).with_tracked_inactivity(false).with_threads(false).with_location(false)
        };
        layer.with_filter(LevelFilter::INFO)
    });

    let directive = std::env::var("RUST_LOG").unwrap_or_else(|_| settings.log_level.clone());
    let filter = EnvFilter::try_new(&directive).map_err(|e| TelemetryError::Filter(directive, e.to_string()))?;

    let registry = tracing_subscriber::registry().with(otel);
    let installed = match settings.log_format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_filter(filter),
            )
            .try_init(),
        LogFormat::Pretty => registry.with(tracing_subscriber::fmt::layer().compact().with_filter(filter)).try_init(),
    };
    installed.map_err(|_| TelemetryError::AlreadyInstalled)?;
    TRACE_LAYER.store(built, std::sync::atomic::Ordering::Relaxed);
    tracing::info!(service = service_name, otlp_export = exporting, ?traces, "telemetry initialised");
    Ok(TelemetryGuard { provider })
}
