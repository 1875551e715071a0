//! Every refusal the OpenAPI document lists for an operation is one the server gives: for
//! each (operation, status >= 400) pair of the document, a request here gets exactly that
//! status, and a pair no request produced fails the test. The other direction (no status
//! the document leaves out) is the fuzzer's `status_code_conformance`, and every test's:
//! a debug build panics when a handler refuses with a status its operation does not list.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, TestOptions, admin_url, eventually, source_text, spawn_app_with};

/// An operation as the document describes it.
struct Operation {
    id: String,
    method: Method,
    path: String,
    refusals: BTreeSet<u16>,
    takes_body: bool,
    /// A query parameter whose value must parse (an integer, a UUID, an enum).
    typed_query: Option<String>,
}

fn operations() -> Vec<Operation> {
    let spec: Value = serde_yaml::from_str(&almanac_api::openapi_yaml()).unwrap();
    let mut operations = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let typed_query = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| {
                    let schema = &p["schema"];
                    p["in"] == "query"
                        && (schema["type"] == "integer"
                            || schema["format"] == "uuid"
                            || schema.get("$ref").is_some()
                            || schema.get("enum").is_some())
                })
                .map(|p| p["name"].as_str().unwrap().to_owned());
            operations.push(Operation {
                id: operation["operationId"].as_str().unwrap().to_owned(),
                method: method.to_ascii_uppercase().parse().unwrap(),
                path: path.clone(),
                refusals: operation["responses"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(|status| status.parse().unwrap())
                    .filter(|status| *status >= 400)
                    .collect(),
                takes_body: operation.get("requestBody").is_some(),
                typed_query,
            });
        }
    }
    operations
}

/// A body each operation accepts (ids in it name nothing yet).
fn valid_body(operation: &str) -> Value {
    match operation {
        "createGeneration" => json!({ "source_text": source_text(1500) }),
        "reviewSuggestion" => json!({ "status": "accepted" }),
        "createCard" | "updateCard" => json!({ "front": "Front", "back": "Back" }),
        "generateCalendar" => calendar_request("2027-03-01", "2027-03-02"),
        "editCalendarEntry" => json!({ "title": "A title" }),
        "addCalendarEntry" => {
            json!({ "channel": "instagram", "date": "2027-03-01", "title": "A title" })
        }
        "acceptCalendarChanges" => json!({ "all": true }),
        "createTheme" | "updateTheme" => {
            json!({ "name": "Tea", "sources": [{ "type": "text", "value": "Green tea news." }] })
        }
        "upsertSchedule" => {
            json!({ "enabled": true, "days": ["mon"], "time_utc": "09:00", "emails": ["a@example.com"] })
        }
        other => panic!("no valid body for {other}: add one"),
    }
}

fn calendar_request(start: &str, end: &str) -> Value {
    json!({ "channels": ["instagram"], "cadence": "daily", "start": start, "end": end })
}

/// The query an operation needs (its required parameters), with a valid value.
fn valid_query(operation: &str) -> &'static str {
    match operation {
        "exportCards" => "?format=csv",
        "exportCalendar" => "?format=json",
        _ => "",
    }
}

/// The operation's path with `ids` (see `fill`) and the query it needs.
fn target(operation: &Operation, ids: &[Uuid]) -> String {
    fill(&operation.path, ids) + valid_query(&operation.id)
}

/// The path with each `{param}` replaced by the next of `ids` (random ones after those).
fn fill(template: &str, ids: &[Uuid]) -> String {
    let mut ids = ids
        .iter()
        .copied()
        .chain(std::iter::repeat_with(Uuid::new_v4));
    template
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                ids.next().unwrap().to_string()
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

enum Payload {
    None,
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

/// Sends a request to `base`; `token` none for an anonymous one. Returns status and body.
async fn send(
    app: &TestApp,
    base: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    payload: Payload,
) -> (u16, Value) {
    let mut request = app.client.request(method, format!("{base}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request = match payload {
        Payload::None => request,
        Payload::Json(body) => request.json(&body),
        Payload::Raw(content_type, bytes) => request
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(bytes),
    };
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The pairs that occurred, checked against what each probe expected.
#[derive(Default)]
struct Seen(BTreeMap<String, BTreeSet<u16>>);

impl Seen {
    fn record(&mut self, operation: &str, expected: u16, (status, body): (u16, Value)) -> Value {
        assert_eq!(status, expected, "{operation}: {body}");
        self.0
            .entry(operation.to_owned())
            .or_default()
            .insert(status);
        body
    }
}

#[tokio::test]
async fn every_documented_refusal_occurs() {
    let mut app = spawn_app_with(TestOptions {
        worker: false,
        env: vec![
            ("GENERATION_RATE_LIMIT", "1".into()),
            ("CALENDAR_RATE_LIMIT", "2".into()),
            ("SYNTHESIS_RATE_LIMIT", "1".into()),
        ],
        ..Default::default()
    })
    .await;
    let operations = operations();
    let by_id = |id: &str| operations.iter().find(|o| o.id == id).unwrap();
    let user = Uuid::new_v4();
    let token = app.token(user);
    let base = app.address.clone();
    let mut seen = Seen::default();
    let limit = app.settings.max_body_bytes;

    // Refusals every operation of a shape gives: no token; a value of a typed query
    // parameter that does not parse; a body that is not JSON, too large, or not JSON's type.
    for op in operations.iter().filter(|o| o.refusals.contains(&401)) {
        let answer = send(
            &app,
            &base,
            op.method.clone(),
            &target(op, &[]),
            None,
            Payload::None,
        )
        .await;
        seen.record(&op.id, 401, answer);
    }
    for op in &operations {
        let path = target(op, &[]);
        if let Some(name) = &op.typed_query {
            let query = format!("{}?{name}=nope", fill(&op.path, &[]));
            let payload = if op.takes_body {
                Payload::Json(valid_body(&op.id))
            } else {
                Payload::None
            };
            let answer = send(
                &app,
                &base,
                op.method.clone(),
                &query,
                Some(&token),
                payload,
            )
            .await;
            seen.record(&op.id, 400, answer);
        }
        if op.takes_body {
            let broken = Payload::Raw("application/json", b"{\"x\":".to_vec());
            let answer = send(&app, &base, op.method.clone(), &path, Some(&token), broken).await;
            seen.record(&op.id, 400, answer);
            let huge = Payload::Raw("application/json", vec![b' '; limit + 1]);
            let answer = send(&app, &base, op.method.clone(), &path, Some(&token), huge).await;
            seen.record(&op.id, 413, answer);
            let text = Payload::Raw("text/plain", valid_body(&op.id).to_string().into_bytes());
            let answer = send(&app, &base, op.method.clone(), &path, Some(&token), text).await;
            seen.record(&op.id, 415, answer);
        }
    }

    // 500 and 503: the same requests to an API whose database refuses it (a role without
    // any privilege), then to one whose database is not there.
    let role = format!("nobody_{}", Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&admin_url()).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("create role {role} login")))
        .execute(&admin)
        .await
        .unwrap();
    let server: sqlx::postgres::PgConnectOptions = admin_url().parse().unwrap();
    let (host, port, db) = (server.get_host(), server.get_port(), &app.db_name);
    let refused_url = format!("postgres://{role}@{host}:{port}/{db}");
    let absent_url = format!("postgres://{role}@{host}:1/{db}");
    for (url, status) in [(refused_url, 500), (absent_url, 503)] {
        let mut settings = app.settings.clone();
        settings.database_url = almanac_shared::config::Secret::new(url);
        let replica = app.start_api_replica_with(settings).await;
        for op in operations.iter().filter(|o| o.refusals.contains(&status)) {
            let payload = if op.takes_body {
                Payload::Json(valid_body(&op.id))
            } else {
                Payload::None
            };
            let answer = send(
                &app,
                &replica,
                op.method.clone(),
                &target(op, &[]),
                Some(&token),
                payload,
            )
            .await;
            seen.record(&op.id, status, answer);
        }
    }

    // 404: ids nobody has (and a calendar to regenerate that does not exist).
    for op in operations
        .iter()
        .filter(|o| o.refusals.contains(&404) && o.path.contains('{'))
    {
        let payload = if op.takes_body {
            Payload::Json(valid_body(&op.id))
        } else {
            Payload::None
        };
        let answer = send(
            &app,
            &base,
            op.method.clone(),
            &target(op, &[]),
            Some(&token),
            payload,
        )
        .await;
        seen.record(&op.id, 404, answer);
    }
    let mut regenerate = valid_body("generateCalendar");
    regenerate["calendarId"] = json!(Uuid::new_v4());
    let answer = send(
        &app,
        &base,
        Method::POST,
        "/v1/ai/calendar",
        Some(&token),
        Payload::Json(regenerate),
    )
    .await;
    seen.record("generateCalendar", 404, answer);

    // 422: values each valid alone that a rule refuses, and the syntheses family's
    // invalid values.
    let first = send_generation(&app, &token, Some("probe-key"), 1500).await;
    assert_eq!(first.0, 202, "{}", first.1);
    let answer = send_generation(&app, &token, Some("probe-key"), 1501).await;
    seen.record("createGeneration", 422, answer);
    let backwards = Payload::Json(calendar_request("2027-03-02", "2027-03-01"));
    let answer = send(
        &app,
        &base,
        Method::POST,
        "/v1/ai/calendar",
        Some(&token),
        backwards,
    )
    .await;
    seen.record("generateCalendar", 422, answer);
    let mut impossible = valid_body("addCalendarEntry");
    impossible["date"] = json!("2027-02-30");
    let path = target(by_id("addCalendarEntry"), &[]);
    let answer = send(
        &app,
        &base,
        Method::POST,
        &path,
        Some(&token),
        Payload::Json(impossible),
    )
    .await;
    seen.record("addCalendarEntry", 422, answer);
    let path = target(by_id("acceptCalendarChanges"), &[]);
    let answer = send(
        &app,
        &base,
        Method::POST,
        &path,
        Some(&token),
        Payload::Json(json!({})),
    )
    .await;
    seen.record("acceptCalendarChanges", 422, answer);
    for (id, body) in [
        ("createTheme", json!({ "name": 5 })),
        ("updateTheme", json!({ "name": 5 })),
        (
            "upsertSchedule",
            json!({ "enabled": true, "days": ["someday"], "time_utc": "09:00", "emails": [] }),
        ),
    ] {
        let op = by_id(id);
        let answer = send(
            &app,
            &base,
            op.method.clone(),
            &target(op, &[]),
            Some(&token),
            Payload::Json(body),
        )
        .await;
        seen.record(id, 422, answer);
    }

    // 409 while a calendar run waits for a worker: a second run, and accepting the first's
    // changes before it has ended.
    let calendar = send(
        &app,
        &base,
        Method::POST,
        "/v1/ai/calendar",
        Some(&token),
        Payload::Json(valid_body("generateCalendar")),
    )
    .await;
    assert_eq!(calendar.0, 202, "{}", calendar.1);
    let run = &calendar.1["data"];
    let (calendar_id, run_id) = (uuid(&run["calendarId"]), uuid(&run["runId"]));
    let answer = send(
        &app,
        &base,
        Method::POST,
        "/v1/ai/calendar",
        Some(&token),
        Payload::Json(valid_body("generateCalendar")),
    )
    .await;
    seen.record("generateCalendar", 409, answer);
    let accept = target(by_id("acceptCalendarChanges"), &[calendar_id, run_id]);
    let answer = send(
        &app,
        &base,
        Method::POST,
        &accept,
        Some(&token),
        Payload::Json(json!({ "all": true })),
    )
    .await;
    seen.record("acceptCalendarChanges", 409, answer);

    // Once the worker has run them: a rejected accepted suggestion, a finished job
    // cancelled, an entry moved to a date no calendar has.
    app.start_worker().await;
    let generation = uuid(&first.1["generation_id"]);
    let calendar_job = uuid(&run["jobId"]);
    for job in [uuid(&first.1["job_id"]), calendar_job] {
        wait_succeeded(&app, user, job).await;
    }
    let suggestions = app.suggestions(user, generation).await;
    let suggestion = uuid(&suggestions[0]["id"]);
    let review = target(by_id("reviewSuggestion"), &[suggestion]);
    let accepted = app
        .send_json(
            Method::PATCH,
            user,
            &review,
            &json!({ "status": "accepted" }),
        )
        .await;
    assert_eq!(accepted.0, 200, "{}", accepted.1);
    let answer = send(
        &app,
        &base,
        Method::PATCH,
        &review,
        Some(&token),
        Payload::Json(json!({ "status": "rejected" })),
    )
    .await;
    seen.record("reviewSuggestion", 409, answer);
    let cancel = target(by_id("cancelJob"), &[calendar_job]);
    let answer = send(
        &app,
        &base,
        Method::POST,
        &cancel,
        Some(&token),
        Payload::None,
    )
    .await;
    seen.record("cancelJob", 409, answer);
    let (_, detail) = app
        .get_json(user, &format!("/v1/calendars/{calendar_id}"))
        .await;
    let entry = uuid(&detail["data"]["entries"][0]["id"]);
    let edit = target(by_id("editCalendarEntry"), &[calendar_id, entry]);
    let answer = send(
        &app,
        &base,
        Method::PATCH,
        &edit,
        Some(&token),
        Payload::Json(json!({ "date": "2027-02-30" })),
    )
    .await;
    seen.record("editCalendarEntry", 422, answer);

    // 429: past each per-user limit (1 generation, 2 calendar runs, 1 synthesis).
    let answer = send_generation(&app, &token, None, 1502).await;
    seen.record("createGeneration", 429, answer);
    let second = send(
        &app,
        &base,
        Method::POST,
        "/v1/ai/calendar",
        Some(&token),
        Payload::Json(valid_body("generateCalendar")),
    )
    .await;
    assert_eq!(second.0, 202, "{}", second.1);
    let answer = send(
        &app,
        &base,
        Method::POST,
        "/v1/ai/calendar",
        Some(&token),
        Payload::Json(valid_body("generateCalendar")),
    )
    .await;
    seen.record("generateCalendar", 429, answer);
    let theme = app
        .send_json(
            Method::POST,
            user,
            "/api/v1/themes",
            &valid_body("createTheme"),
        )
        .await;
    assert_eq!(theme.0, 201, "{}", theme.1);
    let syntheses = target(by_id("createSynthesis"), &[uuid(&theme.1["id"])]);
    let synthesis = send(
        &app,
        &base,
        Method::POST,
        &syntheses,
        Some(&token),
        Payload::None,
    )
    .await;
    assert_eq!(synthesis.0, 202, "{}", synthesis.1);
    let answer = send(
        &app,
        &base,
        Method::POST,
        &syntheses,
        Some(&token),
        Payload::None,
    )
    .await;
    seen.record("createSynthesis", 429, answer);
    for job in [
        uuid(&second.1["data"]["jobId"]),
        uuid(&synthesis.1["job_id"]),
    ] {
        wait_succeeded(&app, user, job).await;
    }
    sqlx::query(sqlx::AssertSqlSafe(format!("drop role {role}")))
        .execute(&admin)
        .await
        .ok();

    let unproduced: Vec<String> = operations
        .iter()
        .flat_map(|op| {
            let seen = seen.0.get(&op.id).cloned().unwrap_or_default();
            op.refusals
                .iter()
                .filter(move |status| !seen.contains(status))
                .map(|status| format!("{} {status}", op.id))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        unproduced.is_empty(),
        "documented refusals no request produced (add a probe, or stop documenting them): {unproduced:?}"
    );
}

fn uuid(value: &Value) -> Uuid {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not an id: {value}"))
        .parse()
        .unwrap()
}

async fn send_generation(
    app: &TestApp,
    token: &str,
    key: Option<&str>,
    chars: usize,
) -> (u16, Value) {
    let mut request = app
        .client
        .post(app.url("/api/ai/generations"))
        .bearer_auth(token)
        .json(&json!({ "source_text": source_text(chars) }));
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn wait_succeeded(app: &TestApp, user: Uuid, job: Uuid) {
    let status = eventually(
        std::time::Duration::from_secs(30),
        "the job to end",
        || async {
            let (_, view) = app.get_json(user, &format!("/v1/jobs/{job}")).await;
            let status = view["data"]["status"].as_str()?.to_owned();
            (!matches!(status.as_str(), "pending" | "running")).then_some(status)
        },
    )
    .await;
    assert_eq!(status, "succeeded", "job {job}");
}
