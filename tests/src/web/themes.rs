//! Themes and their digests in the browser: a schedule's recipients checked on blur and kept
//! on reload, a schedule in the reader's time zone with its next digest, skipped runs and
//! unsubscribed addresses with a way back.

use serde_json::{Value, json};
use uuid::Uuid;

use super::{Browser, app_with};
use crate::helpers::TestApp;

#[tokio::test]
async fn a_theme_s_schedule_refuses_an_invalid_email_on_blur_and_reloads_as_saved() {
    let app = app_with(vec![]).await;
    let browser = Browser::start(&app, "themes").await;
    let user = browser.sign_in().await;
    create_tea_theme(&browser).await;
    browser.every_input_is_labelled().await;
    // Synthesise now, with its progress, to the finished synthesis.
    browser.click("#synthesise").await;
    browser
        .wait_text("#synthesis-status", "Synthesis ready")
        .await;
    browser.wait_text("#syntheses", "succeeded").await;

    browser.click("#schedule-enabled").await;
    browser
        .wait_text("#schedule-status", "Schedule saved")
        .await;
    browser.click("#schedule [data-day=mon]").await;
    browser.set_value("#schedule-time", "08:00").await;
    browser.click("#add-email").await;
    browser
        .fill("#schedule-emails input[type=email]", "not-an-email")
        .await;
    browser.script("document.activeElement.blur()").await;
    browser
        .wait_text("#schedule-emails .field-error", "Not a valid email")
        .await;
    let theme = theme_id(&app, user).await;
    let saved = schedule(&app, user, &theme).await;
    assert_eq!(
        saved["emails"],
        json!([]),
        "the invalid address was not saved"
    );

    browser
        .fill("#schedule-emails input[type=email]", "me@example.com")
        .await;
    browser.script("document.activeElement.blur()").await;
    browser
        .until(
            "the schedule to be saved with the address",
            "return document.querySelector('#schedule-status').dataset.saved",
            |v| v.as_str().is_some_and(|s| s.contains("me@example.com")),
        )
        .await;
    let saved = schedule(&app, user, &theme).await;
    assert_eq!(
        (
            &saved["enabled"],
            &saved["days"],
            &saved["time_utc"],
            &saved["emails"]
        ),
        (
            &json!(true),
            &json!(["mon"]),
            &json!("08:00"),
            &json!(["me@example.com"])
        )
    );

    // A reload shows the schedule as saved.
    browser.client.refresh().await.unwrap();
    browser.wait("#schedule").await;
    let shown = browser
        .script(
            "return [document.querySelector('#schedule-enabled').checked,
                     [...document.querySelectorAll('#schedule [aria-pressed=true]')].map(b => b.dataset.day),
                     document.querySelector('#schedule-time').value,
                     [...document.querySelectorAll('#schedule-emails input')].map(i => i.value)]",
        )
        .await;
    assert_eq!(shown, json!([true, ["mon"], "08:00", ["me@example.com"]]));
    browser.fits_a_phone().await;
    browser.screenshot().await;
}

/// A reader in Paris schedules a digest at 08:00 their time: the editor starts in their
/// zone, the schedule keeps it (and shows the next digest in their time), and a reload shows
/// it as saved; picking UTC makes it seed 004's UTC schedule again.
#[tokio::test]
async fn a_schedule_keeps_the_readers_zone_and_shows_the_next_digest_in_their_time() {
    let app = app_with(vec![]).await;
    let browser = Browser::start_in_zone(&app, "schedule-zone", "en-GB", "Europe/Paris").await;
    let user = browser.sign_in().await;
    create_tea_theme(&browser).await;
    browser.wait_text("#schedule", "Time (Europe/Paris)").await;
    browser.every_input_is_labelled().await;

    // Tomorrow's weekday in Paris: today's 08:00 may have passed, and would be due at once.
    let tomorrow =
        chrono::Utc::now().with_timezone(&chrono_tz::Europe::Paris) + chrono::Days::new(1);
    let day = tomorrow.format("%a").to_string().to_lowercase();
    let day_name = tomorrow.format("%A").to_string();
    browser.click("#schedule-enabled").await;
    browser.click(&format!("#schedule [data-day={day}]")).await;
    browser.set_value("#schedule-time", "08:00").await;
    browser
        .until(
            "the schedule to be saved at 08:00 in Paris",
            "return document.querySelector('#schedule-status').dataset.saved",
            |v| {
                v.as_str().is_some_and(|s| {
                    s.contains("\"time_local\":\"08:00\"") && s.contains(&format!("\"{day}\""))
                })
            },
        )
        .await;
    let theme = theme_id(&app, user).await;
    let saved = schedule(&app, user, &theme).await;
    assert_eq!(
        (&saved["timezone"], &saved["time_local"], &saved["days"]),
        (&json!("Europe/Paris"), &json!("08:00"), &json!([day])),
        "{saved}"
    );
    // The next digest, tomorrow at 08:00 in the reader's time.
    let next = browser.wait_text("#schedule-next", &day_name).await;
    assert!(
        next.contains("08:00") && next.contains("your time"),
        "{next}"
    );

    browser.client.refresh().await.unwrap();
    browser.wait("#schedule").await;
    let shown = browser
        .script(
            "return [document.querySelector('#schedule-zone').value,
                     document.querySelector('#schedule-time').value]",
        )
        .await;
    assert_eq!(shown, json!(["Europe/Paris", "08:00"]));
    browser.screenshots_at("#schedule").await;

    // UTC: seed 004's schedule, its time in UTC.
    browser.set_value("#schedule-zone", "UTC").await;
    browser.wait_text("#schedule", "Time (UTC)").await;
    browser
        .until(
            "the schedule to be saved in UTC",
            "return document.querySelector('#schedule-status').dataset.saved",
            |v| v.as_str().is_some_and(|s| s.contains("time_utc")),
        )
        .await;
    let saved = schedule(&app, user, &theme).await;
    assert_eq!(
        (&saved["timezone"], &saved["time_local"], &saved["time_utc"]),
        (&Value::Null, &Value::Null, &json!("08:00")),
        "{saved}"
    );
}

/// A digest run with nothing new shows as not sent, and why; an address that unsubscribed
/// shows on the schedule until its owner allows it again.
#[tokio::test]
async fn a_skipped_digest_and_an_unsubscribed_address_show_with_a_way_back() {
    use crate::syntheses::digests::{at, feed, one_click, run};
    let outbox = crate::helpers::outbox::Outbox::new();
    let app = app_with(outbox.env()).await;
    let browser = Browser::start(&app, "digest-skipped").await;
    let user = browser.sign_in().await;
    let site = crate::helpers::sites::Site::start(vec![(
        "/feed.xml",
        "application/rss+xml",
        feed(1, &[("Matcha", "a-1", "https://tea.example/matcha")]),
    )])
    .await;
    let theme = app
        .create_theme(
            user,
            &json!({ "name": "Tea", "sources": [{ "type": "rss", "value": site.url("/feed.xml") }] }),
        )
        .await;
    let path = format!("/api/v1/themes/{theme}/schedule");
    let (status, schedule) = app
        .send_json(
            reqwest::Method::PUT,
            user,
            &path,
            &json!({ "enabled": true, "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                     "time_utc": "09:00", "emails": ["ana@example.com", "ben@example.com"] }),
        )
        .await;
    assert_eq!(status, 200, "{schedule}");
    let clock = almanac_shared::clock::ManualClock::new(at(7));
    run(&app, &clock, at(7), user, &theme).await;
    // The same feed the next day: nothing new.
    run(&app, &clock, at(8), user, &theme).await;
    // Ben unsubscribes with his digest's link.
    let schedule_id: Uuid = schedule["id"].as_str().unwrap().parse().unwrap();
    let done = one_click(&app, schedule_id, "ben@example.com").await;
    assert_eq!(done.status(), 200);

    browser.open(&format!("#/themes/{theme}")).await;
    browser
        .wait_text("#theme", "not sent (nothing new since the last digest)")
        .await;
    browser
        .wait_text("#schedule-suppressions", "ben@example.com unsubscribed on")
        .await;
    browser.every_input_is_labelled().await;
    browser.screenshots_at("#schedule-suppressions").await;

    // Ana opens her digest's link: a page that asks, then says it is done.
    let key = almanac_shared::unsubscribe::UnsubscribeKey::from_secret(crate::helpers::JWT_SECRET);
    let token = key.token(
        schedule_id,
        "ana@example.com",
        chrono::Utc::now().date_naive() + chrono::Days::new(60),
    );
    browser
        .client
        .goto(&app.url(&format!("/unsubscribe/{token}")))
        .await
        .unwrap();
    browser
        .wait_text("main", "Stop sending the Tea digest to ana@example.com?")
        .await;
    browser.screenshot_of("confirm").await;
    browser.click("#unsubscribe").await;
    browser
        .wait_text("main", "ana@example.com will not receive")
        .await;
    browser.screenshot_of("done").await;
    let (_, schedule) = app.get_json(user, &path).await;
    assert_eq!(schedule["emails"], json!([]), "{schedule}");
    browser.open(&format!("#/themes/{theme}")).await;
    browser
        .wait_text("#schedule-suppressions", "ana@example.com")
        .await;

    browser.click("#schedule-suppressions button").await;
    browser
        .wait_text("#toast", "ben@example.com can be added again")
        .await;
    let (_, schedule) = app.get_json(user, &path).await;
    let left: Vec<&str> = schedule["suppressions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["email"].as_str().unwrap())
        .collect();
    assert_eq!(left, ["ana@example.com"], "{schedule}");
}

/// Creates the theme "Tea" (one text source) in the web app's form, and waits for its page.
async fn create_tea_theme(browser: &Browser) {
    browser.open("#/themes").await;
    browser.fill("#theme-form input[name=name]", "Tea").await;
    browser
        .set_value("#theme-form select[name=sourceType]", "text")
        .await;
    browser
        .fill("#theme-form input[name=sourceValue]", "Chai is spiced tea.")
        .await;
    browser.click("#theme-form button.secondary").await;
    browser
        .click("#theme-form button:not(.secondary):not(.link)")
        .await;
    browser.wait("#schedule").await;
}

async fn theme_id(app: &TestApp, user: Uuid) -> String {
    let (status, themes) = app.get_json(user, "/api/v1/themes").await;
    assert_eq!(status, 200, "{themes}");
    themes[0]["id"].as_str().unwrap().to_owned()
}

async fn schedule(app: &TestApp, user: Uuid, theme: &str) -> serde_json::Value {
    let (status, schedule) = app
        .get_json(user, &format!("/api/v1/themes/{theme}/schedule"))
        .await;
    assert_eq!(status, 200, "{schedule}");
    schedule
}
