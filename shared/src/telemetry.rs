//! Logs, traces and metrics.
//!
//! Spans always carry OpenTelemetry context, so the trace id of a request travels into the
//! jobs it creates and the worker's spans continue it; spans are exported over OTLP/HTTP
//! only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

use std::{collections::HashMap, sync::OnceLock};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use opentelemetry::{global, trace::TracerProvider as _};
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider};
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{
    EnvFilter, Layer,
    fmt::{
        FmtContext, FormattedFields,
        format::{FormatEvent, FormatFields, JsonFields, Writer},
    },
    layer::SubscriberExt,
    registry::LookupSpan,
    util::SubscriberInitExt,
};

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
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson)
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

/// JSON logs, one object a line: `timestamp`, `level`, `target`, then the fields of every
/// span the event is in (outermost first) and the event's own, all at the top level. A
/// line about a request or a job so carries its ids (seed 001's `requestId`, `userId`,
/// `channel`, `calendarId`, `runId`, `status`) whoever logs it, and a log query reads
/// `requestId` wherever the line came from.
struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let metadata = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .into(),
        );
        line.insert("level".into(), metadata.level().as_str().into());
        line.insert("target".into(), metadata.target().into());
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let Some(fields) = extensions.get::<FormattedFields<N>>() else {
                    continue;
                };
                if let Ok(Value::Object(fields)) = serde_json::from_str(&fields.fields) {
                    line.extend(fields);
                }
            }
        }
        event.record(&mut FieldsOf(&mut line));
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// Records an event's fields into a JSON object.
struct FieldsOf<'a>(&'a mut Map<String, Value>);

impl Visit for FieldsOf<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
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

/// Binds a `/metrics` listener at `addr` (read from variable `var`); returns it and the
/// bound port (port 0 picks a free one).
pub async fn bind_metrics(
    addr: std::net::SocketAddr,
    var: &str,
) -> anyhow::Result<(poem::listener::TcpAcceptor, u16)> {
    use anyhow::Context;
    use poem::listener::{Acceptor, Listener};
    let acceptor = poem::listener::TcpListener::bind(addr)
        .into_acceptor()
        .await
        .with_context(|| format!("binding {var} {addr}"))?;
    let port = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().map(|s| s.port()))
        .context("reading the bound port")?;
    Ok((acceptor, port))
}

#[poem::handler]
fn render_metrics() -> poem::Response {
    poem::Response::builder()
        .content_type("text/plain; version=0.0.4")
        .body(metrics_handle().render())
}

/// Serves `/metrics` (this process's Prometheus text), and `routes` beside it, on
/// `acceptor` until `stop`. Apart from the API's port: the operator decides who reaches it.
pub async fn serve_metrics(
    acceptor: poem::listener::TcpAcceptor,
    routes: poem::Route,
    stop: tokio_util::sync::CancellationToken,
) {
    let app = routes.at("/metrics", poem::get(render_metrics));
    if let Err(error) = poem::Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(
            app,
            async move { stop.cancelled().await },
            Some(std::time::Duration::from_secs(1)),
        )
        .await
    {
        tracing::warn!(error = %error, "metrics server stopped");
    }
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

/// Where a job's stored context keeps the id of the request that created it (beside the
/// W3C trace context, which ignores it), so the worker's log lines carry `requestId`.
pub const REQUEST_ID_KEY: &str = "x-request-id";

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

#[cfg(test)]
mod tests {
    use std::{
        io,
        sync::{Arc, Mutex},
    };

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_lines_carry_the_fields_of_their_spans_at_the_top() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .fmt_fields(JsonFields::new())
                .event_format(FlatJson)
                .with_writer(move || writer.clone()),
        );
        tracing::subscriber::with_default(subscriber, || {
            let request = tracing::info_span!(
                "http.request",
                requestId = "req-1",
                userId = tracing::field::Empty
            );
            let _request = request.enter();
            request.record("userId", "user-1");
            let job = tracing::info_span!("job", calendarId = "cal-1", status = "running");
            let _job = job.enter();
            tracing::info!(status = "pending", slots = 3_u64, "calendar run accepted");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let line: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["message"], "calendar run accepted");
        assert_eq!(line["requestId"], "req-1");
        assert_eq!(line["userId"], "user-1", "recorded after the span began");
        assert_eq!(line["calendarId"], "cal-1");
        assert_eq!(line["status"], "pending", "the event's own field wins");
        assert_eq!(line["slots"], 3);
        assert_eq!(line["level"], "INFO");
        assert_eq!(text.lines().count(), 1);
    }
}
