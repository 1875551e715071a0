//! Authentication, validation, rate limits and idempotency on `POST /api/ai/generations`.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{JWT_SECRET, TestApp, TestOptions, source_text, spawn_app, spawn_app_with};

fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn claims(user: Uuid, exp_offset: i64, aud: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({ "sub": user, "exp": now + exp_offset, "iat": now, "aud": aud, "role": "authenticated" })
}

#[tokio::test]
async fn bad_tokens_get_401_in_the_error_envelope() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let body = json!({ "source_text": source_text(1500) });
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims(user, 3600, "authenticated").to_string())
    );
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("malformed", Some("not-a-jwt".into())),
        (
            "expired",
            Some(sign(&claims(user, -3600, "authenticated"), JWT_SECRET)),
        ),
        (
            "wrong key",
            Some(sign(
                &claims(user, 3600, "authenticated"),
                "another-secret-another-secret-another",
            )),
        ),
        ("alg none", Some(unsigned)),
        (
            "wrong audience",
            Some(sign(&claims(user, 3600, "anon"), JWT_SECRET)),
        ),
    ];
    for (case, token) in cases {
        let mut request = app.client.post(app.url("/api/ai/generations")).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{case}");
        let envelope: Value = response.json().await.unwrap();
        assert_eq!(envelope["data"], Value::Null, "{case}");
        assert_eq!(envelope["error"]["code"], "UNAUTHORIZED", "{case}");
        assert!(
            envelope["meta"]["requestId"]
                .as_str()
                .is_some_and(|id| !id.is_empty()),
            "{case}"
        );
    }
    let count: i64 = sqlx::query_scalar("select count(*) from ai_generations")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn invalid_bodies_get_400_and_nothing_is_stored() {
    let app = spawn_app_with(TestOptions {
        worker: false,
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    for chars in [999, 10_001] {
        let response = app
            .post_generation(user, &json!({ "source_text": source_text(chars) }))
            .await;
        assert_eq!(response.status(), 400, "{chars} characters");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "VALIDATION_FAILED");
        assert_eq!(body["error"]["details"]["field"], "source_text");
    }
    // Whitespace does not count.
    let padded = format!("{}{}", " ".repeat(500), source_text(999));
    assert_eq!(
        app.post_generation(user, &json!({ "source_text": padded }))
            .await
            .status(),
        400
    );
    for (case, body) in [
        ("missing field", json!({})),
        ("wrong type", json!({ "source_text": 12 })),
        (
            "bad model",
            json!({ "source_text": source_text(1500), "model": "no spaces allowed" }),
        ),
        (
            "unknown prompt",
            json!({ "source_text": source_text(1500), "prompt_version": "v999" }),
        ),
    ] {
        assert_eq!(
            app.post_generation(user, &body).await.status(),
            400,
            "{case}"
        );
    }
    let post_raw = |bytes: Vec<u8>, content_type: &'static str| {
        app.client
            .post(app.url("/api/ai/generations"))
            .bearer_auth(app.token(user))
            .header("content-type", content_type)
            .body(bytes)
            .send()
    };
    let response = post_raw(b"{not json".to_vec(), "application/json")
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let envelope: Value = response.json().await.unwrap();
    assert_eq!(envelope["error"]["code"], "VALIDATION_FAILED");
    let mut latin1 = b"{\"source_text\": \"".to_vec();
    latin1.extend(std::iter::repeat_n(0xE9u8, 1200));
    latin1.extend(b"\"}");
    assert_eq!(
        post_raw(latin1, "application/json").await.unwrap().status(),
        400,
        "not UTF-8"
    );
    assert_eq!(
        post_raw(b"source_text=x".to_vec(), "text/plain")
            .await
            .unwrap()
            .status(),
        415
    );
    let huge = json!({ "source_text": "x".repeat(300 * 1024) })
        .to_string()
        .into_bytes();
    assert_eq!(
        post_raw(huge, "application/json").await.unwrap().status(),
        413
    );

    let count: i64 = sqlx::query_scalar("select count(*) from ai_generations")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn the_sixth_request_in_the_window_is_limited_across_replicas() {
    let mut app = spawn_app_with(TestOptions {
        worker: false,
        ..Default::default()
    })
    .await;
    app.expect_unfinished_jobs();
    // A second API replica sharing the same Redis and database.
    let replica_url = format!("{}/api/ai/generations", app.start_api_replica().await);

    let user = Uuid::new_v4();
    for _ in 0..5 {
        app.submit(user).await;
    }
    let body = json!({ "source_text": source_text(1500) });
    for url in [app.url("/api/ai/generations"), replica_url] {
        let response = app
            .client
            .post(url)
            .bearer_auth(app.token(user))
            .json(&body)
            .send()
            .await
            .unwrap();
        TestApp::assert_rate_limited(response, 300).await;
    }
    // Another user has a window of their own.
    app.submit(Uuid::new_v4()).await;
    let count: i64 = sqlx::query_scalar("select count(*) from ai_generations where user_id = $1")
        .bind(user)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 5);
}

#[tokio::test]
async fn idempotency_keys_replay_the_first_response() {
    let app = spawn_app_with(TestOptions {
        worker: false,
        ..Default::default()
    })
    .await;
    app.expect_unfinished_jobs();
    let user = Uuid::new_v4();
    let body = json!({ "source_text": source_text(1500) });
    let post = |body: Value, key: &'static str| {
        app.client
            .post(app.url("/api/ai/generations"))
            .bearer_auth(app.token(user))
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first = post(body.clone(), "key-1").await.unwrap();
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    let again = post(body.clone(), "key-1").await.unwrap();
    assert_eq!(again.status(), 202);
    assert_eq!(again.json::<Value>().await.unwrap(), first);

    let other = post(json!({ "source_text": source_text(2000) }), "key-1")
        .await
        .unwrap();
    assert_eq!(other.status(), 422);
    assert_eq!(
        other.json::<Value>().await.unwrap()["error"]["code"],
        "IDEMPOTENCY_KEY_REUSED"
    );

    let count: i64 = sqlx::query_scalar("select count(*) from ai_generations")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 1, "a replay creates nothing");
    // Another user's identical key is independent.
    let stranger = app
        .client
        .post(app.url("/api/ai/generations"))
        .bearer_auth(app.token(Uuid::new_v4()))
        .header("Idempotency-Key", "key-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 202);
    assert_ne!(
        stranger.json::<Value>().await.unwrap()["generation_id"],
        first["generation_id"]
    );
}

#[tokio::test]
async fn an_idempotency_key_survives_concurrent_retries_and_a_redis_flush() {
    let app = spawn_app_with(TestOptions {
        worker: false,
        ..Default::default()
    })
    .await;
    app.expect_unfinished_jobs();
    let user = Uuid::new_v4();
    let body = json!({ "source_text": source_text(1500) });
    let post = |body: Value, key: Option<&'static str>| {
        let mut request = app
            .client
            .post(app.url("/api/ai/generations"))
            .bearer_auth(app.token(user))
            .json(&body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request.send()
    };
    // A client retries ten times at once: one generation, ten identical answers.
    let answers =
        futures::future::join_all((0..10).map(|_| post(body.clone(), Some("retry-me")))).await;
    let mut bodies = Vec::new();
    for answer in answers {
        let answer = answer.unwrap();
        assert_eq!(answer.status(), 202);
        bodies.push(answer.json::<Value>().await.unwrap());
    }
    assert!(bodies.iter().all(|b| *b == bodies[0]), "{bodies:#?}");
    // Only the first used a slot of the rate limit (5 per window): four more fit.
    for _ in 0..4 {
        assert_eq!(post(body.clone(), None).await.unwrap().status(), 202);
    }
    assert_eq!(post(body.clone(), None).await.unwrap().status(), 429);

    // Redis loses everything: the key still replays the first answer.
    app.flush_redis().await;
    let again = post(body.clone(), Some("retry-me")).await.unwrap();
    assert_eq!(again.status(), 202);
    assert_eq!(again.json::<Value>().await.unwrap(), bodies[0]);
    let keyed: i64 = sqlx::query_scalar("select count(*) from ai_generations where id = $1")
        .bind(
            bodies[0]["generation_id"]
                .as_str()
                .unwrap()
                .parse::<Uuid>()
                .unwrap(),
        )
        .fetch_one(&app.db)
        .await
        .unwrap();
    let all: i64 = sqlx::query_scalar("select count(*) from ai_generations")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        (keyed, all),
        (1, 5),
        "one generation for the key, four without"
    );
}

#[tokio::test]
async fn an_expired_idempotency_key_may_be_used_again_and_is_swept() {
    let app = spawn_app_with(TestOptions::default()).await;
    let user = Uuid::new_v4();
    let expire = |key: &'static str| {
        let db = app.db.clone();
        async move {
            sqlx::query(
                "insert into idempotency_keys (user_id, scope, key, request_hash, response_status,
                     response, created_at, expires_at)
                 values ($1, 'generations', $2, 'an older body', 202, '{}',
                         now() - interval '25 hours', now() - interval '1 hour')",
            )
            .bind(user)
            .bind(key)
            .execute(&db)
            .await
            .unwrap();
        }
    };
    expire("reused").await;
    expire("forgotten").await;
    // A key past its 24 hours is no longer bound to its old body.
    let response = app
        .client
        .post(app.url("/api/ai/generations"))
        .bearer_auth(app.token(user))
        .header("Idempotency-Key", "reused")
        .json(&json!({ "source_text": source_text(1500) }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    let id: Uuid = accepted["generation_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(app.wait_finished(user, id).await["status"], "succeeded");
    let keys = || async {
        let keys: Vec<String> =
            sqlx::query_scalar("select key from idempotency_keys where user_id = $1 order by key")
                .bind(user)
                .fetch_all(&app.db)
                .await
                .unwrap();
        keys
    };
    // The reconciler sweeps the expired one; the reused one is current again.
    crate::helpers::eventually(
        std::time::Duration::from_secs(10),
        "the expired key to be swept",
        || async { (keys().await == ["reused"]).then_some(()) },
    )
    .await;
}
