//! The developer surface in the web app (issue 34): a webhook's deliveries with their
//! attempts, a test sent and a delivery sent again; a calendar's feed address shown once
//! with Copy; a channel's "reconnect by" badge and the retry of what its login failed.

use reqwest::Method;
use uuid::Uuid;

use super::Browser;
use crate::{
    calendars::{request, summary},
    helpers::{TestApp, TestOptions, spawn_app_with, webhooks::Receiver},
};

async fn app() -> TestApp {
    spawn_app_with(TestOptions {
        env: vec![
            ("DEV_LOGIN", "true".into()),
            (
                "TOKEN_ENCRYPTION_KEY",
                almanac_shared::crypto::TokenKey::generate(),
            ),
            ("WEBHOOK_RETRY_SCALE", "0.0001".into()),
        ],
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn a_webhooks_deliveries_show_each_attempt_and_one_is_sent_again_with_its_id() {
    let app = app().await;
    let receiver = Receiver::start(200).await;
    let browser = Browser::start(&app, "webhook-deliveries").await;
    let user = browser.sign_in().await;
    let (status, _) = app
        .send_json(
            Method::POST,
            user,
            "/v1/webhooks",
            &serde_json::json!({ "url": receiver.url, "events": ["publish.intent.failed"] }),
        )
        .await;
    assert_eq!(status, 201);
    browser.open("#/webhooks").await;
    browser.wait_count("#webhooks .webhook", 1).await;
    browser.click("#webhooks .test-webhook").await;
    browser
        .wait_text("#webhooks .delivery[data-status=succeeded]", "answered 200")
        .await;
    browser.wait_text("#webhooks .delivery", "Test event").await;
    browser.click("#webhooks .delivery .redeliver").await;
    browser
        .wait_text("#webhooks .delivery[data-status=succeeded]", "Attempts: 2")
        .await;
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].0.header("webhook-id"),
        requests[1].0.header("webhook-id"),
        "sent again with its id"
    );
    browser.screenshot_of("deliveries").await;

    // Paused by Almanac: the reason, in words.
    sqlx::query(
        "update webhook_endpoints set disabled_at = now(),
             disabled_reason = 'the receiver answered 410 Gone'",
    )
    .execute(&app.db)
    .await
    .unwrap();
    browser.client.refresh().await.unwrap();
    browser
        .wait_text("#webhooks .disabled-reason", "410 Gone")
        .await;
    browser.fits_a_phone().await;
}

#[tokio::test]
async fn a_calendar_feed_address_is_shown_once_with_copy_and_can_be_stopped() {
    let app = app().await;
    let browser = Browser::start(&app, "calendar-feed").await;
    let user = browser.sign_in().await;
    let frames = app.calendar_stream(user, &request(2, "tea")).await;
    let id = summary(&frames)["data"]["calendarId"]
        .as_str()
        .unwrap()
        .to_owned();
    browser.open(&format!("#/calendar/{id}")).await;
    browser.click("#feed-open").await;
    browser.wait_text("#feed", "no feed address yet").await;
    browser.click("#feed-make").await;
    browser.wait("#feed-url").await;
    let url = browser
        .script("return document.getElementById('feed-url').value")
        .await;
    let url = url.as_str().unwrap().to_owned();
    assert!(url.ends_with(".ics"), "{url}");
    let path = url.split_once("/feeds/").unwrap().1;
    let feed = app
        .client
        .get(app.url(&format!("/feeds/{path}")))
        .send()
        .await
        .unwrap();
    assert_eq!(feed.status(), 200);
    assert!(feed.text().await.unwrap().contains("BEGIN:VCALENDAR"));
    browser.screenshot_of("made").await;

    // Shown once: opened again, the dialog says since when, not the address.
    browser.click("#feed-close").await;
    browser.click("#feed-open").await;
    browser
        .wait_text("#feed", "has had a feed address since")
        .await;
    assert_eq!(browser.count("#feed-url").await, 0);
    browser.click("#feed-revoke").await;
    browser.click("#confirm-yes").await;
    browser.wait_text("#feed", "no feed address yet").await;
    let gone = app
        .client
        .get(app.url(&format!("/feeds/{path}")))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn a_channel_about_to_expire_shows_when_to_reconnect_and_retries_what_its_login_failed() {
    let app = app().await;
    let browser = Browser::start(&app, "channel-expiry").await;
    let user = browser.sign_in().await;
    let channel = Uuid::now_v7();
    sqlx::query(
        "insert into platform_accounts (id, user_id, platform, account_id, handle, status,
             access_token, token_expires_at, reconnect_by, connected_at)
         values ($1, $2, 'tiktok', 'acct-1', '@teahouse', 'connected', '\\x01',
             now() + interval '3 days', now() + interval '3 days', now())",
    )
    .bind(channel)
    .bind(user)
    .execute(&app.db)
    .await
    .unwrap();
    let calendar = crate::publishing::launch_calendar(&app, user).await;
    sqlx::query(
        "insert into publish_intents (id, user_id, calendar_id, entry_id, channel, account,
             mode, dry_run, timing, status, error)
         values ($1, $2, $3, $4, 'tiktok', $5, 'publish', false, 'now', 'failed',
             '{\"code\": \"CHANNEL_AUTH_INVALID\", \"message\": \"token revoked\"}')",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(calendar)
    .bind(Uuid::now_v7())
    .bind(channel)
    .execute(&app.db)
    .await
    .unwrap();
    browser.open("#/publishing").await;
    browser
        .wait_text("#accounts .reconnect-by", "Reconnect by")
        .await;
    browser.click("#accounts .retry-failed").await;
    browser
        .wait_text("#toast", "Posts scheduled again: 1.")
        .await;
    browser.screenshot_of("badge").await;
    browser.fits_a_phone().await;
}

/// Settings → API keys (issue 53): a key made with what it may do and an expiry is shown
/// once with Copy and works at once; a reload lists it without the key, saying it was never
/// used, then when it was; revoked after a confirmation, it stops working.
#[tokio::test]
async fn an_api_key_is_made_shown_once_used_and_revoked_from_settings() {
    let app = app().await;
    let browser = Browser::start(&app, "api-keys").await;
    browser.sign_in().await;
    browser.open("#/settings").await;
    browser.wait_text("#api-keys", "No keys yet").await;
    browser.every_input_is_labelled().await;
    // Nothing it may do: said next to the choices, nothing made.
    browser
        .fill("#api-key-form input[name=name]", "Nightly export")
        .await;
    browser
        .click("#api-key-form input[name=scopes][value=read]")
        .await;
    browser.click("#api-key-form button[type=submit]").await;
    browser
        .wait_text("#api-key-form .field-error", "at least one thing")
        .await;
    let count: i64 = sqlx::query_scalar("select count(*) from api_keys")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 0);

    for scope in ["read", "publish"] {
        browser
            .click(&format!("#api-key-form input[name=scopes][value={scope}]"))
            .await;
    }
    browser
        .set_value("#api-key-form select[name=expiry]", "30")
        .await;
    browser.click("#api-key-form button[type=submit]").await;
    browser.wait_count("#api-keys .api-key", 1).await;
    let key = browser
        .script("return document.getElementById('api-key-value').value")
        .await;
    let key = key.as_str().unwrap().to_owned();
    assert!(
        regex::Regex::new("^alm_[A-Za-z0-9_-]{43}$")
            .unwrap()
            .is_match(&key),
        "{key}"
    );
    browser
        .wait_text("#api-keys .api-key", "May: Read · Publish")
        .await;
    browser.wait_text("#api-keys .api-key", "Never used").await;
    browser.wait_text("#api-keys .api-key", "expires").await;
    browser.wait_text("#api-keys .api-key", &key[..12]).await;
    browser.screenshot_of("made").await;
    let stored: (Vec<String>, bool) = sqlx::query_as(
        "select scopes, expires_at between now() + interval '29 days' and now() + interval '31 days'
         from api_keys",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(stored, (vec!["read".into(), "publish".into()], true));

    // It works at once; a reload shows it without the key, and when it was used.
    let (status, _) = app
        .request_json(Method::GET, app.url("/v1/calendars"), Some(&key), None)
        .await;
    assert_eq!(status, 200);
    browser.client.refresh().await.unwrap();
    browser.wait_count("#api-keys .api-key", 1).await;
    assert_eq!(browser.count("#api-key-value").await, 0);
    assert!(!browser.page_text().await.contains(&key[12..]));
    browser.wait_text("#api-keys .api-key", "Last used").await;
    browser.fits_a_phone().await;

    browser.click("#api-keys .revoke-api-key").await;
    browser.keep_after("Revoke this key?").await;
    browser.wait_count("#api-keys .api-key", 1).await;
    browser.click("#api-keys .revoke-api-key").await;
    browser.click("#confirm-yes").await;
    browser.wait_text("#api-keys", "No keys yet").await;
    let (status, _) = app
        .request_json(Method::GET, app.url("/v1/calendars"), Some(&key), None)
        .await;
    assert_eq!(status, 401);
    browser.screenshot().await;
}
