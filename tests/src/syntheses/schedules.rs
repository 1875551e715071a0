//! The synthesis scheduler and email delivery (seed 004), driven by a test clock: exactly
//! once per day across workers, one email per recipient, retries of refused emails and of
//! failed generations, and deference to a user's manual generation.

use std::time::Duration;

use almanac_shared::{clock::ManualClock, domain::synthesis::EmailJob, jobs::JobPayload as _};
use almanac_worker::scheduler;
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    helpers::{
        Behaviour, FakeAi, TestApp, TestOptions, eventually, smtp::SmtpServer, spawn_app_with,
    },
    syntheses::themes::{tea_site, tea_theme},
};

/// A Monday, 09:30 UTC.
fn monday_morning() -> DateTime<Utc> {
    "2030-01-07T09:30:00Z".parse().unwrap()
}

async fn app_with(smtp: &SmtpServer, fake: Option<&FakeAi>) -> TestApp {
    spawn_app_with(TestOptions {
        fake_ai: fake.cloned(),
        env: vec![("SMTP_URL", smtp.url())],
        ..Default::default()
    })
    .await
}

/// A theme of `user` with a schedule due on Mondays at 09:00 for `emails`.
async fn scheduled_theme(app: &TestApp, user: Uuid, emails: &[&str]) -> String {
    // The site serves until the test's runtime ends.
    let site = tea_site().await;
    let theme = app.create_theme(user, &tea_theme(&site)).await;
    let (status, body) = app
        .send_json(
            Method::PUT,
            user,
            &format!("/api/v1/themes/{theme}/schedule"),
            &json!({ "enabled": true, "days": ["mon"], "time_utc": "09:00", "emails": emails }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    theme
}

async fn tick(app: &TestApp, worker: usize, clock: &ManualClock) -> usize {
    scheduler::tick(&app.worker_context(worker), clock)
        .await
        .expect("tick")
        .len()
}

async fn syntheses(app: &TestApp, user: Uuid, theme: &str) -> Vec<Value> {
    let (status, body) = app
        .get_json(user, &format!("/api/v1/themes/{theme}/syntheses"))
        .await;
    assert_eq!(status, 200);
    body.as_array().unwrap().clone()
}

/// Waits until every synthesis and email job has ended; returns the syntheses.
async fn settled(app: &TestApp, user: Uuid, theme: &str) -> Vec<Value> {
    app.jobs_settled().await;
    syntheses(app, user, theme).await
}

async fn last_run(app: &TestApp, user: Uuid, theme: &str) -> Option<DateTime<Utc>> {
    let (_, schedule) = app
        .get_json(user, &format!("/api/v1/themes/{theme}/schedule"))
        .await;
    schedule["last_run_at"].as_str().map(|t| t.parse().unwrap())
}

#[tokio::test]
async fn a_due_schedule_runs_once_across_three_workers_and_emails_each_recipient_once() {
    let smtp = SmtpServer::start(0).await;
    let mut app = app_with(&smtp, None).await;
    app.start_worker().await;
    app.start_worker().await;
    let user = Uuid::new_v4();
    let recipients = ["ana@example.com", "ben@example.com", "chloe@example.com"];
    let theme = scheduled_theme(&app, user, &recipients).await;
    let clock = ManualClock::new(monday_morning());

    // Not due before 09:00.
    clock.set("2030-01-07T08:59:00Z".parse().unwrap());
    assert_eq!(tick(&app, 0, &clock).await, 0);

    // Three workers tick at the same moment.
    clock.set(monday_morning());
    let started: Vec<usize> =
        futures::future::join_all((0..3).map(|w| tick(&app, w, &clock))).await;
    assert_eq!(started.iter().sum::<usize>(), 1, "{started:?}");
    let messages = smtp.wait_for(3).await;
    let all = settled(&app, user, &theme).await;
    assert_eq!(all.len(), 1, "exactly one synthesis");
    assert_eq!(all[0]["origin"], "schedule");
    assert_eq!(all[0]["week"], "2030-W02");
    assert_eq!(smtp.messages().len(), 3, "exactly three emails");
    let mut to: Vec<String> = messages
        .iter()
        .map(|m| m["to"][0].as_str().unwrap().to_owned())
        .collect();
    to.sort();
    assert_eq!(to, recipients);
    for message in &messages {
        let text = message["text"].as_str().unwrap();
        let html = message["html"].as_str().unwrap();
        for expected in [
            "Green tea prices rise",
            "Matcha guide",
            "chai is spiced tea",
        ] {
            assert!(
                text.contains(expected) && html.contains(expected),
                "{expected} in {message}"
            );
        }
        assert!(message["subject"].as_str().unwrap().contains("2030-W02"));
    }
    assert_eq!(last_run(&app, user, &theme).await, Some(monday_morning()));
    // The tick's trace travels with what it started: the synthesis, and each email the
    // synthesis fanned out.
    let traces: Vec<(String, String)> = sqlx::query_as(
        "select kind, coalesce(trace_context ->> 'traceparent', '') from jobs
         where kind in ('synthesis', 'email') order by created_at",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(traces.len(), 4, "{traces:?}");
    let trace_id = |traceparent: &str| traceparent.split('-').nth(1).unwrap_or_default().to_owned();
    let tick_trace = trace_id(&traces[0].1);
    assert_eq!(traces[0].0, "synthesis");
    assert_eq!(tick_trace.len(), 32, "{traces:?}");
    assert!(
        traces
            .iter()
            .all(|(_, parent)| trace_id(parent) == tick_trace),
        "every job continues the tick's trace: {traces:?}"
    );

    // Later ticks that day start nothing; the deliveries are listed.
    clock.set("2030-01-07T23:59:00Z".parse().unwrap());
    let again: Vec<usize> = futures::future::join_all((0..3).map(|w| tick(&app, w, &clock))).await;
    assert_eq!(again.iter().sum::<usize>(), 0);
    let (_, deliveries) = app
        .get_json(user, &format!("/api/v1/themes/{theme}/deliveries"))
        .await;
    let deliveries = deliveries.as_array().unwrap();
    assert_eq!(deliveries.len(), 3);
    assert!(
        deliveries
            .iter()
            .all(|d| d["status"] == "sent" && d["attempts"] == 1)
    );
    // Nor on another day; the next Monday it runs again.
    clock.set("2030-01-08T09:30:00Z".parse().unwrap());
    assert_eq!(tick(&app, 0, &clock).await, 0);
    clock.set("2030-01-14T09:00:00Z".parse().unwrap());
    assert_eq!(tick(&app, 1, &clock).await, 1);
    assert_eq!(settled(&app, user, &theme).await.len(), 2);
}

#[tokio::test]
async fn a_refused_email_is_retried_and_arrives_once() {
    let smtp = SmtpServer::start(1).await;
    let app = app_with(&smtp, None).await;
    let user = Uuid::new_v4();
    let theme = scheduled_theme(&app, user, &["ana@example.com"]).await;
    let clock = ManualClock::new(monday_morning());
    assert_eq!(tick(&app, 0, &clock).await, 1);
    smtp.wait_for(1).await;
    settled(&app, user, &theme).await;
    assert_eq!(smtp.messages().len(), 1, "arrives once");
    let (_, deliveries) = app
        .get_json(user, &format!("/api/v1/themes/{theme}/deliveries"))
        .await;
    let delivery = &deliveries[0];
    assert_eq!(delivery["status"], "sent");
    assert_eq!(delivery["attempts"], 2, "{delivery}");
    assert!(
        delivery["last_error"].to_string().contains("451"),
        "{delivery}"
    );
}

#[tokio::test]
async fn a_recipient_refused_for_good_is_recorded_failed_and_the_others_get_theirs() {
    let smtp = SmtpServer::start(0).await;
    let app = app_with(&smtp, None).await;
    app.expect_failed_jobs();
    let user = Uuid::new_v4();
    let theme = scheduled_theme(&app, user, &["ana@example.com", "bounce@example.com"]).await;
    let clock = ManualClock::new(monday_morning());
    assert_eq!(tick(&app, 0, &clock).await, 1);
    smtp.wait_for(1).await;
    settled(&app, user, &theme).await;
    assert_eq!(smtp.messages().len(), 1);
    let (_, deliveries) = app
        .get_json(user, &format!("/api/v1/themes/{theme}/deliveries"))
        .await;
    let by = |to: &str| {
        deliveries
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["recipient"] == to)
            .unwrap()
            .clone()
    };
    assert_eq!(by("ana@example.com")["status"], "sent");
    let bounced = by("bounce@example.com");
    assert_eq!(bounced["status"], "failed");
    assert_eq!(bounced["attempts"], 1, "a permanent refusal is not retried");
    assert!(
        bounced["last_error"].to_string().contains("550"),
        "{bounced}"
    );
    // The synthesis ran: the schedule is done for the day.
    assert_eq!(last_run(&app, user, &theme).await, Some(monday_morning()));
}

#[tokio::test]
async fn a_failed_generation_sends_nothing_and_a_later_tick_succeeds() {
    let smtp = SmtpServer::start(0).await;
    let fake = FakeAi::start(vec![Behaviour::Status(400)], Behaviour::Ok).await;
    let app = app_with(&smtp, Some(&fake)).await;
    app.expect_failed_jobs();
    let user = Uuid::new_v4();
    let theme = scheduled_theme(&app, user, &["ana@example.com", "ben@example.com"]).await;
    let clock = ManualClock::new(monday_morning());
    assert_eq!(tick(&app, 0, &clock).await, 1);
    let first = settled(&app, user, &theme).await;
    assert_eq!(first[0]["status"], "failed", "{first:?}");
    assert_eq!(last_run(&app, user, &theme).await, None);
    let (_, deliveries) = app
        .get_json(user, &format!("/api/v1/themes/{theme}/deliveries"))
        .await;
    assert_eq!(deliveries, json!([]));
    assert!(smtp.messages().is_empty());

    // Not again at once (backoff), but after it.
    assert_eq!(tick(&app, 0, &clock).await, 0);
    clock.advance(chrono::Duration::minutes(6));
    assert_eq!(tick(&app, 0, &clock).await, 1);
    smtp.wait_for(2).await;
    let all = settled(&app, user, &theme).await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["status"], "succeeded");
    assert_eq!(
        last_run(&app, user, &theme).await,
        Some(monday_morning() + chrono::Duration::minutes(6))
    );
    assert_eq!(smtp.messages().len(), 2);
}

#[tokio::test]
async fn a_scheduled_run_waits_for_the_users_manual_generation() {
    let smtp = SmtpServer::start(0).await;
    let fake = FakeAi::start(
        vec![Behaviour::Delay(Duration::from_millis(1500))],
        Behaviour::Ok,
    )
    .await;
    let app = app_with(&smtp, Some(&fake)).await;
    let user = Uuid::new_v4();
    let theme = scheduled_theme(&app, user, &["ana@example.com"]).await;
    let manual = app.request_synthesis(user, &theme).await;
    fake.wait_for_calls(1).await;
    let clock = ManualClock::new(monday_morning());
    assert_eq!(
        tick(&app, 0, &clock).await,
        0,
        "skipped while the manual one runs"
    );
    let manual_id = manual["synthesis_id"].as_str().unwrap();
    eventually(
        Duration::from_secs(10),
        "the manual synthesis to finish",
        || async {
            let (_, s) = app
                .get_json(user, &format!("/api/v1/syntheses/{manual_id}"))
                .await;
            (s["status"] == "succeeded").then_some(())
        },
    )
    .await;
    clock.advance(chrono::Duration::minutes(1));
    assert_eq!(
        tick(&app, 0, &clock).await,
        1,
        "runs once the manual one is done"
    );
    smtp.wait_for(1).await;
    let all = settled(&app, user, &theme).await;
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|s| s["status"] == "succeeded"));
    assert_eq!(all.iter().filter(|s| s["origin"] == "schedule").count(), 1);
}

#[tokio::test]
async fn failed_scheduled_runs_are_tried_a_bounded_number_of_times_a_day() {
    let smtp = SmtpServer::start(0).await;
    let attempts = almanac_shared::domain::synthesis::MAX_SCHEDULED_ATTEMPTS_PER_DAY as usize;
    let fake = FakeAi::start(vec![Behaviour::Status(400); attempts], Behaviour::Ok).await;
    let app = app_with(&smtp, Some(&fake)).await;
    app.expect_failed_jobs();
    let user = Uuid::new_v4();
    let theme = scheduled_theme(&app, user, &["ana@example.com"]).await;
    let clock = ManualClock::new(monday_morning());
    for attempt in 1..=attempts {
        assert_eq!(tick(&app, 0, &clock).await, 1, "attempt {attempt}");
        settled(&app, user, &theme).await;
        // Each backoff is at most 2 hours.
        clock.advance(chrono::Duration::hours(2));
    }
    assert_eq!(tick(&app, 0, &clock).await, 0, "no more attempts today");
    let all = syntheses(&app, user, &theme).await;
    assert_eq!(all.len(), attempts);
    assert!(all.iter().all(|s| s["status"] == "failed"));
    assert!(smtp.messages().is_empty());
    // The next scheduled day starts afresh, and succeeds.
    clock.set("2030-01-14T09:00:00Z".parse().unwrap());
    assert_eq!(tick(&app, 0, &clock).await, 1);
    smtp.wait_for(1).await;
    settled(&app, user, &theme).await;
}

#[tokio::test]
async fn an_email_attempt_that_died_mid_send_is_not_sent_again() {
    let smtp = SmtpServer::start(0).await;
    let app = app_with(&smtp, None).await;
    let user = Uuid::new_v4();
    let theme = scheduled_theme(&app, user, &["ana@example.com"]).await;
    let clock = ManualClock::new(monday_morning());
    assert_eq!(tick(&app, 0, &clock).await, 1);
    smtp.wait_for(1).await;
    settled(&app, user, &theme).await;
    // As the reconciler leaves it after a worker died during the SMTP exchange: the
    // delivery `sending`, its job pending again and back on the queue.
    let job: Uuid =
        sqlx::query_scalar("update email_deliveries set status = 'sending' returning job_id")
            .fetch_one(&app.db)
            .await
            .unwrap();
    sqlx::query("update jobs set status = 'pending', finished_at = null where id = $1")
        .bind(job)
        .execute(&app.db)
        .await
        .unwrap();
    app.worker_context(0)
        .queue
        .push(EmailJob::KIND, job, None)
        .await
        .unwrap();
    settled(&app, user, &theme).await;
    let (_, deliveries) = app
        .get_json(user, &format!("/api/v1/themes/{theme}/deliveries"))
        .await;
    assert_eq!(deliveries[0]["status"], "unknown", "{deliveries}");
    assert_eq!(deliveries[0]["last_error"]["code"], "DELIVERY_UNCERTAIN");
    assert_eq!(smtp.messages().len(), 1, "not sent twice");
}

#[tokio::test]
async fn a_schedule_due_while_its_owner_is_over_budget_is_not_started_that_day_and_says_why() {
    let smtp = SmtpServer::start(0).await;
    let app = spawn_app_with(TestOptions {
        env: vec![
            ("SMTP_URL", smtp.url()),
            ("AI_WORKSPACE_DAILY_TOKENS", "1000".into()),
        ],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    let theme = scheduled_theme(&app, user, &["ana@example.com"]).await;
    // The owner spent the day's budget on calendars.
    sqlx::query(
        "insert into ai_usage (user_id, day, kind, calls, tokens_input, tokens_output)
         values ($1, '2030-01-07', 'calendar', 1, 900, 100)",
    )
    .bind(user)
    .execute(&app.db)
    .await
    .unwrap();
    let clock = ManualClock::new(monday_morning());
    assert_eq!(tick(&app, 0, &clock).await, 0);
    clock.advance(chrono::Duration::hours(3));
    assert_eq!(tick(&app, 0, &clock).await, 0, "nor later that day");
    let (status, schedule) = app
        .get_json(user, &format!("/api/v1/themes/{theme}/schedule"))
        .await;
    assert_eq!(status, 200, "{schedule}");
    assert_eq!(schedule["skipped_day"], "2030-01-07", "{schedule}");
    let reason = schedule["skip_reason"].as_str().unwrap();
    assert!(reason.contains("budget of 1000 tokens"), "{reason}");
    assert!(syntheses(&app, user, &theme).await.is_empty());

    // The next Monday the budget is fresh: it runs, and emails once.
    clock.advance(chrono::Duration::days(7));
    assert_eq!(tick(&app, 0, &clock).await, 1);
    smtp.wait_for(1).await;
    let all = settled(&app, user, &theme).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["status"], "succeeded");
}

/// Seed 004 sends through Resend: a 500 is tried again with the same `Idempotency-Key`
/// (the delivery's id), and the delivery ends `sent` once.
#[tokio::test]
async fn a_digest_goes_through_resend_once_with_one_idempotency_key() {
    let resend = crate::helpers::resend::FakeResend::start(vec![500]).await;
    let app = spawn_app_with(TestOptions {
        env: vec![
            ("RESEND_API_KEY", "re_test_key".into()),
            ("RESEND_BASE_URL", resend.base_url()),
        ],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    let theme = scheduled_theme(&app, user, &["ana@example.com"]).await;
    let clock = ManualClock::new(monday_morning());
    assert_eq!(tick(&app, 0, &clock).await, 1);
    settled(&app, user, &theme).await;
    let received = resend.received();
    assert_eq!(received.len(), 2, "500, then 200: {received:?}");
    let (_, deliveries) = app
        .get_json(user, &format!("/api/v1/themes/{theme}/deliveries"))
        .await;
    let delivery = &deliveries[0];
    assert_eq!(delivery["status"], "sent", "{delivery}");
    assert_eq!(delivery["attempts"], 2);
    for request in &received {
        assert_eq!(
            request.idempotency_key.as_deref(),
            delivery["id"].as_str(),
            "the same key on every try"
        );
        assert_eq!(request.authorization.as_deref(), Some("Bearer re_test_key"));
        assert_eq!(request.body["to"], json!(["ana@example.com"]));
        assert!(request.body["subject"].as_str().unwrap().contains("Tea"));
        // The same Message-ID on every try, and the digest's list headers.
        let headers = &request.body["headers"];
        assert_eq!(
            headers["Message-ID"],
            received[0].body["headers"]["Message-ID"]
        );
        assert!(
            headers["List-Unsubscribe"]
                .as_str()
                .unwrap()
                .contains("/unsubscribe/")
        );
        assert_eq!(
            headers["List-Unsubscribe-Post"],
            "List-Unsubscribe=One-Click"
        );
        assert!(
            headers["List-Id"]
                .as_str()
                .unwrap()
                .starts_with("\"Tea\" <")
        );
    }
    assert!(delivery["email_url"].is_null());
}

/// The `outbox` provider (`make run`'s) writes each digest as an `.eml` file, which the
/// deliveries list links to; with no provider at all, deliveries fail saying so.
#[tokio::test]
async fn the_outbox_keeps_each_digest_and_no_provider_says_so() {
    let outbox = crate::helpers::outbox::Outbox::new();
    let app = spawn_app_with(TestOptions {
        env: outbox.env(),
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    let theme = scheduled_theme(&app, user, &["ana@example.com"]).await;
    let clock = ManualClock::new(monday_morning());
    assert_eq!(tick(&app, 0, &clock).await, 1);
    settled(&app, user, &theme).await;
    let (_, deliveries) = app
        .get_json(user, &format!("/api/v1/themes/{theme}/deliveries"))
        .await;
    let delivery = &deliveries[0];
    assert_eq!(delivery["status"], "sent", "{delivery}");
    let url = delivery["email_url"].as_str().unwrap();
    let opened = app
        .client
        .get(app.url(url))
        .bearer_auth(app.token(user))
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 200);
    assert_eq!(opened.headers()["content-type"], "message/rfc822");
    let message = opened.text().await.unwrap();
    assert!(message.contains("To: ana@example.com"), "{message}");
    assert!(message.contains("Subject: "), "{message}");
    // A scheduled digest's list headers (RFC 2369, 2919, 8058), as kept.
    let head = message
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .replace("\r\n ", " ");
    for header in [
        "List-Unsubscribe: <http",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        "List-Id: \"Tea\" <",
    ] {
        assert!(head.contains(header), "{header} in {head}");
    }
    // Not another user's.
    let stranger = app
        .client
        .get(app.url(url))
        .bearer_auth(app.token(Uuid::new_v4()))
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 404);

    let nowhere = spawn_app_with(TestOptions::default()).await;
    nowhere.expect_failed_jobs();
    let theme = scheduled_theme(&nowhere, user, &["ana@example.com"]).await;
    assert_eq!(tick(&nowhere, 0, &clock).await, 1);
    settled(&nowhere, user, &theme).await;
    let (_, deliveries) = nowhere
        .get_json(user, &format!("/api/v1/themes/{theme}/deliveries"))
        .await;
    assert_eq!(deliveries[0]["status"], "failed");
    assert_eq!(deliveries[0]["last_error"]["code"], "EMAIL_NOT_CONFIGURED");
}
