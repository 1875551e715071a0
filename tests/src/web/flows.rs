//! The other sections in the browser: flashcards, themes, the organic week, publishing.

use serde_json::json;
use uuid::Uuid;

use super::Browser;
use crate::helpers::{TestApp, TestOptions, spawn_app_with};

async fn app_with(env: Vec<(&'static str, String)>) -> TestApp {
    let mut env = env;
    env.push(("DEV_LOGIN", "true".into()));
    spawn_app_with(TestOptions {
        env,
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn flashcards_generate_accept_one_with_an_edit_and_download_it_in_the_csv() {
    let app = app_with(vec![]).await;
    let browser = Browser::start(&app, "flashcards").await;
    browser.sign_in().await;
    browser.open("#/flashcards").await;
    let text = "Photosynthesis turns light into chemical energy in plants. ".repeat(20);
    browser.fill("#source-text", &text).await;
    browser.click("#generate-cards").await;
    browser.wait(".suggestion").await;
    browser.every_input_is_labelled().await;
    browser
        .fill(".suggestion input[name=front]", "Edited question?")
        .await;
    browser.click(".suggestion .accept").await;
    browser.wait_count("#cards tr[data-id]", 1).await;
    browser.wait_text("#cards", "Edited question?").await;
    browser.click("#download-csv").await;
    let csv = browser.downloaded("almanac-cards.csv").await;
    let cards: Vec<&str> = csv.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(cards.len(), 1, "{csv}");
    assert!(cards[0].starts_with("Edited question?,"), "{csv}");
    browser.fits_a_phone().await;
    browser.screenshot().await;
}

#[tokio::test]
async fn a_theme_s_schedule_refuses_an_invalid_email_on_blur_and_reloads_as_saved() {
    let app = app_with(vec![]).await;
    let browser = Browser::start(&app, "themes").await;
    let user = browser.sign_in().await;
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
