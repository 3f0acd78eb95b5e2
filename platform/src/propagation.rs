//! W3C trace context across process boundaries.
//!
//! One trace should show a write from the HTTP/gRPC request through the event
//! metadata and the Kafka headers to the projection. These helpers move the
//! `traceparent`/`tracestate` pair between the current `tracing` span and the
//! carriers each hop uses. In a process that builds no OpenTelemetry spans
//! ([`crate::telemetry::traces_built`]) parenting a span is skipped: there is
//! nothing to attach the context to.

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, Injector};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The serialised trace context of a span: what travels in event metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceContext {
    pub traceparent: String,
    pub tracestate: String,
}

struct HeaderCarrier<'a>(&'a http::HeaderMap);

impl Extractor for HeaderCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Makes `span` a child of the trace context found in `headers`, if any.
pub fn set_parent_from_headers(span: &tracing::Span, headers: &http::HeaderMap) {
    if !crate::telemetry::traces_built() {
        return;
    }
    let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderCarrier(headers)));
    // Without an incoming context the span simply starts a new trace.
    let _ = span.set_parent(cx);
}

/// Makes `span` a child of a stored trace context (event metadata, Kafka headers).
pub fn set_parent(span: &tracing::Span, ctx: &TraceContext) {
    if ctx.traceparent.is_empty() || !crate::telemetry::traces_built() {
        return;
    }
    let mut map = HashMap::with_capacity(2);
    map.insert("traceparent".to_owned(), ctx.traceparent.clone());
    if !ctx.tracestate.is_empty() {
        map.insert("tracestate".to_owned(), ctx.tracestate.clone());
    }
    let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(&map));
    let _ = span.set_parent(cx);
}

#[derive(Default)]
struct MapInjector(HashMap<String, String>);

impl Injector for MapInjector {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

/// The trace context of the current span, ready to be stored with an event.
pub fn current() -> TraceContext {
    let cx = tracing::Span::current().context();
    let mut injector = MapInjector::default();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, &mut injector));
    TraceContext {
        traceparent: injector.0.remove("traceparent").unwrap_or_default(),
        tracestate: injector.0.remove("tracestate").unwrap_or_default(),
    }
}
