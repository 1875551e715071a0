//! What the API does with input its contract refuses, as an outside client meets it: NUL
//! characters and numbers sent for strings, a refused request on a keep-alive connection,
//! a method a path does not serve, tokens from other issuers, and the per-user limits on
//! calendar runs and syntheses.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

use crate::helpers::{JWT_SECRET, TestApp, TestOptions, eventually, spawn_app, spawn_app_with};

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// One request per text field the API reads, each with a NUL character in that field: the
/// method, path and body, the status and the field the refusal names. `card` and `theme`
/// are the caller's.
fn nul_character_cases(card: &str, theme: &str) -> Vec<(Method, String, Value, u16, &'static str)> {
    let some = Uuid::now_v7();
    let calendar = |constraints: Value| {
        json!({ "channels": ["tiktok"], "cadence": "daily", "start": "2027-01-01",
                "end": "2027-01-03", "constraints": constraints })
    };
    let entry = json!({ "channel": "tiktok", "date": "2027-01-01", "title": "t" });
    let with = |base: &Value, field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    vec![
        (
            Method::POST,
            "/api/cards".into(),
            json!({ "front": "a\u{0}", "back": "b" }),
            400,
            "front",
        ),
        (
            Method::POST,
            "/api/cards".into(),
            json!({ "front": "a", "back": "\u{0}" }),
            400,
            "back",
        ),
        (
            Method::POST,
            "/api/cards".into(),
            json!({ "front": "a", "back": "b", "tags": ["ok", "t\u{0}"] }),
            400,
            "tags[1]",
        ),
        (
            Method::PATCH,
            format!("/api/cards/{card}"),
            json!({ "card_type": "basic", "front": "x\u{0}y" }),
            400,
            "front",
        ),
        (
            Method::PATCH,
            format!("/api/ai/suggestions/{some}"),
            json!({ "card_type": "basic", "status": "accepted", "front": "\u{0}" }),
            400,
            "front",
        ),
        (
            Method::PATCH,
            format!("/api/ai/suggestions/{some}"),
            json!({ "card_type": "basic", "status": "accepted", "back": "b\u{0}" }),
            400,
            "back",
        ),
        (
            Method::POST,
            "/v1/ai/calendar".into(),
            calendar(json!({ "topic": "tea\u{0}" })),
            400,
            "constraints.topic",
        ),
        (
            Method::POST,
            "/v1/ai/calendar".into(),
            calendar(json!({ "to\u{0}pic": "tea" })),
            400,
            "constraints.to\\u0000pic",
        ),
        (
            Method::POST,
            format!("/v1/calendars/{some}/entries"),
            with(&entry, "title", json!("t\u{0}")),
            400,
            "title",
        ),
        (
            Method::POST,
            format!("/v1/calendars/{some}/entries"),
            with(&entry, "caption", json!("\u{0}")),
            400,
            "caption",
        ),
        (
            Method::POST,
            format!("/v1/calendars/{some}/entries"),
            with(&entry, "hashtags", json!(["#a\u{0}"])),
            400,
            "hashtags[0]",
        ),
        (
            Method::PATCH,
            format!("/v1/calendars/{some}/entries/{some}"),
            json!({ "caption": "c\u{0}" }),
            400,
            "caption",
        ),
        (
            Method::POST,
            "/api/v1/themes".into(),
            json!({ "name": "T\u{0}" }),
            422,
            "name",
        ),
        (
            Method::POST,
            "/api/v1/themes".into(),
            json!({ "name": "T", "description": "\u{0}" }),
            422,
            "description",
        ),
        (
            Method::POST,
            "/api/v1/themes".into(),
            json!({ "name": "T", "sources": [{ "type": "text", "value": "v\u{0}" }] }),
            422,
            "sources[0].value",
        ),
        (
            Method::PATCH,
            format!("/api/v1/themes/{theme}"),
            json!({ "name": "\u{0}" }),
            422,
            "name",
        ),
        (
            Method::PUT,
            format!("/api/v1/themes/{theme}/schedule"),
            json!({ "enabled": true, "days": ["mon"], "time_utc": "08:00", "emails": ["a\u{0}@example.com"] }),
            422,
            "emails[0]",
        ),
        (
            Method::POST,
            "/api/ai/generations".into(),
            json!({ "source_text": "\u{0}".repeat(1200) }),
            400,
            "source_text",
        ),
    ]
}

#[tokio::test]
async fn a_nul_character_in_any_text_field_is_refused_naming_the_field() {
    let app = spawn_app_with(TestOptions {
        worker: false,
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    let (status, card) = app
        .send_json(
            Method::POST,
            user,
            "/api/cards",
            &json!({ "front": "f", "back": "b" }),
        )
        .await;
    assert_eq!(status, 201, "{card}");
    let card = card["id"].as_str().unwrap().to_owned();
    let (status, theme) = app
        .send_json(
            Method::POST,
            user,
            "/api/v1/themes",
            &json!({ "name": "Tea", "sources": [] }),
        )
        .await;
    assert_eq!(status, 201, "{theme}");
    let theme = theme["id"].as_str().unwrap().to_owned();
    let cases = nul_character_cases(&card, &theme);
    for (method, path, body, status, field) in cases {
        let (got, envelope) = app.send_json(method.clone(), user, &path, &body).await;
        assert_eq!(got, status, "{method} {path} {body}: {envelope}");
        assert_eq!(
            envelope["error"]["code"], "VALIDATION_FAILED",
            "{method} {path}"
        );
        assert_eq!(
            envelope["error"]["details"]["field"], field,
            "{method} {path}: {envelope}"
        );
    }
    let (_, card) = app.get_json(user, "/api/cards").await;
    assert_eq!(card["items"][0]["front"], "f", "the card is unchanged");
    // A field the operation does not read is ignored, whatever it holds.
    let (status, ignored) = app
        .send_json(
            Method::PATCH,
            user,
            &format!(
                "/api/cards/{card}",
                card = card["items"][0]["id"].as_str().unwrap()
            ),
            &json!({ "card_type": "basic", "tags": ["kept"], "later\u{0}": "x\u{0}", "also": { "k": ["\u{0}"] } }),
        )
        .await;
    assert_eq!(status, 200, "{ignored}");
    assert_eq!(ignored["tags"], json!(["kept"]));
    for (table, rows) in [
        ("cards", 1),
        ("themes", 1),
        ("calendars", 0),
        ("calendar_entries", 0),
        ("theme_schedules", 0),
        ("ai_generations", 0),
    ] {
        assert_eq!(count(&app, table).await, rows, "{table}");
    }
}

/// `null` is refused where the document does not allow it (poem-openapi alone would read
/// `{"tags": null}` as no tags, though `tags` is a non-null array), and kept where it does.
#[tokio::test]
async fn null_where_the_document_says_not_nullable_is_refused_naming_the_field() {
    let app = spawn_app_with(TestOptions {
        worker: false,
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    let (status, refused) = app
        .send_json(
            Method::POST,
            user,
            "/api/cards",
            &json!({ "front": "F", "back": "B", "tags": null }),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["details"]["field"], "tags");
    assert_eq!(count(&app, "cards").await, 0);
    let (status, card) = app
        .send_json(
            Method::POST,
            user,
            "/api/cards",
            &json!({ "front": "F", "back": "B" }),
        )
        .await;
    assert_eq!(status, 201, "{card}");
    // `tags` of an edit is nullable (absent and null both leave them as they are).
    let (status, edited) = app
        .send_json(
            Method::PATCH,
            user,
            &format!("/api/cards/{}", card["id"].as_str().unwrap()),
            &json!({ "card_type": "basic", "front": "G", "tags": null }),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
}

#[tokio::test]
async fn numbers_and_booleans_sent_for_strings_are_refused_not_turned_into_text() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    for (body, field) in [
        (json!({ "front": true, "back": "b" }), "front"),
        (json!({ "front": "f", "back": 1e308 }), "back"),
        (json!({ "front": "f", "back": "b", "tags": [7] }), "tags[0]"),
    ] {
        let (status, envelope) = app.send_json(Method::POST, user, "/api/cards", &body).await;
        assert_eq!(status, 400, "{body}: {envelope}");
        assert_eq!(envelope["error"]["details"]["field"], field, "{envelope}");
    }
    let (status, envelope) = app
        .send_json(Method::POST, user, "/api/v1/themes", &json!({ "name": 12 }))
        .await;
    assert_eq!(status, 422, "{envelope}");
    assert_eq!(envelope["error"]["details"]["field"], "name");
    // Unknown fields are ignored, as the document says.
    let (status, card) = app
        .send_json(
            Method::POST,
            user,
            "/api/cards",
            &json!({ "front": "f", "back": "b", "color": 3, "x": {"y": null} }),
        )
        .await;
    assert_eq!(status, 201, "{card}");
    assert_eq!(count(&app, "cards").await, 1);
}

/// One HTTP/1.1 request on `stream`; returns the status line and the lower-cased headers,
/// having read the body by its `Content-Length`.
async fn exchange(stream: &mut tokio::net::TcpStream, request: &[u8]) -> (String, Vec<String>) {
    stream.write_all(request).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(
            stream.read(&mut byte).await.unwrap(),
            1,
            "connection closed"
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().to_owned();
    let headers: Vec<String> = lines.map(str::to_ascii_lowercase).collect();
    let length: usize = headers
        .iter()
        .find_map(|h| h.strip_prefix("content-length: "))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    (status, headers)
}

#[tokio::test]
async fn a_keep_alive_connection_survives_a_request_refused_before_its_body_was_read() {
    let app = spawn_app().await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    // 200 KiB, within the body limit, sent without a token: 401 before the body is read.
    let body = json!({ "source_text": "x".repeat(200 * 1024) }).to_string();
    let refused = format!(
        "POST /api/ai/generations HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let (status, headers) = exchange(&mut stream, refused.as_bytes()).await;
    assert!(status.contains(" 401 "), "{status}");
    assert!(
        !headers.iter().any(|h| h == "connection: close"),
        "{headers:?}"
    );
    // The same connection serves the next request.
    let next = format!("GET /healthz HTTP/1.1\r\nhost: {host}\r\n\r\n");
    let (status, _) = exchange(&mut stream, next.as_bytes()).await;
    assert!(status.contains(" 200 "), "{status}");

    // A body over the limit is not read: the answer says the connection closes.
    let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    let too_large = format!(
        "POST /api/cards HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        10 * 1024 * 1024
    );
    let (status, headers) = exchange(&mut stream, too_large.as_bytes()).await;
    assert!(status.contains(" 413 "), "{status}");
    assert!(
        headers.iter().any(|h| h == "connection: close"),
        "{headers:?}"
    );

    // A pooled client goes on after refusals with bodies.
    let user = Uuid::new_v4();
    for _ in 0..3 {
        let response = app
            .client
            .post(app.url("/api/cards"))
            .header("content-type", "text/plain")
            .bearer_auth(app.token(user))
            .body("x".repeat(100 * 1024))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 415);
        let (status, _) = app.get_json(user, "/api/cards").await;
        assert_eq!(status, 200);
    }
}

/// Reads until the server closes the connection: true when it did (no more bytes).
async fn closed(stream: &mut tokio::net::TcpStream) -> bool {
    let mut rest = Vec::new();
    matches!(stream.read_to_end(&mut rest).await, Ok(0))
}

/// A client that sends its body too slowly (or stops) is answered 408 once
/// `BODY_TIMEOUT_SECS` have passed since the head, and its connection closed; a request
/// head over 32 KiB in all is answered 431.
#[tokio::test]
async fn a_held_body_is_408_and_an_oversized_head_431() {
    let app = spawn_app_with(TestOptions {
        worker: false,
        env: vec![("BODY_TIMEOUT_SECS", "0.5".into())],
        ..Default::default()
    })
    .await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let token = app.token(Uuid::new_v4());
    for framing in ["content-length: 100", "transfer-encoding: chunked"] {
        let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
        let part = "{\"front\": \"";
        let first_part = if framing.starts_with("content") {
            part.to_owned()
        } else {
            format!("{:x}\r\n{part}\r\n", part.len())
        };
        let held = format!(
            "POST /api/cards HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\n{framing}\r\n\r\n{first_part}"
        );
        // The rest of the body never comes.
        let (status, headers) = exchange(&mut stream, held.as_bytes()).await;
        assert!(status.contains(" 408 "), "{framing}: {status}");
        assert!(
            headers.iter().any(|h| h == "connection: close"),
            "{headers:?}"
        );
        assert!(
            closed(&mut stream).await,
            "{framing}: the connection is closed"
        );
    }
    assert_eq!(count(&app, "cards").await, 0);

    // Heads: 20 KiB of headers pass; a single 200 KB header, or 40 KiB in all, do not.
    let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    let head = |headers: &str| format!("GET /healthz HTTP/1.1\r\nhost: {host}\r\n{headers}\r\n");
    let within = head(&format!("x-within: {}\r\n", "a".repeat(20 * 1024)));
    let (status, _) = exchange(&mut stream, within.as_bytes()).await;
    assert!(status.contains(" 200 "), "{status}");
    let many: String = (0..20)
        .map(|i| format!("x-many-{i}: {}\r\n", "b".repeat(2 * 1024)))
        .collect();
    for headers in [format!("x-huge: {}\r\n", "c".repeat(200_000)), many] {
        let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
        // The server may answer before it has read all of it.
        let _ = stream.write_all(head(&headers).as_bytes()).await;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    }
}

#[tokio::test]
async fn a_method_a_path_does_not_serve_gets_405_with_allow() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    for (method, path, allow) in [
        (Method::PUT, "/api/cards".to_owned(), "GET, POST"),
        (
            Method::GET,
            format!("/api/cards/{}", Uuid::now_v7()),
            "DELETE, PATCH",
        ),
        (Method::DELETE, "/v1/ai/calendar".to_owned(), "POST"),
        (Method::POST, "/api/cards/export".to_owned(), "GET"),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(&path))
            .bearer_auth(app.token(user))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
        let envelope: Value = response.json().await.unwrap();
        assert_eq!(envelope["error"]["code"], "METHOD_NOT_ALLOWED");
    }
}

fn sign(claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn tokens_are_held_to_nbf_and_need_neither_iat_nor_role() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let now = chrono::Utc::now().timestamp();
    let status = |token: String| {
        let request = app.client.get(app.url("/api/cards")).bearer_auth(token);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    // What another issuer may send: the three required claims only.
    let minimal = json!({ "sub": user, "exp": now + 600, "aud": "authenticated" });
    assert_eq!(status(sign(&minimal)).await, 200);
    let mut later = minimal.clone();
    later["nbf"] = json!(now + 3600);
    assert_eq!(status(sign(&later)).await, 401, "valid only in an hour");
    let mut future = minimal.clone();
    future["iat"] = json!(now + 3600);
    assert_eq!(status(sign(&future)).await, 401, "issued in an hour");
    let mut current = minimal.clone();
    current["nbf"] = json!(now - 60);
    current["iat"] = json!(now - 60);
    current["role"] = json!("authenticated");
    assert_eq!(status(sign(&current)).await, 200);
}

async fn wait_job(app: &TestApp, user: Uuid, job: &str) {
    eventually(Duration::from_secs(30), "the job finishes", || async {
        let (_, view) = app.get_json(user, &format!("/v1/jobs/{job}")).await;
        (view["data"]["status"] == "succeeded").then_some(())
    })
    .await;
}

#[tokio::test]
async fn calendar_runs_and_syntheses_are_rate_limited_per_user() {
    let app = spawn_app_with(TestOptions {
        env: vec![
            ("CALENDAR_RATE_LIMIT", "2".into()),
            ("SYNTHESIS_RATE_LIMIT", "2".into()),
        ],
        ..Default::default()
    })
    .await;
    app.expect_unfinished_jobs();
    let user = Uuid::new_v4();
    let calendar = json!({ "channels": ["tiktok"], "cadence": "daily",
                           "start": "2027-01-01", "end": "2027-01-02" });
    // A calendar that is not the caller's creates nothing and does not count: its job's
    // row, written first, goes back with the refusal.
    let mut elsewhere = calendar.clone();
    elsewhere["calendarId"] = json!(Uuid::now_v7());
    let (status, refused) = app
        .send_json(Method::POST, user, "/v1/ai/calendar", &elsewhere)
        .await;
    assert_eq!(status, 404, "{refused}");
    assert_eq!(count(&app, "jobs").await, 0);
    let mut calendar_id = Value::Null;
    for _ in 0..2 {
        let mut body = calendar.clone();
        body["calendarId"] = calendar_id.clone();
        let (status, accepted) = app
            .send_json(Method::POST, user, "/v1/ai/calendar", &body)
            .await;
        assert_eq!(status, 202, "{accepted}");
        calendar_id = accepted["data"]["calendarId"].clone();
        wait_job(&app, user, accepted["data"]["jobId"].as_str().unwrap()).await;
    }
    let response = app
        .client
        .post(app.url("/v1/ai/calendar"))
        .bearer_auth(app.token(user))
        .header("prefer", "respond-async")
        .json(&calendar)
        .send()
        .await
        .unwrap();
    TestApp::assert_rate_limited(response, 600).await;
    assert_eq!(count(&app, "calendar_runs").await, 2);

    let (_, theme) = app
        .send_json(
            Method::POST,
            user,
            "/api/v1/themes",
            &json!({ "name": "Tea", "sources": [{ "type": "text", "value": "Chai is spiced tea." }] }),
        )
        .await;
    let path = format!("/api/v1/themes/{}/syntheses", theme["id"].as_str().unwrap());
    // A theme that is not the caller's creates nothing and does not count.
    let missing = format!("/api/v1/themes/{}/syntheses", Uuid::now_v7());
    assert_eq!(
        app.send_json(Method::POST, user, &missing, &json!({}))
            .await
            .0,
        404
    );
    for _ in 0..2 {
        let (status, body) = app.send_json(Method::POST, user, &path, &json!({})).await;
        assert_eq!(status, 202, "{body}");
    }
    let response = app
        .client
        .post(app.url(&path))
        .bearer_auth(app.token(user))
        .send()
        .await
        .unwrap();
    TestApp::assert_rate_limited(response, 600).await;
    assert_eq!(count(&app, "syntheses").await, 2);
    // Another user has windows of their own.
    let (status, _) = app
        .send_json(Method::POST, Uuid::new_v4(), "/v1/ai/calendar", &calendar)
        .await;
    assert_eq!(status, 202);
}
