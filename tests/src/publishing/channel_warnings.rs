//! Channels that warn before they break (issue 34): a channel whose connection ends within
//! `CHANNEL_EXPIRY_WARNING_DAYS` is announced once per token (`channel.expiring` and one
//! email with the reconnect link), and a reconnected channel's auth failures are retried
//! once each, never an `unknown` or `unconfirmed` publish.

use almanac_shared::clock::SystemClock;
use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{
    TestApp, eventually,
    webhooks::{Receiver, WAIT, all_deliveries, app_with, endpoint},
};

/// A channel of `user`'s, with a token (its bytes are never opened here) expiring in
/// `expires` and, if given, a refresh token expiring in `refresh`.
async fn channel(
    app: &TestApp,
    user: Uuid,
    platform: &str,
    expires: Duration,
    refresh: Option<Duration>,
) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into platform_accounts (id, user_id, platform, account_id, handle, status,
             access_token, token_expires_at, refresh_token, refresh_expires_at, connected_at)
         values ($1, $2, $3, $4, $5, 'connected', '\\x01', $6, $7, $8, now())",
    )
    .bind(id)
    .bind(user)
    .bind(platform)
    .bind(format!("acct-{id}"))
    .bind(format!("@{platform}-{}", &id.simple().to_string()[24..]))
    .bind(Utc::now() + expires)
    .bind(refresh.map(|_| vec![2u8]))
    .bind(refresh.map(|r| Utc::now() + r))
    .execute(&app.db)
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn a_channel_about_to_expire_is_announced_once_per_token() {
    let outbox = crate::helpers::outbox::Outbox::new();
    let mut env = outbox.env();
    env.push(("PUBLIC_BASE_URL", "https://almanac.example.com".into()));
    let app = app_with(env).await;
    let user = Uuid::now_v7();
    almanac_shared::store::contacts::record(&app.db, user, "owner@example.com")
        .await
        .unwrap();
    let receiver = Receiver::start(200).await;
    let (hook, _) = endpoint(&app, user, &receiver.url, &["channel.expiring"]).await;

    // TikTok refreshes with its refresh token: a token without one ends at its expiry,
    // one with a refresh token when that expires. Instagram's is extended while valid.
    let ending = channel(&app, user, "tiktok", Duration::days(3), None).await;
    let refreshable = channel(
        &app,
        user,
        "tiktok",
        Duration::hours(2),
        Some(Duration::days(300)),
    )
    .await;
    let refresh_ending = channel(
        &app,
        user,
        "tiktok",
        Duration::hours(2),
        Some(Duration::days(5)),
    )
    .await;
    let extended = channel(&app, user, "instagram", Duration::days(2), None).await;
    let later = channel(&app, user, "tiktok", Duration::days(20), None).await;

    let ctx = app.worker_context(0);
    let warned = almanac_worker::expiry::check(&ctx, &SystemClock)
        .await
        .unwrap();
    let mut told: Vec<Uuid> = warned.iter().map(|w| w.channel_id).collect();
    told.sort();
    let mut expected = vec![ending, refresh_ending];
    expected.sort();
    assert_eq!(told, expected);
    // Checked again (the next tick, another worker): nobody is told twice.
    assert!(
        almanac_worker::expiry::check(&ctx, &SystemClock)
            .await
            .unwrap()
            .is_empty()
    );

    let delivered = all_deliveries(&app, user, hook, 2, "succeeded").await;
    let mut announced: Vec<String> = delivered
        .iter()
        .map(|d| {
            assert_eq!(d["eventType"], "channel.expiring");
            assert!(d["data"]["reconnectBy"].is_string(), "{d}");
            d["data"]["channelId"].as_str().unwrap().to_owned()
        })
        .collect();
    announced.sort();
    assert_eq!(
        announced,
        expected.iter().map(Uuid::to_string).collect::<Vec<_>>()
    );
    let sent = outbox.emails();
    assert_eq!(sent.len(), 2, "{sent:?}");
    for email in &sent {
        assert!(email.contains("To: owner@example.com"), "{email}");
        assert!(
            email.contains("https://almanac.example.com/app/#/publishing"),
            "{email}"
        );
    }

    // The badge's date, on the channels that need it only.
    let (_, list) = app.get_json(user, "/v1/channels").await;
    for item in list["data"]["items"].as_array().unwrap() {
        let id: Uuid = item["id"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            item["reconnectBy"].is_string(),
            expected.contains(&id),
            "{item}"
        );
    }
    for quiet in [refreshable, extended, later] {
        assert!(!told.contains(&quiet));
    }

    // A new token (reconnected, still short-lived) is announced in its turn.
    sqlx::query(
        "update platform_accounts set access_token = '\\x03',
             token_expires_at = now() + interval '4 days' where id = $1",
    )
    .bind(ending)
    .execute(&app.db)
    .await
    .unwrap();
    let again = almanac_worker::expiry::check(&ctx, &SystemClock)
        .await
        .unwrap();
    assert_eq!(
        again.iter().map(|w| w.channel_id).collect::<Vec<_>>(),
        vec![ending]
    );
    all_deliveries(&app, user, hook, 3, "succeeded").await;
    eventually(WAIT, "the third email", || async {
        (outbox.emails().len() == 3).then_some(())
    })
    .await;
}

/// An intent of `channel`'s in `status`, failed with `code` if given.
async fn intent(
    app: &TestApp,
    user: Uuid,
    calendar: Uuid,
    channel: Uuid,
    status: &str,
    code: Option<&str>,
) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into publish_intents (id, user_id, calendar_id, entry_id, channel, account,
             mode, dry_run, timing, status, error)
         values ($1, $2, $3, $4, 'tiktok', $5, 'publish', false, 'now', $6, $7)",
    )
    .bind(id)
    .bind(user)
    .bind(calendar)
    .bind(Uuid::now_v7())
    .bind(channel)
    .bind(status)
    .bind(code.map(|code| json!({ "code": code, "message": "refused" })))
    .execute(&app.db)
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn a_reconnected_channel_retries_its_auth_failures_once_and_never_an_unconfirmed_one() {
    let app = app_with(vec![("PUBLISH_SERVICE_ENABLED", "false".into())]).await;
    let user = Uuid::now_v7();
    let calendar = crate::publishing::launch_calendar(&app, user).await;
    let id = channel(&app, user, "tiktok", Duration::days(30), None).await;
    sqlx::query("update platform_accounts set status = 'needs_reauth' where id = $1")
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();
    let auth = [
        intent(
            &app,
            user,
            calendar,
            id,
            "failed",
            Some("CHANNEL_AUTH_INVALID"),
        )
        .await,
        intent(
            &app,
            user,
            calendar,
            id,
            "failed",
            Some("CHANNEL_AUTH_INVALID"),
        )
        .await,
    ];
    let other = intent(&app, user, calendar, id, "failed", Some("MEDIA_REJECTED")).await;
    let unconfirmed = intent(&app, user, calendar, id, "unconfirmed", None).await;
    let unknown = intent(&app, user, calendar, id, "unknown", None).await;
    let path = format!("/v1/channels/{id}/retry-failed");

    // Not before it is connected again.
    let (status, refused) = app.send_empty(Method::POST, user, &path).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "CHANNEL_NOT_CONNECTED");
    assert_eq!(
        app.send_empty(Method::POST, Uuid::now_v7(), &path).await.0,
        404
    );

    sqlx::query("update platform_accounts set status = 'connected' where id = $1")
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();
    let (status, answer) = app.send_empty(Method::POST, user, &path).await;
    assert_eq!(status, 202, "{answer}");
    let mut retried: Vec<String> = answer["data"]["retried"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    retried.sort();
    assert_eq!(
        retried,
        auth.iter().map(Uuid::to_string).collect::<Vec<_>>()
    );
    let skipped: Vec<(String, String)> = answer["data"]["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["intentId"].as_str().unwrap().to_owned(),
                s["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        skipped,
        vec![
            (other.to_string(), "NOT_AN_AUTH_FAILURE".to_owned()),
            (unconfirmed.to_string(), "NOT_CONFIRMED".to_owned()),
            (unknown.to_string(), "NOT_CONFIRMED".to_owned()),
        ]
    );
    for retried in auth {
        let (_, intent) = app
            .get_json(user, &format!("/v1/publish-intents/{retried}"))
            .await;
        assert_eq!(intent["data"]["status"], "scheduled", "{intent}");
    }
    for untouched in [unconfirmed, unknown] {
        let (_, intent) = app
            .get_json(user, &format!("/v1/publish-intents/{untouched}"))
            .await;
        assert_ne!(intent["data"]["status"], "scheduled", "{intent}");
    }

    // Once each: asked again, nothing is retried a second time.
    let (_, again) = app.send_empty(Method::POST, user, &path).await;
    assert_eq!(again["data"]["retried"], json!([]));
    assert_eq!(
        again["data"]["skipped"].as_array().map(Vec::len),
        Some(3),
        "{again}"
    );
}
