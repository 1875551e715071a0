//! Logs, traces and metrics.
//!
//! Spans always carry OpenTelemetry context, so the trace id of a request travels into the
//! jobs it creates and the worker's spans continue it; spans are exported over OTLP/HTTP
//! only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

use std::{collections::HashMap, sync::OnceLock};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use opentelemetry::{global, trace::TracerProvider as _};
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, util::SubscriberInitExt};

use crate::config::LogFormat;

/// Keeps the tracer provider alive; dropping it flushes spans still queued for export.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Installs the global subscriber. `RUST_LOG` filters (default `info`); `format: None`
/// keeps spans and trace propagation but prints no logs (tests without `TEST_LOG`).
pub fn init(
    service: &'static str,
    format: Option<LogFormat>,
    otlp_endpoint: Option<&str>,
) -> anyhow::Result<TelemetryGuard> {
    global::set_text_map_propagator(TraceContextPropagator::new());
    let mut builder = SdkTracerProvider::builder().with_resource(
        opentelemetry_sdk::Resource::builder()
            .with_service_name(service)
            .build(),
    );
    let exporting = otlp_endpoint.is_some();
    if let Some(endpoint) = otlp_endpoint {
        use opentelemetry_otlp::WithExportConfig;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
            .build()?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer(service));
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = format.map(|format| match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer().compact().boxed(),
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()?;
    global::set_tracer_provider(provider.clone());
    tracing::debug!(exporting, "telemetry initialised");
    Ok(TelemetryGuard {
        provider: Some(provider),
    })
}

/// The process-wide Prometheus recorder (installed once; later calls share it).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    30.0, 60.0,
                ])
                .expect("bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (several apps in one test process).
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// `process_start_time_seconds` (what "the first failure after a deploy" alerts compare
/// with) and `almanac_build_info{service, version}`.
pub fn record_process_start(service: &'static str) {
    static STARTED: OnceLock<f64> = OnceLock::new();
    let started = *STARTED.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    });
    metrics_handle();
    metrics::gauge!("process_start_time_seconds").set(started);
    metrics::gauge!("almanac_build_info", "service" => service, "version" => env!("CARGO_PKG_VERSION"))
        .set(1.0);
}

/// The W3C trace context of the current span, to store with a job.
pub fn current_trace_context() -> HashMap<String, String> {
    let context = tracing::Span::current().context();
    let mut carrier = HashMap::new();
    global::get_text_map_propagator(|p| p.inject_context(&context, &mut carrier));
    carrier
}

/// Makes `span` a child of the trace stored with a job.
pub fn continue_trace(span: &tracing::Span, carrier: &HashMap<String, String>) {
    let parent = global::get_text_map_propagator(|p| p.extract(carrier));
    let _ = span.set_parent(parent);
}

/// Reads a W3C `traceparent` header value into a parent context for a request span.
pub fn continue_remote_trace(span: &tracing::Span, traceparent: &str) {
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    continue_trace(span, &carrier);
}

/// The trace id of the current span, when it has one.
pub fn current_trace_id() -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    let context = tracing::Span::current().context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}
