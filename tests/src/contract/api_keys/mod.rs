//! Personal API keys (issue 53): shown once and kept as a digest, acting as their owner
//! under row-level security, refused by every API process once deleted or expired, at most
//! 50 a user, never taken where a person's own sign-in is needed, and noted as used at
//! most once a minute. Their scopes, over every operation of the document, are
//! `scopes.rs`; their absence from the logs `logs.rs`.

mod logs;
mod scopes;

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::helpers::{TestApp, TestOptions, eventually, spawn_app, spawn_app_with};

impl TestApp {
    /// `POST /v1/api-keys` as `user` (with a JWT): the status and the answer's `data`.
    pub(crate) async fn make_key(&self, user: Uuid, body: &Value) -> (u16, Value) {
        let (status, answer) = self
            .send_json(Method::POST, user, "/v1/api-keys", body)
            .await;
        (status, answer["data"].clone())
    }

    /// A new key of `user`'s with `scopes`: the key and its id.
    pub(crate) async fn key_with(&self, user: Uuid, scopes: &[&str]) -> (String, String) {
        let (status, made) = self
            .make_key(user, &json!({ "name": "test key", "scopes": scopes }))
            .await;
        assert_eq!(status, 201, "{made}");
        (
            made["key"].as_str().unwrap().to_owned(),
            made["id"].as_str().unwrap().to_owned(),
        )
    }

    /// A request with `key` as the bearer, to `base` (this API or a replica).
    pub(crate) async fn with_key(
        &self,
        method: Method,
        base: &str,
        path: &str,
        key: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        self.request_json(method, format!("{base}{path}"), Some(key), body)
            .await
    }
}

fn keys_of(list: &Value) -> Vec<Value> {
    list["data"]["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_key_is_shown_once_kept_as_a_digest_and_acts_as_its_owner_alone() {
    let app = spawn_app().await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let (status, made) = app
        .make_key(
            alice,
            &json!({ "name": "  CI  ", "scopes": ["read", "write"] }),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let key = made["key"].as_str().unwrap().to_owned();
    let shape = regex::Regex::new("^alm_[A-Za-z0-9_-]{43}$").unwrap();
    assert!(shape.is_match(&key), "{key}");
    assert_eq!(made["name"], "CI");
    assert_eq!(made["prefix"], key[..12]);
    assert_eq!(made["scopes"], json!(["read", "write"]));
    assert_eq!(made["lastUsedAt"], Value::Null);
    assert_eq!(made["expiresAt"], Value::Null);

    // Listed without the key; Postgres holds its digest and nothing of the rest.
    let (status, list) = app.get_json(alice, "/v1/api-keys").await;
    assert_eq!(status, 200);
    let listed = keys_of(&list);
    assert_eq!(listed.len(), 1);
    assert!(listed[0].get("key").is_none(), "{list}");
    assert!(!list.to_string().contains(&key[12..]));
    let digest: Vec<u8> = sqlx::query_scalar("select digest from api_keys")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(digest, Sha256::digest(key.as_bytes()).to_vec());
    let row: String = sqlx::query_scalar("select row_to_json(k)::text from api_keys k")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(!row.contains(&key[12..]), "{row}");

    // The key acts as Alice, under her row-level security: her calendar, not Bob's.
    let frames = app
        .calendar_stream(alice, &crate::calendars::request(2, "tea"))
        .await;
    let done = frames.iter().find(|f| f.kind == "done").unwrap();
    let calendar = done.data["data"]["calendarId"].as_str().unwrap().to_owned();
    let (status, calendars) = app
        .with_key(Method::GET, &app.address, "/v1/calendars", &key, None)
        .await;
    assert_eq!(status, 200, "{calendars}");
    assert_eq!(calendars["data"]["items"].as_array().unwrap().len(), 1);
    let (bobs_key, _) = app.key_with(bob, &["read", "write", "publish"]).await;
    let (status, none) = app
        .with_key(Method::GET, &app.address, "/v1/calendars", &bobs_key, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(none["data"]["items"], json!([]), "Bob sees none of Alice's");
    let path = format!("/v1/calendars/{calendar}");
    let (status, _) = app
        .with_key(Method::GET, &app.address, &path, &bobs_key, None)
        .await;
    assert_eq!(status, 404);
    let (status, renamed) = app
        .with_key(
            Method::PATCH,
            &app.address,
            &path,
            &key,
            Some(&json!({ "name": "Renamed by a key" })),
        )
        .await;
    assert_eq!(status, 200, "{renamed}");

    // Used: noted once, not again within the minute; again once the note is old.
    let last_used = || async {
        let (_, list) = app.get_json(alice, "/v1/api-keys").await;
        keys_of(&list)[0]["lastUsedAt"].as_str().map(str::to_owned)
    };
    let first = last_used().await.expect("noted on first use");
    for _ in 0..3 {
        let (status, _) = app
            .with_key(Method::GET, &app.address, "/v1/calendars", &key, None)
            .await;
        assert_eq!(status, 200);
    }
    assert_eq!(last_used().await.as_deref(), Some(first.as_str()));
    sqlx::query("update api_keys set last_used_at = last_used_at - interval '61 seconds'")
        .execute(&app.db)
        .await
        .unwrap();
    let aged = last_used().await.unwrap();
    let (status, _) = app
        .with_key(Method::GET, &app.address, "/v1/calendars", &key, None)
        .await;
    assert_eq!(status, 200);
    let noted = last_used().await.unwrap();
    assert!(noted > aged, "{noted} after {aged}");
}

#[tokio::test]
async fn a_deleted_or_expired_key_is_refused_by_every_api_process() {
    let mut app = spawn_app_with(TestOptions {
        worker: false,
        ..Default::default()
    })
    .await;
    let replica = app.start_api_replica().await;
    let user = Uuid::now_v7();
    let (key, id) = app.key_with(user, &["read"]).await;
    for base in [&app.address, &replica] {
        let (status, _) = app
            .with_key(Method::GET, base, "/v1/calendars", &key, None)
            .await;
        assert_eq!(status, 200, "{base}");
    }
    assert_eq!(app.delete(user, &format!("/v1/api-keys/{id}")).await, 204);
    eventually(
        Duration::from_secs(5),
        "the replica to refuse the key",
        || async {
            let (status, _) = app
                .with_key(Method::GET, &replica, "/v1/calendars", &key, None)
                .await;
            (status == 401).then_some(())
        },
    )
    .await;
    for round in 0..20 {
        let base = if round % 2 == 0 {
            &replica
        } else {
            &app.address
        };
        let (status, answer) = app
            .with_key(Method::GET, base, "/v1/calendars", &key, None)
            .await;
        assert_eq!(status, 401, "no request succeeds after the first refusal");
        assert_eq!(answer["error"]["code"], "UNAUTHORIZED");
    }
    assert_eq!(app.delete(user, &format!("/v1/api-keys/{id}")).await, 404);

    // Expired: refused the same way, and still listed for its owner to see and delete.
    let (key, _) = app.key_with(user, &["read"]).await;
    sqlx::query("update api_keys set expires_at = now() - interval '1 second'")
        .execute(&app.db)
        .await
        .unwrap();
    for base in [&app.address, &replica] {
        let (status, _) = app
            .with_key(Method::GET, base, "/v1/calendars", &key, None)
            .await;
        assert_eq!(status, 401, "{base}");
    }
    let (_, list) = app.get_json(user, "/v1/api-keys").await;
    assert_eq!(keys_of(&list).len(), 1);

    // An expiry must lie ahead.
    let (status, answer) = app
        .send_json(
            Method::POST,
            user,
            "/v1/api-keys",
            &json!({ "name": "old", "scopes": ["read"], "expiresAt": "2020-01-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["details"]["field"], "expiresAt");
}

#[tokio::test]
async fn the_fifty_first_key_is_refused_until_one_is_deleted() {
    let app = spawn_app_with(TestOptions {
        worker: false,
        ..Default::default()
    })
    .await;
    let user = Uuid::now_v7();
    let mut ids = Vec::new();
    for _ in 0..50 {
        ids.push(app.key_with(user, &["read"]).await.1);
    }
    let (status, answer) = app
        .send_json(
            Method::POST,
            user,
            "/v1/api-keys",
            &json!({ "name": "one more", "scopes": ["read"] }),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["code"], "API_KEY_LIMIT");
    let count: i64 = sqlx::query_scalar("select count(*) from api_keys")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 50);
    // Another user's limit is their own.
    app.key_with(Uuid::now_v7(), &["read"]).await;
    assert_eq!(
        app.delete(user, &format!("/v1/api-keys/{}", ids[0])).await,
        204
    );
    app.key_with(user, &["read"]).await;
}

#[tokio::test]
async fn a_key_never_manages_keys_opens_a_session_or_reaches_admin() {
    let app = spawn_app_with(TestOptions {
        worker: false,
        env: vec![
            (
                "ADMIN_TOKEN",
                "admin-token-for-the-api-key-test-0123456789".into(),
            ),
            ("DEV_LOGIN", "true".into()),
        ],
        ..Default::default()
    })
    .await;
    let user = Uuid::now_v7();
    let (key, id) = app.key_with(user, &["read", "write", "publish"]).await;
    let refused: [(Method, String, Option<Value>); 8] = [
        (Method::GET, "/v1/api-keys".into(), None),
        (
            Method::POST,
            "/v1/api-keys".into(),
            Some(json!({ "name": "from a key", "scopes": ["read"] })),
        ),
        (Method::DELETE, format!("/v1/api-keys/{id}"), None),
        (Method::GET, "/app/session".into(), None),
        (
            Method::POST,
            "/app/session".into(),
            Some(json!({ "token": key })),
        ),
        (Method::POST, "/app/dev-login".into(), Some(json!({}))),
        (Method::GET, "/admin/flags".into(), None),
        (Method::GET, "/admin/flags/calendar_service".into(), None),
    ];
    for (method, path, body) in refused {
        let (status, answer) = app
            .with_key(method.clone(), &app.address, &path, &key, body.as_ref())
            .await;
        assert_eq!(status, 401, "{method} {path}: {answer}");
    }
    // What anyone may read is answered to a key as to no one; a method a path does not
    // serve is 405 whatever the credentials (issue 73).
    for path in ["/openapi.json", "/docs", "/app/config.json"] {
        let anonymous = app.client.get(app.url(path)).send().await.unwrap();
        let keyed = app
            .client
            .get(app.url(path))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 200, "{path}");
        assert_eq!(keyed.status(), 200, "{path} with a key");
        assert_eq!(
            keyed.bytes().await.unwrap(),
            anonymous.bytes().await.unwrap(),
            "{path}: the same answer"
        );
    }
    for (method, path) in [
        (Method::PUT, "/v1/calendars".to_owned()),
        (Method::DELETE, "/v1/api-keys".to_owned()),
        (Method::PUT, "/admin/flags".to_owned()),
        (Method::POST, "/openapi.json".to_owned()),
    ] {
        let (status, answer) = app
            .with_key(method.clone(), &app.address, &path, &key, None)
            .await;
        assert_eq!(status, 405, "{method} {path}: {answer}");
    }
    // Nor does a key pasted as the app's sign-in token open a session.
    let (status, _) = app
        .request_json(
            Method::POST,
            app.url("/app/session"),
            None,
            Some(&json!({ "token": key })),
        )
        .await;
    assert_eq!(status, 401);
    let sessions: i64 = sqlx::query_scalar("select count(*) from web_sessions")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
    // Never in the query string, where access logs keep it.
    let job = Uuid::now_v7();
    let response = app
        .client
        .get(app.url(&format!("/v1/jobs/{job}/events?access_token={key}")))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // The key itself still works where it belongs.
    let (status, _) = app
        .with_key(
            Method::GET,
            &app.address,
            "/v1/api-keys",
            &app.token(user),
            None,
        )
        .await;
    assert_eq!(status, 200, "a JWT manages keys");
    let (status, _) = app
        .with_key(Method::GET, &app.address, "/v1/calendars", &key, None)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_key_spends_its_owner_s_rate_limit() {
    let app = spawn_app_with(TestOptions {
        worker: false,
        env: vec![("GENERATION_RATE_LIMIT", "1".into())],
        ..Default::default()
    })
    .await;
    // No worker: the generations stay queued.
    app.expect_unfinished_jobs();
    let user = Uuid::now_v7();
    let (key, _) = app.key_with(user, &["write"]).await;
    let body = json!({ "source_text": crate::helpers::source_text(1500) });
    let (status, _) = app
        .send_json(Method::POST, user, "/api/ai/generations", &body)
        .await;
    assert_eq!(status, 202);
    let other = json!({ "source_text": crate::helpers::source_text(1501) });
    let (status, answer) = app
        .with_key(
            Method::POST,
            &app.address,
            "/api/ai/generations",
            &key,
            Some(&other),
        )
        .await;
    assert_eq!(status, 429, "the owner's one generation is spent: {answer}");
    // Another user's key has a limit of its own.
    let (theirs, _) = app.key_with(Uuid::now_v7(), &["write"]).await;
    let (status, _) = app
        .with_key(
            Method::POST,
            &app.address,
            "/api/ai/generations",
            &theirs,
            Some(&other),
        )
        .await;
    assert_eq!(status, 202);
}
