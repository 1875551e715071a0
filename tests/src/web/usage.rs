//! The Usage page (`#/usage`): today's tokens against the daily budget, the last 30 days by
//! kind and by day, and the person's jobs waiting or running, followed live. At 1280 px and
//! 375 px.

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use super::Browser;
use crate::helpers::{TestOptions, spawn_app_with};

#[tokio::test]
async fn the_usage_page_shows_today_the_month_and_the_jobs_now() {
    let mut app = spawn_app_with(TestOptions {
        worker: false,
        env: vec![
            ("AI_WORKSPACE_DAILY_TOKENS", "50000".into()),
            ("DEV_LOGIN", "true".into()),
        ],
        ..Default::default()
    })
    .await;
    let user = Uuid::now_v7();
    // Today: 12,000 tokens of calendars and 3,000 of flashcards; five days ago 20,000 of
    // organic weeks; another user's usage, never shown.
    for (who, days_ago, kind, calls, input, output, cost) in [
        (user, 0, "calendar", 3, 8_000, 4_000, 0.012),
        (user, 0, "generation", 1, 2_000, 1_000, 0.003),
        (user, 5, "organic", 2, 15_000, 5_000, 0.02),
        (Uuid::now_v7(), 0, "calendar", 9, 90_000, 9_000, 0.5),
    ] {
        sqlx::query(
            "insert into ai_usage (user_id, day, kind, calls, tokens_input, tokens_output, cost_usd)
             values ($1, (now() at time zone 'utc')::date - $2::int, $3, $4, $5, $6, $7)",
        )
        .bind(who)
        .bind(days_ago)
        .bind(kind)
        .bind(calls)
        .bind(input as i64)
        .bind(output as i64)
        .bind(cost)
        .execute(&app.db)
        .await
        .unwrap();
    }
    // A flashcard generation waiting for a worker.
    let (status, accepted) = app
        .send_json(
            Method::POST,
            user,
            "/api/ai/generations",
            &json!({ "source_text": "Photosynthesis turns light into chemical energy in plants. ".repeat(20) }),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");

    let browser = Browser::start_in_zone(&app, "usage", "en-GB", "Europe/Paris").await;
    browser.sign_in_with_token(&app.token(user)).await;
    browser.viewport(1280, 800).await;
    browser.click("#nav a[href='#/usage']").await;
    let today = browser
        .wait_text("#usage-today-tokens", "tokens used today")
        .await;
    assert_eq!(today, "15,000 of 50,000 tokens used today");
    assert_eq!(
        browser
            .script("const m = document.querySelector('#usage-meter'); return [m.value, m.max]")
            .await,
        json!([15000, 50000])
    );
    assert_eq!(
        browser.text("#usage-remaining").await,
        "35,000 tokens left today"
    );
    // When the budget resets, with the zone that time is written in.
    let resets = browser.text("#usage-resets").await;
    assert!(resets.ends_with("(Europe/Paris)"), "{resets}");
    let kinds = browser
        .script(
            "return [...document.querySelectorAll('#usage-kinds tbody tr')]
               .map((r) => [...r.children].map((c) => c.textContent))",
        )
        .await;
    assert_eq!(
        kinds,
        json!([
            ["Organic weeks", "2", "20,000", "$0.02"],
            ["Calendars", "3", "12,000", "$0.012"],
            ["Flashcards", "1", "3,000", "$0.003"],
        ])
    );
    assert_eq!(browser.text("#usage-total-tokens").await, "35,000");
    assert_eq!(browser.count("#usage-chart rect.bar").await, 2);
    let jobs = browser.wait_text("#usage-job-list", "waiting").await;
    assert_eq!(jobs, "Flashcards 1 waiting, 0 running");
    browser.screenshot_of("waiting").await;

    // A worker takes the job: the page follows it without a reload.
    app.start_worker().await;
    browser
        .wait_text("#usage-jobs-none", "Nothing is waiting or running.")
        .await;
    browser.screenshot().await;
    browser.fits_a_phone().await;
}
