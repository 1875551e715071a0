//! The operator console in the browser (issue 54): signing in with the admin token, counts
//! that change as jobs finish without a reload, failed generations found by a filter and
//! retried all at once (each run once), a retry of every failed job that leaves publishing
//! and calendar runs as they are, and every queued job of one user cancelled.

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use super::Browser;
use crate::{
    helpers::{TestOptions, spawn_app_with},
    operations::console::{fail_generations, failed_job, job_row},
};

const ADMIN_TOKEN: &str = "admin-token-for-the-console-page-0123456789";

/// The console refuses a wrong token, saying what it wants, and opens with the right one.
async fn signs_in_with_the_admin_token(browser: &Browser) {
    browser.fill("#admin-token", "not-the-token").await;
    browser.click("#ops-sign-in button[type=submit]").await;
    browser.wait_text("#ops-sign-in", "ADMIN_TOKEN").await;
    browser.fill("#admin-token", ADMIN_TOKEN).await;
    browser.click("#ops-sign-in button[type=submit]").await;
    browser.wait("#ops-counts").await;
}

/// What needs an eye besides the jobs: a disabled endpoint, a channel to connect again;
/// their ids.
async fn needing_an_eye(app: &crate::helpers::TestApp) -> (Uuid, Uuid) {
    let (mallory, endpoint, channel) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    sqlx::query(
        "insert into webhook_endpoints (id, user_id, url, events, secret, disabled_at, disabled_reason)
         values ($1, $2, 'https://hooks.example.com/in', array['job.failed'], '\\x00', now(),
                 'the receiver failed for 5 days')",
    )
    .bind(endpoint)
    .bind(mallory)
    .execute(&app.db)
    .await
    .unwrap();
    sqlx::query(
        "insert into platform_accounts (id, user_id, platform, account_id, status, status_reason)
         values ($1, $2, 'tiktok', 'probe', 'needs_reauth', 'the token was revoked')",
    )
    .bind(channel)
    .bind(mallory)
    .execute(&app.db)
    .await
    .unwrap();
    (endpoint, channel)
}

/// One user's queued jobs cancelled from the page, the queue paused from it first; another
/// user's (`alice`'s) job stays, and runs once the queue resumes.
async fn one_user_s_queued_jobs_cancelled(
    app: &crate::helpers::TestApp,
    browser: &Browser,
    alice: Uuid,
) {
    browser.open("#/ops").await;
    browser.click("#queue-generation").await;
    browser.click("#confirm-yes").await;
    browser
        .wait("#ops-queues li[data-kind=generation][data-paused=true]")
        .await;
    let carol = Uuid::now_v7();
    let mut carols = Vec::new();
    for _ in 0..3 {
        carols.push(app.submit_job(carol, 1200).await.1);
    }
    let (others, other_job) = app.submit_job(alice, 1200).await;
    browser
        .open(&format!("#/ops?workspace={carol}&status=pending"))
        .await;
    browser
        .wait_count("#ops-job-table tr.ops-job[data-status=pending]", 3)
        .await;
    browser.click("#ops-cancel").await;
    browser
        .wait_text("dialog.confirm h2", "Cancel 3 jobs?")
        .await;
    browser.click("#confirm-yes").await;
    browser.wait_text("#toast", "3 jobs cancelled").await;
    for job in &carols {
        assert_eq!(job_row(app, *job).await.0, "cancelled");
    }
    assert_eq!(
        job_row(app, other_job).await.0,
        "pending",
        "another user's job stays"
    );
    let (status, _) = app
        .request_json(
            Method::POST,
            app.url("/admin/queues/generation/resume"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, 200);
    app.wait_finished(alice, others).await;
}

/// The panel of what needs attention names the disabled endpoint and the channel to
/// connect again, with why, and the flag that is off.
async fn the_attention_panel_names_what_needs_an_eye(
    browser: &Browser,
    endpoint: Uuid,
    channel: Uuid,
) {
    browser
        .wait_text(
            &format!("#ops-endpoints li[data-id='{endpoint}']"),
            "the receiver failed for 5 days",
        )
        .await;
    browser
        .wait_text(
            &format!("#ops-channels li[data-id='{channel}']"),
            "the token was revoked",
        )
        .await;
    browser
        .wait_text("#ops-flags li[data-flag=PUBLISH_SERVICE_ENABLED]", "Off")
        .await;
    browser
        .script("document.querySelector('#ops-attention').scrollIntoView()")
        .await;
    browser.screenshot_of("attention").await;
}

/// The tests' `probe` kind, which only its worker registers, has its row of counts (its
/// job succeeded) beside the built-in kinds', and is one of the job filter's kinds.
async fn the_tests_kind_is_one_of_the_console_s(browser: &Browser) {
    browser
        .wait_text(
            "#ops-counts td[data-kind=probe][data-status=succeeded]",
            "1",
        )
        .await;
    assert_eq!(
        browser
            .script("return document.querySelectorAll('#ops-counts tbody th').length")
            .await,
        json!(9),
        "a row for each built-in kind and the probe"
    );
    assert_eq!(
        browser
            .script("return document.querySelectorAll('#ops-filter option[value=probe]').length")
            .await,
        json!(1),
        "the probe is one of the filter's kinds"
    );
}

#[tokio::test]
async fn an_operator_watches_the_fleet_retries_what_failed_and_cancels_a_user_s_queue() {
    let mut app = spawn_app_with(TestOptions {
        env: vec![("ADMIN_TOKEN", ADMIN_TOKEN.into())],
        probe: true,
        ..Default::default()
    })
    .await;
    app.expect_failed_jobs();
    let (endpoint, channel) = needing_an_eye(&app).await;
    // A kind of the tests only, registered by its worker alone: the console lists it.
    app.submit_probe(Uuid::now_v7(), Uuid::now_v7(), 1).await;
    let browser = Browser::start(&app, "console").await;
    browser.open("#/ops").await;
    signs_in_with_the_admin_token(&browser).await;
    the_attention_panel_names_what_needs_an_eye(&browser, endpoint, channel).await;

    // Jobs finish; the counts follow without a reload.
    let alice = Uuid::now_v7();
    for _ in 0..3 {
        let generation = app.submit(alice).await;
        app.wait_finished(alice, generation).await;
    }
    browser
        .wait_text(
            "#ops-counts td[data-kind=generation][data-status=succeeded]",
            "3",
        )
        .await;
    browser
        .wait("#ops-charts .ops-chart[data-kind=generation] svg rect.bar")
        .await;
    the_tests_kind_is_one_of_the_console_s(&browser).await;
    browser.screenshot_of("overview").await;

    // Failed generations, found through the filter form, retried all at once.
    let bob = Uuid::now_v7();
    let mut generations = Vec::new();
    let mut jobs = Vec::new();
    app.stop_worker(0).await;
    for _ in 0..4 {
        let (generation, job) = app.submit_job(bob, 1200).await;
        generations.push(generation);
        jobs.push(job);
    }
    fail_generations(&app, &generations).await;
    let publish = failed_job(&app, bob, "publish").await;
    let calendar = failed_job(&app, bob, "calendar").await;
    browser
        .set_value("#ops-filter select[name=kind]", "generation")
        .await;
    browser
        .set_value("#ops-filter select[name=status]", "failed")
        .await;
    browser.click("#ops-apply").await;
    browser
        .wait_count("#ops-job-table tr.ops-job[data-status=failed]", 4)
        .await;
    let address = browser.script("return location.hash").await;
    assert_eq!(
        address, "#/ops?kind=generation&status=failed",
        "the filter is in the address"
    );
    browser.click("#ops-retry").await;
    browser
        .wait_text("dialog.confirm h2", "Retry 4 jobs?")
        .await;
    browser.screenshot_of("retry-confirm").await;
    browser.click("#confirm-yes").await;
    browser.wait_text("#toast", "4 jobs queued again").await;
    app.start_worker().await;
    for generation in &generations {
        assert_eq!(
            app.wait_finished(bob, *generation).await["status"],
            "succeeded"
        );
    }
    for job in &jobs {
        assert_eq!(
            job_row(&app, *job).await,
            ("succeeded".to_owned(), 1),
            "run once"
        );
    }

    // Every failed job: publishing and calendar runs are counted and left alone.
    browser.open("#/ops?status=failed").await;
    browser.wait_count("#ops-job-table tr.ops-job", 2).await;
    browser.click("#ops-retry").await;
    browser
        .wait_text("#toast", "None of the 2 matching jobs can be changed")
        .await;
    assert_eq!(job_row(&app, publish).await, ("failed".to_owned(), 3));
    assert_eq!(job_row(&app, calendar).await, ("failed".to_owned(), 3));

    one_user_s_queued_jobs_cancelled(&app, &browser, alice).await;

    // A job's page: its events and what it works on.
    browser.open(&format!("#/ops/jobs/{}", jobs[0])).await;
    browser.wait_text("#ops-job", "ai_generations").await;
    browser.wait("#ops-events li[data-type=done]").await;
    browser.screenshot_of("job").await;
    browser.open("#/ops").await;
    browser.wait("#ops-counts").await;
    browser.every_input_is_labelled().await;
    browser.screenshots_at("#ops-overview").await;
}
