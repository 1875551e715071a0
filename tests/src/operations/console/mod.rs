//! The operator console (issue 54): who reaches `/admin`, the job search, bulk retries and
//! cancels that take exactly what their filter matches, the statistics and their live
//! stream. Pausing a queue across processes is in `pause`.

mod pause;

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, TestOptions, spawn_app_with, stream::EventReader};

/// The built-in job kinds, in the console's order.
const BUILT_IN_KINDS: [&str; 8] = [
    "generation",
    "calendar",
    "organic",
    "synthesis",
    "email",
    "publish",
    "webhook",
    "post_metrics",
];

pub(crate) const ADMIN_TOKEN: &str = "admin-token-for-the-console-tests-0123456789";

/// A request from the app's own scripts with the admin cookie `id`.
fn from_console(request: reqwest::RequestBuilder, id: &str) -> reqwest::RequestBuilder {
    request
        .header("cookie", format!("almanac_admin={id}"))
        .header("x-requested-with", "XMLHttpRequest")
}

/// Signs the console in: the admin cookie's id, after checking its attributes.
async fn sign_in(app: &TestApp) -> String {
    let response = app
        .client
        .post(app.url("/app/admin-session"))
        .header("x-requested-with", "XMLHttpRequest")
        .json(&json!({ "token": ADMIN_TOKEN }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    let id = cookie
        .strip_prefix("almanac_admin=")
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 64, "256 random bits in hex: {id}");
    id
}

/// `method path` as the console sends it: its answer's status and body.
async fn console(
    app: &TestApp,
    id: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = from_console(app.client.request(method, app.url(path)), id);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `GET path` from the console: status and answer.
async fn read(app: &TestApp, id: &str, path: &str) -> (u16, Value) {
    console(app, id, Method::GET, path, None).await
}

async fn console_app(worker: bool) -> TestApp {
    spawn_app_with(TestOptions {
        worker,
        env: vec![("ADMIN_TOKEN", ADMIN_TOKEN.into())],
        ..Default::default()
    })
    .await
}

/// A user's session cookie, a user's API key: 401 at `/admin`; a user's JWT: 403.
async fn a_user_s_credentials_never_reach_admin(app: &TestApp) {
    let user = Uuid::now_v7();
    let session = app
        .client
        .post(app.url("/app/session"))
        .header("x-requested-with", "XMLHttpRequest")
        .json(&json!({ "token": app.token(user) }))
        .send()
        .await
        .unwrap();
    let user_cookie = session.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let with_user_cookie = app
        .client
        .get(app.url("/admin/stats"))
        .header("cookie", user_cookie)
        .header("x-requested-with", "XMLHttpRequest")
        .send()
        .await
        .unwrap();
    assert_eq!(with_user_cookie.status(), 401);
    let (status, key) = app
        .send_json(
            Method::POST,
            user,
            "/v1/api-keys",
            &json!({ "name": "ops", "scopes": ["read", "write", "publish"] }),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    let key = key["data"]["key"]
        .as_str()
        .or(key["key"].as_str())
        .unwrap()
        .to_owned();
    let (status, _) = app
        .request_json(Method::GET, app.url("/admin/stats"), Some(&key), None)
        .await;
    assert_eq!(status, 401, "an API key never reaches /admin");
    let (status, body) = app
        .request_json(
            Method::GET,
            app.url("/admin/jobs"),
            Some(&app.token(user)),
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("ADMIN_ONLY"))
    );
}

#[tokio::test]
async fn the_console_signs_in_with_the_admin_token_and_nothing_else_reaches_admin() {
    let app = console_app(false).await;
    let wrong = app
        .client
        .post(app.url("/app/admin-session"))
        .header("x-requested-with", "XMLHttpRequest")
        .json(&json!({ "token": "not-it" }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let id = sign_in(&app).await;
    let (status, stats) = read(&app, &id, "/admin/stats").await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["data"]["window"], "1h");

    // Cross-origin, or without the scripts' header, the cookie is refused.
    let foreign = app
        .client
        .get(app.url("/admin/stats"))
        .header("cookie", format!("almanac_admin={id}"))
        .header("x-requested-with", "XMLHttpRequest")
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 401);
    let plain = app
        .client
        .post(app.url("/admin/jobs/cancel"))
        .header("cookie", format!("almanac_admin={id}"))
        .json(&json!({ "all": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 401, "a form cannot use the admin cookie");

    a_user_s_credentials_never_reach_admin(&app).await;

    // Signed out, the cookie is dead everywhere.
    let out = from_console(app.client.delete(app.url("/app/admin-session")), &id)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let (status, _) = read(&app, &id, "/admin/stats").await;
    assert_eq!(status, 401);

    // Without ADMIN_TOKEN there is no console sign-in at all.
    let closed = spawn_app_with(TestOptions {
        worker: false,
        ..Default::default()
    })
    .await;
    let response = closed
        .client
        .post(closed.url("/app/admin-session"))
        .header("x-requested-with", "XMLHttpRequest")
        .json(&json!({ "token": ADMIN_TOKEN }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

/// Marks the jobs of `generations` failed, as their kind's ending leaves them.
pub(crate) async fn fail_generations(app: &TestApp, generations: &[Uuid]) {
    sqlx::query(
        "with failed as (
             update ai_generations set status = 'failed', updated_at = now()
             where id = any($1) returning job_id)
         update jobs set status = 'failed', attempts = max_attempts, finished_at = now(),
                error = '{\"code\": \"AI_PROVIDER_ERROR\", \"message\": \"the provider failed\"}'
         where id in (select job_id from failed)",
    )
    .bind(generations)
    .execute(&app.db)
    .await
    .unwrap();
}

/// A failed job of `kind` with no domain row (publish and calendar jobs are never retried
/// here, so theirs is never read).
pub(crate) async fn failed_job(app: &TestApp, user: Uuid, kind: &str) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into jobs (id, user_id, kind, status, payload, attempts, max_attempts,
                           finished_at, error)
         values ($1, $2, $3, 'failed', '{}', 3, 3, now(), '{\"code\": \"X\", \"message\": \"x\"}')",
    )
    .bind(id)
    .bind(user)
    .bind(kind)
    .execute(&app.db)
    .await
    .unwrap();
    id
}

pub(crate) async fn job_row(app: &TestApp, id: Uuid) -> (String, i32) {
    sqlx::query_as("select status, attempts from jobs where id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// `POST /admin/jobs/retry` with `body` from the console: status and answer.
async fn retry_jobs(app: &TestApp, id: &str, body: Value) -> (u16, Value) {
    console(app, id, Method::POST, "/admin/jobs/retry", Some(body)).await
}

#[tokio::test]
async fn a_bulk_retry_takes_exactly_the_failed_jobs_it_can_start_again_once_each() {
    let mut app = console_app(false).await;
    let id = sign_in(&app).await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let mut generations = Vec::new();
    let mut jobs = Vec::new();
    for user in [alice, alice, alice, bob, bob] {
        let (generation, job) = app.submit_job(user, 1200).await;
        generations.push(generation);
        jobs.push(job);
    }
    fail_generations(&app, &generations).await;
    app.expect_failed_jobs();
    let publish = failed_job(&app, alice, "publish").await;
    let calendar = failed_job(&app, bob, "calendar").await;
    // One of bob's generations still waits: a retry leaves it alone.
    let (waiting, waiting_job) = app.submit_job(bob, 1200).await;

    // A filter that names nothing is refused unless it says all.
    let (status, body) = retry_jobs(&app, &id, json!({ "dryRun": true })).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("VALIDATION_FAILED")),
        "{body}"
    );
    let (status, all) = retry_jobs(&app, &id, json!({ "all": true, "dryRun": true })).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["data"]["matched"], 8);
    assert_eq!(all["data"]["retried"], 5);
    assert_eq!(
        all["data"]["skipped"],
        json!({ "publish_retried_by_owner": 1, "calendar_deadline_passed": 1, "not_ended_badly": 1 })
    );

    // Every failed job: the dry run and the real call agree; publish and calendar stay.
    let every_failed = json!({ "status": "failed", "dryRun": true });
    let (_, dry) = retry_jobs(&app, &id, every_failed).await;
    let expected = json!({
        "matched": 7, "retried": 5, "dryRun": true,
        "skipped": { "publish_retried_by_owner": 1, "calendar_deadline_passed": 1 }
    });
    assert_eq!(dry["data"], expected);
    assert_eq!(
        job_row(&app, jobs[0]).await,
        ("failed".to_owned(), 3),
        "a dry run changes nothing"
    );
    let (status, real) = retry_jobs(&app, &id, json!({ "status": "failed" })).await;
    assert_eq!(status, 200, "{real}");
    let mut expected = expected;
    expected["dryRun"] = json!(false);
    assert_eq!(real["data"], expected);
    for job in &jobs {
        assert_eq!(
            job_row(&app, *job).await,
            ("pending".to_owned(), 0),
            "back with a fresh budget"
        );
    }
    assert_eq!(job_row(&app, publish).await, ("failed".to_owned(), 3));
    assert_eq!(job_row(&app, calendar).await, ("failed".to_owned(), 3));
    let (status, generation) = app
        .get_json(alice, &format!("/api/ai/generations/{}", generations[0]))
        .await;
    assert_eq!(
        (status, generation["status"].as_str()),
        (200, Some("pending"))
    );

    // Run: each retried job once, the one that waited too.
    app.start_worker().await;
    for (generation, user) in generations.iter().zip([alice, alice, alice, bob, bob]) {
        let finished = app.wait_finished(user, *generation).await;
        assert_eq!(finished["status"], "succeeded");
    }
    app.wait_finished(bob, waiting).await;
    for job in jobs.iter().chain([&waiting_job]) {
        assert_eq!(
            job_row(&app, *job).await,
            ("succeeded".to_owned(), 1),
            "claimed once"
        );
    }
    // Nothing failed is left to retry but what is never retried here.
    let (_, again) = retry_jobs(&app, &id, json!({ "status": "failed" })).await;
    assert_eq!(again["data"]["retried"], 0);
    let actions: Vec<(String, i64, i64)> =
        sqlx::query_as("select action, matched, acted from admin_actions order by id")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(
        actions,
        [("retry".to_owned(), 7, 5), ("retry".to_owned(), 2, 0)],
        "real actions are recorded, dry runs are not"
    );
}

#[tokio::test]
async fn cancelling_every_queued_job_of_one_user_leaves_the_others() {
    let app = console_app(false).await;
    let id = sign_in(&app).await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let mut alices = Vec::new();
    for _ in 0..4 {
        alices.push(app.submit_job(alice, 1200).await);
    }
    let (bobs_generation, bobs_job) = app.submit_job(bob, 1200).await;
    app.expect_unfinished_jobs();
    let filter = json!({ "workspace": alice, "status": "pending" });
    let mut dry = filter.clone();
    dry["dryRun"] = json!(true);
    let (_, counted) = console(&app, &id, Method::POST, "/admin/jobs/cancel", Some(dry)).await;
    assert_eq!(
        counted["data"],
        json!({ "matched": 4, "cancelled": 4, "skipped": {}, "dryRun": true })
    );
    let (status, cancelled) =
        console(&app, &id, Method::POST, "/admin/jobs/cancel", Some(filter)).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["data"]["cancelled"], 4);
    for (generation, job) in &alices {
        assert_eq!(job_row(&app, *job).await.0, "cancelled");
        let (_, row) = app
            .get_json(alice, &format!("/api/ai/generations/{generation}"))
            .await;
        assert_eq!(row["status"], "cancelled", "the domain row follows its job");
    }
    assert_eq!(job_row(&app, bobs_job).await.0, "pending");
    let (_, row) = app
        .get_json(bob, &format!("/api/ai/generations/{bobs_generation}"))
        .await;
    assert_eq!(row["status"], "pending");
    // Each cancelled job's stream ended with its final event.
    let (status, detail) = read(&app, &id, &format!("/admin/jobs/{}", alices[0].1)).await;
    assert_eq!(status, 200, "{detail}");
    let events = detail["data"]["events"].as_array().unwrap();
    assert_eq!(events.last().unwrap()["type"], "done", "{detail}");
    assert_eq!(detail["data"]["job"]["lastError"]["code"], "CANCELLED");
}

#[tokio::test]
async fn the_job_search_finds_jobs_by_request_user_and_filter_newest_first() {
    let app = console_app(false).await;
    let id = sign_in(&app).await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let request_id = format!("console-{}", Uuid::now_v7());
    let response = app
        .client
        .post(app.url("/api/ai/generations"))
        .bearer_auth(app.token(alice))
        .header("x-request-id", &request_id)
        .json(&json!({ "source_text": crate::helpers::source_text(1200), "reuse": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    let (generation, job): (Uuid, Uuid) = (
        body["generation_id"].as_str().unwrap().parse().unwrap(),
        body["job_id"].as_str().unwrap().parse().unwrap(),
    );
    let mut bobs = Vec::new();
    for _ in 0..3 {
        bobs.push(app.submit_job(bob, 1200).await.1);
    }
    app.expect_unfinished_jobs();
    let ids = |page: &Value| -> Vec<Uuid> {
        page["data"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_str().unwrap().parse().unwrap())
            .collect()
    };
    let (_, by_request) = read(&app, &id, &format!("/admin/jobs?q={request_id}")).await;
    assert_eq!(ids(&by_request), [job]);
    assert_eq!(
        by_request["data"]["items"][0]["requestId"],
        request_id.as_str()
    );
    let (_, by_job) = read(&app, &id, &format!("/admin/jobs?q={job}")).await;
    assert_eq!(ids(&by_job), [job]);
    let (_, by_user) = read(&app, &id, &format!("/admin/jobs?q={bob}")).await;
    assert_eq!(
        ids(&by_user),
        bobs.iter().rev().copied().collect::<Vec<_>>(),
        "newest first"
    );
    // Pages by cursor, each job once.
    let (_, first) = read(&app, &id, &format!("/admin/jobs?workspace={bob}&limit=2")).await;
    let cursor = first["data"]["nextCursor"].as_str().unwrap();
    let (_, second) = read(
        &app,
        &id,
        &format!("/admin/jobs?workspace={bob}&limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(
        [ids(&first), ids(&second)].concat(),
        bobs.iter().rev().copied().collect::<Vec<_>>()
    );
    assert!(second["data"]["nextCursor"].is_null());
    let (_, none) = read(&app, &id, "/admin/jobs?kind=generation&status=failed").await;
    assert_eq!(ids(&none), Vec::<Uuid>::new());
    let (status, _) = read(&app, &id, "/admin/jobs?status=lost").await;
    assert_eq!(status, 400);

    // One job: its domain row and its events.
    let (_, detail) = read(&app, &id, &format!("/admin/jobs/{job}")).await;
    let detail = &detail["data"];
    assert_eq!(detail["domain"]["table"], "ai_generations");
    assert_eq!(detail["domain"]["id"], generation.to_string());
    assert_eq!(
        detail["domain"]["path"],
        format!("/api/ai/generations/{generation}")
    );
    assert_eq!(detail["payloadType"], "generation.v1");
    assert_eq!(detail["events"][0]["data"]["stage"], "queued", "{detail}");
    assert_eq!(detail["eventsExpired"], false);
    let (status, _) = read(&app, &id, &format!("/admin/jobs/{}", Uuid::now_v7())).await;
    assert_eq!(status, 404);
}

/// The tests' `probe` kind, registered by its worker alone (`helpers::probe`), is in the
/// console as a built-in kind is: among the kinds and their counts, found by its filter,
/// its job linked to its own row.
#[tokio::test]
async fn a_kind_of_the_tests_only_is_in_every_view_of_the_console() {
    let app = spawn_app_with(TestOptions {
        probe: true,
        env: vec![("ADMIN_TOKEN", ADMIN_TOKEN.into())],
        ..Default::default()
    })
    .await;
    let id = sign_in(&app).await;
    let probe = Uuid::now_v7();
    let job = app.submit_probe(Uuid::now_v7(), probe, 2).await;
    app.jobs_settled().await;

    let (status, stats) = read(&app, &id, "/admin/stats?window=15m").await;
    assert_eq!(status, 200, "{stats}");
    let kinds: Vec<&str> = stats["data"]["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kind| kind.as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|kind| **kind == "probe").count(), 1);
    assert_eq!(
        kinds[..8],
        BUILT_IN_KINDS,
        "the built-in kinds first, in their order"
    );
    let probes: Vec<&Value> = stats["data"]["counts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|count| count["kind"] == "probe")
        .collect();
    assert_eq!(probes.len(), 1, "{stats}");
    assert_eq!(
        (&probes[0]["status"], &probes[0]["count"]),
        (&json!("succeeded"), &json!(1))
    );

    let (status, found) = read(&app, &id, "/admin/jobs?kind=probe").await;
    assert_eq!(status, 200, "{found}");
    let items = found["data"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{found}");
    assert_eq!(items[0]["id"], job.to_string());
    assert_eq!(items[0]["kind"], "probe");

    let (_, detail) = read(&app, &id, &format!("/admin/jobs/{job}")).await;
    assert_eq!(
        detail["data"]["domain"],
        json!({ "table": "probes", "id": probe, "path": null }),
        "{detail}"
    );
    assert_eq!(detail["data"]["payloadType"], "probe.v1");
}

/// A kind this process knows (registered, as another app of the process does) that the
/// deployment's database does not end is no queue of the deployment's: the kinds are the
/// built-in ones alone, as the document lists them.
#[tokio::test]
async fn a_kind_only_another_app_runs_is_not_among_the_deployments_kinds() {
    use almanac_shared::jobs::JobPayload;
    almanac_shared::jobs::JobKind::register(crate::helpers::probe::ProbeJob::KIND);
    let app = console_app(false).await;
    let id = sign_in(&app).await;
    let (status, stats) = read(&app, &id, "/admin/stats?window=15m").await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["data"]["kinds"], json!(BUILT_IN_KINDS));
}

#[tokio::test]
async fn the_statistics_count_the_fleet_and_the_live_stream_tells_each_change() {
    let app = console_app(true).await;
    let id = sign_in(&app).await;
    let live = from_console(app.client.get(app.url("/admin/live?window=15m")), &id)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let mut frames = EventReader::from_response(live, false);
    let first = frames.next_event().await.unwrap();
    assert_eq!(
        (first.kind.as_str(), &first.data["stats"]["window"]),
        ("frame", &json!("15m"))
    );
    let alice = Uuid::now_v7();
    let mut generations = Vec::new();
    for _ in 0..3 {
        generations.push(app.submit(alice).await);
    }
    for generation in &generations {
        app.wait_finished(alice, *generation).await;
    }
    // The stream tells the three, created and succeeded, without a reload.
    let (mut created, mut succeeded) = (0, 0);
    while created < 3 || succeeded < 3 {
        let frame = frames.next_event().await.unwrap().data;
        for change in frame["changes"].as_array().unwrap() {
            if change["kind"] == "generation" {
                match change["change"].as_str().unwrap() {
                    "created" => created += change["count"].as_i64().unwrap(),
                    "succeeded" => succeeded += change["count"].as_i64().unwrap(),
                    _ => {}
                }
            }
        }
    }
    assert_eq!((created, succeeded), (3, 3), "each change told once");
    let (status, stats) = read(&app, &id, "/admin/stats?window=15m").await;
    assert_eq!(status, 200);
    let stats = &stats["data"];
    let succeeded: i64 = stats["counts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "generation" && c["status"] == "succeeded")
        .map(|c| c["count"].as_i64().unwrap())
        .sum();
    assert_eq!(succeeded, 3);
    let finished: i64 = stats["throughput"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["finished"].as_i64().unwrap())
        .sum();
    assert_eq!(finished, 3);
    let latency = &stats["latency"][0];
    assert_eq!(
        (latency["kind"].as_str(), latency["jobs"].as_i64()),
        (Some("generation"), Some(3))
    );
    assert!(latency["runP95"].as_f64().unwrap() >= latency["runP50"].as_f64().unwrap());
    let (status, _) = read(&app, &id, "/admin/stats?window=2h").await;
    assert_eq!(status, 400);
    assert_eq!(
        (
            stats["unfinished"].as_i64(),
            stats["tenants"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
}

/// The parts of `GET /admin/stats?window=…` that finished jobs make: counts by kind and
/// status, finished and failed per minute, wait and run times.
async fn finished_stats(app: &TestApp, id: &str, window: &str) -> Value {
    let path = format!("/admin/stats?window={window}");
    let (status, stats) = console(app, id, Method::GET, &path, None).await;
    assert_eq!(status, 200, "{stats}");
    let data = &stats["data"];
    json!({
        "counts": data["counts"],
        "throughput": data["throughput"],
        "latency": data["latency"],
    })
}

/// Jobs that finished over the last day: three generations before the hour, one past the
/// day, an email that failed, a cancelled calendar, an organic week, a generation a quarter
/// ago and one that timed out now.
async fn finished_jobs(app: &TestApp) {
    // (kind, status, lane, finished this long ago, waited, ran) in seconds; no wait or run
    // for a job that never started.
    let jobs = [
        (
            "generation",
            "succeeded",
            "interactive",
            25.0 * 3600.0,
            Some((2.0, 3.0)),
        ),
        (
            "generation",
            "succeeded",
            "interactive",
            23.0 * 3600.0,
            Some((2.0, 3.0)),
        ),
        (
            "generation",
            "succeeded",
            "interactive",
            23.0 * 3600.0,
            Some((2.0, 3.0)),
        ),
        ("email", "failed", "bulk", 3.0 * 3600.0, Some((10.0, 0.5))),
        ("calendar", "cancelled", "interactive", 2.0 * 3600.0, None),
        (
            "organic",
            "succeeded",
            "scheduled",
            90.0 * 60.0,
            Some((1.0, 4.0)),
        ),
        (
            "generation",
            "succeeded",
            "interactive",
            14.0 * 60.0,
            Some((2.0, 3.0)),
        ),
        (
            "generation",
            "timeout",
            "interactive",
            30.0,
            Some((2.0, 3.0)),
        ),
    ];
    for (kind, status, lane, ago, times) in jobs {
        let (waited, ran) = times.map_or((None, None), |(w, r)| (Some(w), Some(r)));
        sqlx::query(
            "insert into jobs (id, user_id, kind, status, payload, max_attempts, lane,
                               finished_at, started_at, created_at)
             select $1, $2, $3, $4, '{}', 3, $5, f,
                    f - make_interval(secs => $7),
                    f - make_interval(secs => coalesce($7, 0) + coalesce($8, 0))
             from (select now() - make_interval(secs => $6) as f) t",
        )
        .bind(Uuid::now_v7())
        .bind(Uuid::now_v7())
        .bind(kind)
        .bind(status)
        .bind(lane)
        .bind(ago)
        .bind(ran)
        .bind(waited)
        .execute(&app.db)
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn the_statistics_read_the_same_from_the_rollups_as_from_the_jobs() {
    use almanac_shared::store::console::rollups;
    let app = console_app(false).await;
    let id = sign_in(&app).await;
    finished_jobs(&app).await;
    let day = finished_stats(&app, &id, "24h").await;
    let count = |stats: &Value, kind: &str, status: &str| -> i64 {
        stats["counts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["kind"] == kind && c["status"] == status)
            .map(|c| c["count"].as_i64().unwrap())
            .sum()
    };
    // The job of 25 hours ago is outside the day; the others count once each.
    assert_eq!(
        [
            count(&day, "generation", "succeeded"),
            count(&day, "generation", "timeout"),
            count(&day, "email", "failed"),
            count(&day, "calendar", "cancelled"),
            count(&day, "organic", "succeeded"),
        ],
        [3, 1, 1, 1, 1],
        "{day}"
    );
    let per_minute = |stats: &Value, field: &str| -> i64 {
        stats["throughput"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m[field].as_i64().unwrap())
            .sum()
    };
    assert_eq!(
        (per_minute(&day, "finished"), per_minute(&day, "failed")),
        (7, 2)
    );
    assert_eq!(
        day["latency"],
        json!([
            {"kind": "email", "lane": "bulk", "jobs": 1,
             "waitP50": 10.0, "waitP95": 10.0, "runP50": 0.5, "runP95": 0.5},
            {"kind": "generation", "lane": "interactive", "jobs": 4,
             "waitP50": 2.0, "waitP95": 2.0, "runP50": 3.0, "runP95": 3.0},
            {"kind": "organic", "lane": "scheduled", "jobs": 1,
             "waitP50": 1.0, "waitP95": 1.0, "runP50": 4.0, "runP95": 4.0},
        ])
    );
    // The day counts by ten minutes.
    for step in day["throughput"].as_array().unwrap() {
        let at = chrono::DateTime::parse_from_rfc3339(step["at"].as_str().unwrap()).unwrap();
        assert_eq!(at.timestamp() % 600, 0, "{step}");
    }
    let hour = finished_stats(&app, &id, "1h").await;
    let quarter = finished_stats(&app, &id, "15m").await;
    assert_eq!(per_minute(&hour, "finished"), 2);
    assert_eq!(per_minute(&quarter, "finished"), 2);

    // The workers roll the settled minutes up (all but the last job's), more than once:
    // the numbers stay what they were.
    rollups::catch_up(&app.db).await.unwrap();
    rollups::catch_up(&app.db).await.unwrap();
    rollups::roll_up(&app.db).await.unwrap();
    for (window, before) in [("24h", &day), ("1h", &hour), ("15m", &quarter)] {
        assert_eq!(&finished_stats(&app, &id, window).await, before, "{window}");
    }
    // And they are read from the rollups: with the rolled-up jobs gone from the ledger, the
    // day still counts them, and only the unsettled one is read from the jobs.
    let gone = sqlx::query("delete from jobs where finished_at < (select until from job_rollup)")
        .execute(&app.db)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(gone, 7);
    assert_eq!(finished_stats(&app, &id, "24h").await, day);
}
