//! Runtime feature flags (seed 001, "Flags & Modes", "Rollback Steps"): who may change
//! them, the history of every change, the `flags` command, and how a change reaches every
//! process (a notification, and a periodic reload when one is missed). What a toggle does
//! to publishing and calendars is in `rollout`.

mod rollout;

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, TestOptions, eventually, spawn_app_with};

const ADMIN_TOKEN: &str = "admin-token-for-the-flags-tests-0123456789";
const PUBLISH: &str = "PUBLISH_SERVICE_ENABLED";
const CALENDAR: &str = "CALENDAR_SERVICE_ENABLED";

/// An admin call (`token` as the bearer, if any): status and body.
async fn admin(
    app: &TestApp,
    method: Method,
    path: String,
    token: Option<String>,
    body: Option<Value>,
) -> (u16, Value) {
    app.request_json(method, app.url(&path), token.as_deref(), body.as_ref())
        .await
}

/// Who may change a flag: no token 401, a user's token (`user`) 403, a token not signed
/// with the secret, expired, or not the admin token 401.
async fn only_the_service_role_or_the_admin_token_may(app: &TestApp, user: &str) {
    let call = |method: Method, path: &str, token: Option<&str>, body: Option<Value>| {
        admin(app, method, path.to_owned(), token.map(str::to_owned), body)
    };
    let off = || Some(json!({ "state": "off" }));
    let (status, _) = call(Method::GET, "/admin/flags", None, None).await;
    assert_eq!(status, 401);
    let (status, body) = call(Method::GET, "/admin/flags", Some(user), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("ADMIN_ONLY"))
    );
    let path = format!("/admin/flags/{PUBLISH}");
    let (status, _) = call(Method::PUT, &path, Some(user), off()).await;
    assert_eq!(status, 403, "a user cannot turn publishing off");
    let forged = almanac_shared::auth::JwtKeys::new("another-secret-another-secret-xxxx")
        .mint_service_role(60);
    let expired =
        almanac_shared::auth::JwtKeys::new(crate::helpers::JWT_SECRET).mint_service_role(-60);
    for token in [forged.as_str(), expired.as_str(), "not-the-admin-token"] {
        let (status, _) = call(Method::PUT, &path, Some(token), off()).await;
        assert_eq!(status, 401, "{token}");
    }
}

/// From a shell, as the runbook does it: publishing on, by `cli:<user>`.
async fn the_runbook_s_command_turns_it_on(app: &TestApp) {
    let output =
        tokio::process::Command::new(almanac_tests::processes::binary("almanac-api").unwrap())
            .args(["flags", "set", PUBLISH, "on", "--note", "full rollout"])
            .env_clear()
            .env("DATABASE_URL", app.settings.database_url.expose())
            .env("USER", "ops")
            .output()
            .await
            .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed["actor"], "cli:ops");
    assert_eq!(printed["to"], json!({ "state": "on", "users": [] }));
    app.flag_applied(&app.address, PUBLISH, "on").await;
    assert_eq!(
        app.flag_at(&app.address, PUBLISH).await["updatedBy"],
        "cli:ops"
    );
}

/// The history: every change, newest first, with who, from and to, by pages; a user reads
/// none of it; a refused change is not kept. `sorted`: the users of the limited rollout.
async fn every_change_is_kept_newest_first(
    app: &TestApp,
    [service, user]: [&str; 2],
    sorted: [Uuid; 2],
    calendar_path: &str,
) {
    let call = |method: Method, path: &str, token: Option<&str>, body: Option<Value>| {
        admin(app, method, path.to_owned(), token.map(str::to_owned), body)
    };
    let history_path = format!("/admin/flags/{PUBLISH}/history");
    let (status, history) = call(Method::GET, &history_path, Some(service), None).await;
    assert_eq!(status, 200);
    let changes: Vec<(Value, Value, Value, Value)> = history["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["actor"].clone(),
                c["from"].clone(),
                c["to"].clone(),
                c["note"].clone(),
            )
        })
        .collect();
    let users = json!({ "state": "users", "users": sorted });
    let on = json!({ "state": "on", "users": [] });
    assert_eq!(
        changes,
        [
            (json!("service_role"), on.clone(), Value::Null, Value::Null),
            (json!("cli:ops"), users.clone(), on, json!("full rollout")),
            (
                json!("service_role"),
                Value::Null,
                users,
                json!("limited rollout")
            ),
        ]
    );
    let (_, page) = call(
        Method::GET,
        &format!("{history_path}?limit=2"),
        Some(service),
        None,
    )
    .await;
    let cursor = page["data"]["nextCursor"].as_i64().expect("a second page");
    let (_, rest) = call(
        Method::GET,
        &format!("{history_path}?limit=2&cursor={cursor}"),
        Some(service),
        None,
    )
    .await;
    assert_eq!(rest["data"]["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest["data"]["items"][0]["note"], "limited rollout");
    assert!(rest["data"]["nextCursor"].is_null());
    let (_, calendar_history) = call(
        Method::GET,
        &format!("{calendar_path}/history"),
        Some(user),
        None,
    )
    .await;
    assert_eq!(calendar_history["error"]["code"], "ADMIN_ONLY");
    let stored: i64 = sqlx::query_scalar("select count(*) from feature_flag_changes")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        stored, 4,
        "three publishing changes and one calendar change; no refused one"
    );
}

#[tokio::test]
async fn only_the_service_role_or_the_admin_token_changes_flags_and_every_change_is_kept() {
    let mut app = spawn_app_with(TestOptions {
        worker: false,
        env: vec![
            ("ADMIN_TOKEN", ADMIN_TOKEN.into()),
            (
                "TOKEN_ENCRYPTION_KEY",
                almanac_shared::crypto::TokenKey::generate(),
            ),
        ],
        ..Default::default()
    })
    .await;
    // A replica that could not open channels' tokens refuses to turn publishing on.
    let mut keyless = app.settings.clone();
    keyless.publish.token_key = None;
    let keyless = app.start_api_replica_with(keyless).await;
    let (status, refused) = app
        .set_flag(&keyless, PUBLISH, &json!({ "state": "on" }))
        .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (422, Some("TOKEN_STORE_UNCONFIGURED"))
    );
    let call = |method: Method, path: &str, token: Option<&str>, body: Option<Value>| {
        admin(
            &app,
            method,
            path.to_owned(),
            token.map(str::to_owned),
            body,
        )
    };
    let service = app.service_token();
    let user = app.token(Uuid::new_v4());
    let off = || Some(json!({ "state": "off" }));

    only_the_service_role_or_the_admin_token_may(&app, &user).await;
    let path = format!("/admin/flags/{PUBLISH}");

    // The environment defaults, as this process applies them.
    let (status, list) = call(Method::GET, "/admin/flags", Some(&service), None).await;
    assert_eq!(status, 200);
    let states: Vec<(&str, &str, &str)> = list["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap(),
                f["state"].as_str().unwrap(),
                f["source"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [(CALENDAR, "on", "default"), (PUBLISH, "off", "default")]
    );

    // Settings the rules refuse, and a flag nobody has.
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    for (body, code) in [
        (json!({ "state": "users" }), "USERS_REQUIRED"),
        (json!({ "state": "users", "users": [] }), "USERS_REQUIRED"),
        (json!({ "state": "on", "users": [a] }), "USERS_UNEXPECTED"),
    ] {
        let (status, answer) = call(Method::PUT, &path, Some(&service), Some(body)).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (422, Some(code))
        );
    }
    let (status, _) = call(Method::PUT, "/admin/flags/NOPE", Some(&service), off()).await;
    assert_eq!(status, 404);
    let (status, _) = call(
        Method::PUT,
        &path,
        Some(&service),
        Some(json!({ "state": "maybe" })),
    )
    .await;
    assert_eq!(status, 400);

    // Publishing for two users, by the service role; calendars off, by the admin token.
    let limited = json!({ "state": "users", "users": [b, a, b], "note": "limited rollout" });
    let (status, set) = call(Method::PUT, &path, Some(&service), Some(limited)).await;
    assert_eq!(status, 200, "{set}");
    let mut sorted = [a, b];
    sorted.sort();
    assert_eq!(set["data"]["state"], "users");
    assert_eq!(set["data"]["users"], json!(sorted));
    assert_eq!(set["data"]["source"], "override");
    assert_eq!(set["data"]["environmentDefault"], false);
    assert_eq!(set["data"]["updatedBy"], "service_role");
    assert_eq!(set["data"]["note"], "limited rollout");
    let calendar_path = format!("/admin/flags/{CALENDAR}");
    let (status, set) = call(Method::PUT, &calendar_path, Some(ADMIN_TOKEN), off()).await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["data"]["updatedBy"], "admin-token");

    the_runbook_s_command_turns_it_on(&app).await;

    // Back to the environment default.
    let (status, reset) = call(Method::DELETE, &path, Some(&service), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            reset["data"]["state"].as_str(),
            reset["data"]["source"].as_str()
        ),
        (Some("off"), Some("default"))
    );

    every_change_is_kept_newest_first(&app, [&service, &user], sorted, &calendar_path).await;
}

#[tokio::test]
async fn a_change_reaches_every_process_by_notification_and_a_missed_one_heals() {
    // No periodic reload within the test: only the notification can carry the change.
    let mut app = spawn_app_with(TestOptions {
        env: vec![("FLAGS_REFRESH_MS", "3600000".into())],
        ..Default::default()
    })
    .await;
    let replica = app.start_api_replica().await;
    let mut reloading = app.settings.clone();
    reloading.flags_refresh = std::time::Duration::from_millis(50);
    let healing = app.start_api_replica_with(reloading).await;
    app.turn_flag(&app.address, CALENDAR, &json!({ "state": "off" }))
        .await;
    app.flag_applied(&replica, CALENDAR, "off").await;
    let worker = app.worker_context(0);
    eventually(
        std::time::Duration::from_secs(10),
        "the worker to apply it",
        || async {
            let view = worker
                .flags
                .view(almanac_shared::flags::Flag::CalendarService);
            (view.setting().state() == almanac_shared::flags::State::Off).then_some(())
        },
    )
    .await;

    // A change whose notification never comes (triggers off for this transaction): the
    // process that reloads now and then applies it; the others cannot know yet.
    let mut tx = app.db.begin().await.unwrap();
    sqlx::query("set local session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("update feature_flags set state = 'on' where name = $1")
        .bind(CALENDAR)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    app.flag_applied(&healing, CALENDAR, "on").await;
    assert_eq!(
        app.flag_at(&replica, CALENDAR).await["state"],
        "off",
        "no notification was sent: only the periodic reload carried it"
    );
}
