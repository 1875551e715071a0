//! Health, readiness, metrics, request ids and trace propagation.

pub(crate) mod console;
mod deploy;
mod flags;
mod log_fields;

use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{eventually, spawn_app};

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = spawn_app().await;
    let health: Value = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(
        (ready["postgres"].as_bool(), ready["redis"].as_bool()),
        (Some(true), Some(true))
    );

    let user = Uuid::new_v4();
    let id = app.submit(user).await;
    app.wait_finished(user, id).await;
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains(
            "http_requests_total{method=\"POST\",route=\"/api/ai/generations\",status=\"202\"}"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("jobs_total{kind=\"generation\",outcome=\"succeeded\"}"));
}

#[tokio::test]
async fn the_worker_serves_metrics_and_health() {
    let app = spawn_app().await;
    let worker = almanac_worker::Application::build(app.settings.clone())
        .await
        .unwrap();
    let base = format!("http://127.0.0.1:{}", worker.port());
    tokio::spawn(worker.run_until_stopped(std::future::pending()));
    let health = eventually(
        std::time::Duration::from_secs(5),
        "the worker's health endpoint",
        || async { reqwest::get(format!("{base}/healthz")).await.ok() },
    )
    .await;
    assert_eq!(health.text().await.unwrap(), "ok");
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(metrics.status(), 200);
    let metrics = metrics.text().await.unwrap();
    // What "the first publish failure after a deploy" compares with, and the version.
    assert!(metrics.contains("process_start_time_seconds "), "{metrics}");
    assert!(
        metrics.contains(&format!(
            "almanac_build_info{{service=\"almanac-worker\",version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )),
        "{metrics}"
    );

    // A worker that cannot reach Postgres is alive but not ready: a rollout waits for it.
    let mut settings = app.settings.clone();
    settings.database_url =
        almanac_shared::config::Secret::new("postgres://nobody@127.0.0.1:1/none");
    let unready = almanac_worker::Application::build(settings).await.unwrap();
    let base = format!("http://127.0.0.1:{}", unready.port());
    tokio::spawn(unready.run_until_stopped(std::future::pending()));
    let ready = eventually(
        std::time::Duration::from_secs(5),
        "the unready worker's endpoints",
        || async { reqwest::get(format!("{base}/readyz")).await.ok() },
    )
    .await;
    assert_eq!(ready.status(), 503);
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
}

/// A worker whose events' Redis (`EVENTS_REDIS_URL`) went away is alive but not ready: the
/// jobs it would run could not tell their streams anything.
#[tokio::test]
async fn a_worker_whose_events_redis_is_gone_is_not_ready() {
    let app = spawn_app().await;
    let mut events = crate::helpers::redis_server::RedisServer::start().await;
    let mut settings = app.settings.clone();
    settings.events.redis = almanac_shared::config::EventsRedis::Server(
        almanac_shared::config::Secret::new(events.url()),
    );
    let worker = almanac_worker::Application::build(settings).await.unwrap();
    let base = format!("http://127.0.0.1:{}", worker.port());
    tokio::spawn(worker.run_until_stopped(std::future::pending()));
    let ready = eventually(
        std::time::Duration::from_secs(5),
        "the worker's readiness",
        || async { reqwest::get(format!("{base}/readyz")).await.ok() },
    )
    .await;
    assert_eq!(ready.status(), 200);

    events.stop().await;
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503, "{:?}", ready.text().await);
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn request_ids_and_trace_context_travel_with_the_job() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = app
        .client
        .post(app.url("/api/ai/generations"))
        .bearer_auth(app.token(user))
        .header("x-request-id", "req-abc-123")
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .json(&serde_json::json!({ "source_text": crate::helpers::source_text(1500) }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-abc-123");
    let body: Value = response.json().await.unwrap();
    let job: Uuid = body["job_id"].as_str().unwrap().parse().unwrap();
    let context: sqlx::types::Json<Value> =
        sqlx::query_scalar("select trace_context from jobs where id = $1")
            .bind(job)
            .fetch_one(&app.db)
            .await
            .unwrap();
    let traceparent = context.0["traceparent"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        traceparent.contains(trace_id),
        "the job carries the request's trace: {traceparent}"
    );
    // The worker's span continues that trace.
    let generation: Uuid = body["generation_id"].as_str().unwrap().parse().unwrap();
    let finished = app.wait_finished(user, generation).await;
    assert_eq!(finished["ai_metadata"]["trace_id"], trace_id);

    let missing = app
        .client
        .get(app.url("/nope"))
        .header("x-request-id", "req-404")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let envelope: Value = missing.json().await.unwrap();
    assert_eq!(envelope["meta"]["requestId"], "req-404");
    assert_eq!(envelope["error"]["code"], "NOT_FOUND");
}

/// With `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans are exported over OTLP/HTTP. The global
/// tracer of this test process is already installed without an exporter, so the export
/// runs in a child process (this same test binary, running only `otlp_probe`).
#[tokio::test]
async fn spans_are_exported_over_otlp_when_configured() {
    use poem::{
        EndpointExt, Route, Server, handler,
        listener::{Acceptor, Listener, TcpListener},
        post,
        web::Data,
    };
    use std::sync::{Arc, Mutex};

    type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;
    #[handler]
    fn traces(req: &poem::Request, body: Vec<u8>, received: Data<&Received>) -> &'static str {
        let content_type = req.content_type().unwrap_or_default().to_owned();
        received.lock().unwrap().push((content_type, body));
        ""
    }
    let received: Received = Arc::default();
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let endpoint = format!(
        "http://127.0.0.1:{}",
        acceptor.local_addr()[0].as_socket_addr().unwrap().port()
    );
    let app = Route::new()
        .at("/v1/traces", post(traces))
        .data(received.clone());
    tokio::spawn(async move { Server::new_with_acceptor(acceptor).run(app).await });

    let status = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "operations::otlp_probe",
            "--exact",
            "--include-ignored",
            "--test-threads=1",
        ])
        .env("ALMANAC_OTLP_PROBE_ENDPOINT", &endpoint)
        .stdout(std::process::Stdio::null())
        .status()
        .await
        .unwrap();
    assert!(status.success(), "the probe process failed");
    let received = received.lock().unwrap().clone();
    assert!(!received.is_empty(), "no OTLP export reached the collector");
    let (content_type, body) = &received[0];
    assert_eq!(content_type, "application/x-protobuf");
    let contains = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    assert!(
        contains(b"otlp-probe-span"),
        "the exported batch lacks the span"
    );
    assert!(
        contains(b"almanac-otlp-probe"),
        "the exported batch lacks the service name"
    );
}

#[test]
#[ignore = "child process of spans_are_exported_over_otlp_when_configured"]
fn otlp_probe() {
    let endpoint = std::env::var("ALMANAC_OTLP_PROBE_ENDPOINT").expect("run by the OTLP test");
    let guard =
        almanac_shared::telemetry::init("almanac-otlp-probe", None, Some(&endpoint)).unwrap();
    tracing::info_span!("otlp-probe-span").in_scope(|| tracing::info!("inside the probe span"));
    // Dropping the guard flushes the batch exporter.
    drop(guard);
}

/// `/metrics` is not the public's: it is served on `METRICS_ADDR`, and on the API's port
/// only with `METRICS_TOKEN`. Requests are labelled by route template, so ten thousand
/// made-up paths add no series, no memory worth measuring, and no value of theirs.
#[tokio::test]
async fn made_up_paths_add_no_metric_series_and_no_value_of_theirs() {
    use almanac_tests::processes::Service;
    use futures::StreamExt;

    let (db_name, _db) = crate::helpers::fresh_database().await;
    let database = almanac_shared::db::with_database(&crate::helpers::admin_url(), &db_name);
    let token = "metrics-token-metrics-token-7f3a9c21e5";
    let env = |metrics_token: Option<&str>| {
        let mut env = vec![
            ("DATABASE_URL", database.clone()),
            ("REDIS_URL", crate::helpers::redis_url()),
            (
                "REDIS_PREFIX",
                format!("m{}", &Uuid::new_v4().simple().to_string()[..12]),
            ),
            ("JWT_SECRET", crate::helpers::JWT_SECRET.to_owned()),
            ("ALMANAC_DEV", "true".to_owned()),
        ];
        env.extend(metrics_token.map(|t| ("METRICS_TOKEN", t.to_owned())));
        env
    };
    let api = Service::api(&env(None)).await.unwrap();
    let http = reqwest::Client::new();
    let scrape = || async {
        let text = http
            .get(api.metrics_url())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let series = text.lines().filter(|l| l.starts_with("http_")).count();
        (series, text)
    };
    // The API's own port has no `/metrics` without METRICS_TOKEN.
    let public = http.get(api.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);
    // The `unmatched` series exist once any made-up path was asked for.
    for method in ["GET", "BREW"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        http.request(method, api.url("/warm/up"))
            .send()
            .await
            .unwrap();
    }
    let (before, _) = scrape().await;
    let rss_before = api.rss_kib().unwrap();
    let sent = futures::stream::iter(0..10_000)
        .map(|i| {
            let method = if i % 10 == 0 { "BREW" } else { "GET" };
            let request = http.request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                api.url(&format!(
                    "/api/organic/brands/brand_{i}/accounts/ig_{i}/made-up-{i}"
                )),
            );
            async move { request.send().await.map(|r| r.status().as_u16()) }
        })
        .buffer_unordered(32)
        .filter(|answer| std::future::ready(answer.as_ref().is_ok_and(|s| *s == 404)))
        .count()
        .await;
    assert_eq!(sent, 10_000, "every made-up path was answered 404");
    let (after, text) = scrape().await;
    assert_eq!(after, before, "made-up paths added series:\n{text}");
    for value in ["brand_", "ig_", "made-up", "BREW"] {
        assert!(!text.contains(value), "`{value}` is in a label:\n{text}");
    }
    assert!(
        text.contains("http_requests_total{method=\"other\",route=\"unmatched\",status=\"404\"}"),
        "{text}"
    );
    // The allocator's gauges (what an operator reads to tell live data from what the
    // allocator keeps): both set, and its pages hold at least what is allocated.
    let gauge = async |name: &str| {
        api.metric(name)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{name} in /metrics:\n{text}"))
    };
    let allocated = gauge("process_heap_allocated_bytes").await;
    let resident = gauge("process_heap_resident_bytes").await;
    assert!(allocated > 0.0, "{allocated} bytes allocated");
    assert!(
        resident >= allocated,
        "{resident} resident < {allocated} allocated"
    );
    let grown_kib = api.rss_kib().unwrap().saturating_sub(rss_before);
    assert!(
        grown_kib < 8 * 1024,
        "10,000 made-up paths grew the API by {grown_kib} KiB"
    );

    // With METRICS_TOKEN, the API's port serves it too, to that bearer token only.
    let tokened = Service::api(&env(Some(token))).await.unwrap();
    let asked = |bearer: Option<&str>| {
        let mut request = http.get(tokened.url("/metrics"));
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(asked(None).await, 401);
    assert_eq!(
        asked(Some("metrics-token-but-not-the-right-one")).await,
        401
    );
    assert_eq!(asked(Some(token)).await, 200);
    drop((api, tokened));
    crate::helpers::drop_database(&db_name).await;
}

/// Without a strong `JWT_SECRET` neither binary starts (a token minted with a secret
/// anyone can read would be anyone's), unless `ALMANAC_DEV=true` says this is a
/// development machine; the refusal is one line naming the variable.
#[tokio::test]
async fn the_binaries_refuse_weak_secrets_outside_development() {
    use almanac_tests::processes::Service;

    let (db_name, _db) = crate::helpers::fresh_database().await;
    let database = almanac_shared::db::with_database(&crate::helpers::admin_url(), &db_name);
    let base = vec![
        ("DATABASE_URL", database.clone()),
        ("REDIS_URL", crate::helpers::redis_url()),
        (
            "REDIS_PREFIX",
            format!("s{}", &Uuid::new_v4().simple().to_string()[..12]),
        ),
    ];
    let with = |extra: &[(&'static str, &str)]| {
        let mut env = base.clone();
        env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        env
    };
    let placeholder = "change-me-change-me-change-me-change-me";
    let cases: [(&[(&'static str, &str)], &str); 6] = [
        (&[], "JWT_SECRET: required"),
        (
            &[("JWT_SECRET", "short-secret")],
            "JWT_SECRET: must be at least 32 bytes",
        ),
        (
            &[("JWT_SECRET", placeholder)],
            "JWT_SECRET: is a placeholder",
        ),
        (
            &[
                ("JWT_SECRET", crate::helpers::JWT_SECRET),
                ("ADMIN_TOKEN", placeholder),
            ],
            "ADMIN_TOKEN: is a placeholder",
        ),
        (
            &[
                ("JWT_SECRET", crate::helpers::JWT_SECRET),
                ("PUBLISH_SERVICE_ENABLED", "true"),
                // base64 of `change-me-change-me-change-me-01`: deploy/k8s once shipped it.
                (
                    "TOKEN_ENCRYPTION_KEY",
                    "Y2hhbmdlLW1lLWNoYW5nZS1tZS1jaGFuZ2UtbWUtMDE=",
                ),
            ],
            "TOKEN_ENCRYPTION_KEY: is a placeholder",
        ),
        // The development sign-in opens a session as anyone: a development machine only.
        (
            &[
                ("JWT_SECRET", crate::helpers::JWT_SECRET),
                ("DEV_LOGIN", "true"),
            ],
            "DEV_LOGIN=true needs ALMANAC_DEV=true",
        ),
    ];
    for (binary, addr_var) in [
        ("almanac-api", "API_ADDR"),
        ("almanac-worker", "WORKER_METRICS_ADDR"),
    ] {
        for (extra, said) in &cases {
            let (status, output) = Service::run_to_exit(binary, &with(extra), addr_var)
                .await
                .unwrap();
            assert!(!status.success(), "{binary} started with {extra:?}");
            let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
            assert_eq!(lines.len(), 1, "{binary}: one line: {output}");
            assert!(lines[0].contains(said), "{binary} {extra:?}: {output}");
            for (name, value) in extra.iter() {
                let secret = ["JWT_SECRET", "ADMIN_TOKEN", "TOKEN_ENCRYPTION_KEY"].contains(name);
                assert!(
                    !(secret && output.contains(value)),
                    "{binary} printed {name}: {output}"
                );
            }
        }
    }
    // A development machine starts with the development secret, or a short one.
    for extra in [&[][..], &[("JWT_SECRET", "short-secret")][..]] {
        let env = with(&[extra, &[("ALMANAC_DEV", "true")][..]].concat());
        Service::api(&env)
            .await
            .expect("almanac-api starts with ALMANAC_DEV=true");
        Service::worker(&env)
            .await
            .expect("almanac-worker starts with ALMANAC_DEV=true");
    }
    // There, the development sign-in starts, and each binary says so once, as a warning.
    let env = with(&[("ALMANAC_DEV", "true"), ("DEV_LOGIN", "true")]);
    let logs = std::env::temp_dir().join(format!("almanac-dev-login-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&logs).unwrap();
    for worker in [false, true] {
        let log = logs.join(format!("{worker}.log"));
        let _service = Service::logged(worker, &env, &log).await.unwrap();
        let warnings = |text: &str| -> Vec<Value> {
            text.lines()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .filter(|line| {
                    line["level"] == "WARN"
                        && line["message"]
                            .as_str()
                            .is_some_and(|m| m.contains("DEV_LOGIN=true"))
                })
                .collect()
        };
        let said = eventually(
            std::time::Duration::from_secs(10),
            "the development sign-in's warning",
            || async {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                (!warnings(&text).is_empty()).then_some(text)
            },
        )
        .await;
        assert_eq!(warnings(&said).len(), 1, "worker {worker}: {said}");
    }
    std::fs::remove_dir_all(&logs).ok();
    crate::helpers::drop_database(&db_name).await;
}
