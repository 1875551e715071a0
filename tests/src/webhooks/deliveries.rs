//! Webhook deliveries (issue 34): written in the transaction of the change that causes
//! them, sent by their own job kind to a local receiver, every attempt verified with the
//! Standard Webhooks reference library (`standardwebhooks` from PyPI), retried on the
//! schedule (shrunk by `WEBHOOK_RETRY_SCALE`) with the same `webhook-id`, and endpoints
//! disabled when their receiver is gone or keeps failing.

use std::collections::HashSet;

use almanac_tests::fake_http::Request;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    TestApp, eventually,
    webhooks::{Receiver, WAIT, all_deliveries, app_with, deliveries, endpoint},
};

/// Every request verified by the Standard Webhooks reference library with `secret`: one
/// verdict per request, in order.
pub(crate) fn verified_by_the_reference_library(
    secret: &str,
    requests: &[(Request, u16)],
) -> Vec<bool> {
    let script = r#"
import sys, json
from standardwebhooks.webhooks import Webhook
secret = sys.argv[1]
verdicts = []
for r in json.load(sys.stdin):
    try:
        Webhook(secret).verify(r["body"], {"webhook-id": r["id"],
            "webhook-timestamp": r["timestamp"], "webhook-signature": r["signature"]})
        verdicts.append(True)
    except Exception:
        verdicts.append(False)
print(json.dumps(verdicts))
"#;
    let input: Vec<Value> = requests
        .iter()
        .map(|(r, _)| {
            json!({
                "id": r.header("webhook-id"),
                "timestamp": r.header("webhook-timestamp"),
                "signature": r.header("webhook-signature"),
                "body": String::from_utf8(r.body.clone()).unwrap(),
            })
        })
        .collect();
    let mut child = std::process::Command::new("python3")
        .args(["-c", script, secret])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(serde_json::to_string(&input).unwrap().as_bytes())
            .unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the reference library did not run (`make test-deps` installs it): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// [`app_with`] as it is.
async fn app() -> TestApp {
    app_with(Vec::new()).await
}

async fn send_test(app: &TestApp, user: Uuid, endpoint: Uuid) -> Value {
    let (status, answer) = app
        .send_empty(Method::POST, user, &format!("/v1/webhooks/{endpoint}/test"))
        .await;
    assert_eq!(status, 202, "{answer}");
    answer["data"].clone()
}

/// Events of real changes (a job that succeeded, a test) arrive once each, as the issue's
/// body, with the delivery's id as `webhook-id`, and verify with the reference library;
/// an endpoint that did not subscribe to an event gets none of it, and another user's
/// endpoint nothing at all.
#[tokio::test]
async fn events_of_real_changes_arrive_once_each_and_verify_with_the_reference_library() {
    let app = app().await;
    let (user, stranger) = (Uuid::now_v7(), Uuid::now_v7());
    let jobs = Receiver::start(200).await;
    let failures = Receiver::start(200).await;
    let theirs = Receiver::start(200).await;
    let (jobs_endpoint, secret) = endpoint(&app, user, &jobs.url, &["job.succeeded"]).await;
    let (failures_endpoint, _) = endpoint(&app, user, &failures.url, &["job.failed"]).await;
    endpoint(&app, stranger, &theirs.url, &["job.succeeded"]).await;

    let generation = app.submit(user).await;
    let finished = app.wait_finished(user, generation).await;
    assert_eq!(finished["status"], "succeeded", "{finished}");
    let test = send_test(&app, user, jobs_endpoint).await;
    assert_eq!(test["eventType"], "webhook.test");

    let items = all_deliveries(&app, user, jobs_endpoint, 2, "succeeded").await;
    let delivered = jobs.delivered();
    assert_eq!(delivered.len(), 2, "{delivered:?}");
    for item in &items {
        let id = item["id"].as_str().unwrap();
        let bodies = &delivered[id];
        assert_eq!(bodies.len(), 1, "delivered once: {bodies:?}");
        let body = &bodies[0];
        assert_eq!(body["type"], item["eventType"]);
        assert_eq!(body["data"], item["data"]);
        let stamped =
            chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap()).unwrap();
        assert_eq!(
            stamped,
            chrono::DateTime::parse_from_rfc3339(item["occurredAt"].as_str().unwrap()).unwrap()
        );
        let attempts = item["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 1, "{item}");
        assert_eq!(attempts[0]["responseStatus"], 200);
        assert_eq!(attempts[0]["responseExcerpt"], "answered");
    }
    let job_event = items
        .iter()
        .find(|d| d["eventType"] == "job.succeeded")
        .expect("the job's event");
    assert_eq!(job_event["data"]["kind"], "generation");
    assert_eq!(job_event["data"]["status"], "succeeded");
    assert_eq!(
        job_event["data"]["result"]["generation_id"],
        generation.to_string()
    );

    let requests = jobs.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        verified_by_the_reference_library(&secret, &requests),
        vec![true, true]
    );
    // Another secret does not verify them.
    assert_eq!(
        verified_by_the_reference_library(&almanac_shared::webhooks::new_secret(), &requests),
        vec![false, false]
    );
    // Nothing failed; the stranger's endpoint saw nothing of this user's job. (Nothing is
    // staged for them at all, so no wait could make a request appear later.)
    assert!(deliveries(&app, user, failures_endpoint).await.is_empty());
    assert!(failures.requests().is_empty());
    let staged: i64 =
        sqlx::query_scalar("select count(*) from webhook_deliveries where user_id = $1")
            .bind(stranger)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(staged, 0);
    assert!(theirs.requests().is_empty());
}

/// A receiver that is down (503) for a while gets every event once it is back: each with
/// the id it had on its first attempt, signed afresh on every attempt, delivered once.
#[tokio::test]
async fn a_receiver_down_for_a_while_gets_every_event_once_back_with_its_first_id() {
    let app = app().await;
    let user = Uuid::now_v7();
    let receiver = Receiver::start(503).await;
    let (id, secret) = endpoint(&app, user, &receiver.url, &["job.succeeded"]).await;
    let mut sent = Vec::new();
    for _ in 0..5 {
        sent.push(
            send_test(&app, user, id).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // Down until every delivery has failed twice.
    eventually(WAIT, "two failed attempts of each delivery", || async {
        let requests = receiver.requests();
        sent.iter()
            .all(|id| {
                requests
                    .iter()
                    .filter(|(r, _)| r.header("webhook-id").as_deref() == Some(id))
                    .count()
                    >= 2
            })
            .then_some(())
    })
    .await;
    receiver.set(200);
    let items = all_deliveries(&app, user, id, 5, "succeeded").await;

    let delivered = receiver.delivered();
    assert_eq!(
        delivered.keys().cloned().collect::<HashSet<_>>(),
        sent.iter().cloned().collect::<HashSet<_>>()
    );
    assert!(
        delivered.values().all(|bodies| bodies.len() == 1),
        "{delivered:?}"
    );
    let requests = receiver.requests();
    // Every attempt verifies, and its id is one of the deliveries'.
    assert!(
        verified_by_the_reference_library(&secret, &requests)
            .into_iter()
            .all(|ok| ok)
    );
    for item in &items {
        let attempts = item["attempts"].as_array().unwrap();
        let tried = requests
            .iter()
            .filter(|(r, _)| r.header("webhook-id").as_deref() == item["id"].as_str())
            .count();
        assert_eq!(attempts.len(), tried, "every attempt recorded: {item}");
        assert!(attempts.len() >= 3, "{item}");
        let (last, failed) = attempts.split_last().unwrap();
        assert_eq!(last["responseStatus"], 200);
        assert!(failed.iter().all(|a| a["responseStatus"] == 503), "{item}");
    }
    // The endpoint failed many times in a row, but not for a day: still enabled.
    let (_, webhook) = app.get_json(user, &format!("/v1/webhooks/{id}")).await;
    assert_eq!(webhook["data"]["disabledAt"], Value::Null);
}

/// A change that rolled back stages nothing: only the committed change's event is sent.
#[tokio::test]
async fn a_rolled_back_change_sends_nothing() {
    let app = app().await;
    let user = Uuid::now_v7();
    let receiver = Receiver::start(200).await;
    let (id, _) = endpoint(&app, user, &receiver.url, &["channel.needs_reauth"]).await;
    let channel = Uuid::now_v7();
    sqlx::query(
        "insert into platform_accounts (id, user_id, platform, account_id, status)
         values ($1, $2, 'tiktok', 'acct-1', 'connected')",
    )
    .bind(channel)
    .bind(user)
    .execute(&app.db)
    .await
    .unwrap();
    let mut tx = app.db.begin().await.unwrap();
    sqlx::query("update platform_accounts set status = 'needs_reauth', status_reason = 'rolled back' where id = $1")
        .bind(channel)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    sqlx::query("update platform_accounts set status = 'needs_reauth', status_reason = 'token revoked' where id = $1")
        .bind(channel)
        .execute(&app.db)
        .await
        .unwrap();

    let items = all_deliveries(&app, user, id, 1, "succeeded").await;
    assert_eq!(items[0]["eventType"], "channel.needs_reauth");
    assert_eq!(items[0]["data"]["reason"], "token revoked");
    assert_eq!(items[0]["data"]["channelId"], channel.to_string());
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let body: Value = serde_json::from_slice(&requests[0].0.body).unwrap();
    assert_eq!(body["data"]["reason"], "token revoked");
}

/// A receiver that never answers holds an attempt for the time bound only: the attempt
/// is recorded as a timeout and the next one follows; once it answers, it is delivered.
#[tokio::test]
async fn a_hanging_receiver_holds_an_attempt_no_longer_than_the_bound() {
    let app = app().await;
    let user = Uuid::now_v7();
    let receiver = Receiver::start(0).await;
    let (id, _) = endpoint(&app, user, &receiver.url, &["job.succeeded"]).await;
    let delivery = send_test(&app, user, id).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    eventually(WAIT, "two attempts", || async {
        (receiver.requests().len() >= 2).then_some(())
    })
    .await;
    receiver.set(200);
    let items = all_deliveries(&app, user, id, 1, "succeeded").await;
    assert_eq!(items[0]["id"], delivery.as_str());
    let attempts = items[0]["attempts"].as_array().unwrap();
    let (last, timed_out) = attempts.split_last().unwrap();
    assert!(timed_out.len() >= 2, "{attempts:?}");
    for attempt in timed_out {
        assert_eq!(attempt["errorCode"], "WEBHOOK_TIMEOUT", "{attempt}");
        assert_eq!(attempt["errorMessage"], "no answer within 1000 ms");
        assert_eq!(attempt["responseStatus"], Value::Null);
    }
    assert_eq!(last["responseStatus"], 200);
}

/// A 410 disables its endpoint at once; an endpoint whose every attempt failed for a day
/// (at least ten in a row) is disabled too; the owner is emailed (at the address their
/// token carried) and their other endpoints are told with `webhook.disabled`. A disabled
/// endpoint is sent nothing more, and can be enabled again and its deliveries sent again,
/// with the same ids.
/// A receiver that answers 410 Gone disables its endpoint at its first attempt: the
/// endpoint's id.
async fn a_gone_receiver_disables_its_endpoint_at_once(app: &TestApp, user: Uuid) -> Uuid {
    let gone = Receiver::start(410).await;
    let (gone_id, _) = endpoint(app, user, &gone.url, &["job.succeeded"]).await;
    send_test(app, user, gone_id).await;
    let failed = all_deliveries(app, user, gone_id, 1, "failed").await;
    assert_eq!(failed[0]["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(failed[0]["lastError"]["code"], "WEBHOOK_GONE");
    let (_, webhook) = app.get_json(user, &format!("/v1/webhooks/{gone_id}")).await;
    assert_eq!(
        webhook["data"]["disabledReason"],
        "the receiver answered 410 Gone"
    );
    assert_eq!(gone.requests().len(), 1);
    gone_id
}

/// A request whose token carries the user's address (as Supabase's do) makes it theirs.
async fn the_owner_s_address_is_kept(app: &TestApp, user: Uuid, address: &str) {
    let status = app
        .client
        .get(app.url("/v1/webhooks"))
        .bearer_auth(app.keys.mint_with_email(user, Some(address), 600))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    eventually(WAIT, "the owner's address kept", || async {
        let email: Option<String> =
            sqlx::query_scalar("select email from user_contacts where user_id = $1")
                .bind(user)
                .fetch_optional(&app.db)
                .await
                .unwrap();
        email.filter(|e| e == address)
    })
    .await;
}

/// Enabled and answering again, a redelivery of `again` keeps the delivery's id: recorded
/// delivered (so its job has ended), once.
async fn a_redelivery_keeps_the_delivery_s_id(
    app: &TestApp,
    user: Uuid,
    failing_id: Uuid,
    failing: &Receiver,
    again: &str,
) {
    failing.set(200);
    let (status, _) = app
        .send_json(
            Method::PATCH,
            user,
            &format!("/v1/webhooks/{failing_id}"),
            &json!({"enabled": true}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, redelivered) = app
        .send_empty(
            Method::POST,
            user,
            &format!("/v1/webhooks/{failing_id}/deliveries/{again}/redeliver"),
        )
        .await;
    assert_eq!(status, 202, "{redelivered}");
    assert_eq!(redelivered["data"]["status"], "pending");
    // Recorded delivered (so its job has ended), once, with its id.
    eventually(WAIT, "the redelivery", || async {
        let items = deliveries(app, user, failing_id).await;
        items
            .iter()
            .any(|d| d["id"] == again && d["status"] == "succeeded")
            .then_some(())
    })
    .await;
    assert_eq!(failing.delivered().len(), 1);
    assert_eq!(failing.delivered()[again].len(), 1);
    let (_, webhook) = app
        .get_json(user, &format!("/v1/webhooks/{failing_id}"))
        .await;
    assert_eq!(webhook["data"]["disabledAt"], Value::Null);
}

#[tokio::test]
async fn gone_and_failing_endpoints_are_disabled_and_their_owner_told() {
    let outbox = crate::helpers::outbox::Outbox::new();
    let mut env = outbox.env();
    // It sends more tests than a minute's limit.
    env.push(("WEBHOOK_TEST_RATE_LIMIT", "100".into()));
    let app = app_with(env).await;
    // The deliveries of the disabled endpoints fail, and their jobs with them.
    app.expect_failed_jobs();
    let user = Uuid::now_v7();
    the_owner_s_address_is_kept(&app, user, "owner@example.com").await;
    let watcher = Receiver::start(200).await;
    let (watcher_id, _) = endpoint(&app, user, &watcher.url, &["webhook.disabled"]).await;

    let gone_id = a_gone_receiver_disables_its_endpoint_at_once(&app, user).await;

    let failing = Receiver::start(500).await;
    let (failing_id, _) = endpoint(&app, user, &failing.url, &["job.succeeded"]).await;
    for _ in 0..10 {
        send_test(&app, user, failing_id).await;
    }
    eventually(WAIT, "ten failed attempts", || async {
        let failures: i32 =
            sqlx::query_scalar("select consecutive_failures from webhook_endpoints where id = $1")
                .bind(failing_id)
                .fetch_one(&app.db)
                .await
                .unwrap();
        (failures >= 10).then_some(())
    })
    .await;
    // Ten in a row, but within moments: not disabled. A day of failures later (the run
    // of failures dated back), the next failed attempt disables it.
    let (_, webhook) = app
        .get_json(user, &format!("/v1/webhooks/{failing_id}"))
        .await;
    assert_eq!(webhook["data"]["disabledAt"], Value::Null, "{webhook}");
    sqlx::query(
        "update webhook_endpoints set failing_since = now() - interval '25 hours' where id = $1",
    )
    .bind(failing_id)
    .execute(&app.db)
    .await
    .unwrap();
    // The next failed attempt disables it: a retry still due of the ten, or this test's
    // first (refused with 409 if a retry came first).
    let (status, _) = app
        .send_empty(
            Method::POST,
            user,
            &format!("/v1/webhooks/{failing_id}/test"),
        )
        .await;
    assert!(status == 202 || status == 409, "{status}");
    let staged = if status == 202 { 11 } else { 10 };

    let told = all_deliveries(&app, user, watcher_id, 2, "succeeded").await;
    let mut disabled: Vec<(String, String)> = told
        .iter()
        .map(|d| {
            assert_eq!(d["eventType"], "webhook.disabled");
            (
                d["data"]["webhookId"].as_str().unwrap().to_owned(),
                d["data"]["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    disabled.sort();
    let mut expected = vec![gone_id.to_string(), failing_id.to_string()];
    expected.sort();
    assert_eq!(
        disabled
            .iter()
            .map(|(id, _)| id.clone())
            .collect::<Vec<_>>(),
        expected
    );
    let (_, webhook) = app
        .get_json(user, &format!("/v1/webhooks/{failing_id}"))
        .await;
    let reason = webhook["data"]["disabledReason"].as_str().unwrap();
    assert!(reason.starts_with("every delivery failed for"), "{reason}");

    // Disabled: a test is refused, and what was still pending ends without an attempt.
    let (status, refused) = app
        .send_empty(
            Method::POST,
            user,
            &format!("/v1/webhooks/{failing_id}/test"),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(refused["error"]["code"], "WEBHOOK_DISABLED");
    let ended = all_deliveries(&app, user, failing_id, staged, "failed").await;
    let before = failing.requests().len();
    let tried: usize = ended
        .iter()
        .map(|d| d["attempts"].as_array().unwrap().len())
        .sum();
    assert_eq!(
        tried, before,
        "every request the receiver got is an attempt"
    );

    a_redelivery_keeps_the_delivery_s_id(
        &app,
        user,
        failing_id,
        &failing,
        ended[0]["id"].as_str().unwrap(),
    )
    .await;
}

/// A real publish and a dry run of the calendar's, ending each way an event tells of:
/// `published`, `failed`, `unconfirmed`.
async fn publishes_end_each_way(app: &TestApp, user: Uuid, calendar: Uuid) {
    for status in ["published", "failed", "unconfirmed"] {
        for dry_run in [false, true] {
            sqlx::query(
                "insert into publish_intents (id, user_id, calendar_id, entry_id, channel, mode,
                     dry_run, timing, status)
                 values ($1, $2, $3, $4, 'tiktok', 'publish', $5, 'now', 'publishing')",
            )
            .bind(Uuid::now_v7())
            .bind(user)
            .bind(calendar)
            .bind(Uuid::now_v7())
            .bind(dry_run)
            .execute(&app.db)
            .await
            .unwrap();
            sqlx::query(
                "update publish_intents set status = $2
                 where user_id = $1 and status = 'publishing' and dry_run = $3",
            )
            .bind(user)
            .bind(status)
            .bind(dry_run)
            .execute(&app.db)
            .await
            .unwrap();
        }
    }
}

/// Every change that causes an event stages it, once: a calendar run (its job and its run),
/// an organic week, publishes that published, failed or could not be confirmed (a dry run
/// none), a channel needing reconnection, and a synthesis reaching each of two recipients
/// (marked sent twice: one event each).
#[tokio::test]
async fn each_change_stages_its_event_once() {
    let app = app().await;
    let user = Uuid::now_v7();
    let receiver = Receiver::start(200).await;
    let all = [
        "job.succeeded",
        "job.failed",
        "calendar.run.finished",
        "organic.week.finished",
        "publish.intent.published",
        "publish.intent.failed",
        "publish.intent.unconfirmed",
        "channel.needs_reauth",
        "channel.expiring",
        "synthesis.delivered",
        "webhook.disabled",
    ];
    let (id, _) = endpoint(&app, user, &receiver.url, &all).await;

    let frames = app
        .calendar_stream(user, &crate::calendars::request(2, "tea"))
        .await;
    let calendar: Uuid = crate::calendars::summary(&frames)["data"]["calendarId"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let run = |sql: &'static str| {
        let db = app.db.clone();
        async move { sqlx::query(sql).bind(user).execute(&db).await.unwrap() }
    };
    run(
        "insert into brand_profiles (user_id, id, name, timezone) values ($1, 'tea', 'Tea', 'UTC')",
    )
    .await;
    run(
        "insert into organic_runs (id, user_id, brand_id, week_start, job_id, status, request)
         values (gen_random_uuid(), $1, 'tea', '2027-03-01', gen_random_uuid(), 'running', '{}')",
    )
    .await;
    run("update organic_runs set status = 'succeeded', finished_at = now() where user_id = $1")
        .await;
    publishes_end_each_way(&app, user, calendar).await;
    run(
        "insert into platform_accounts (id, user_id, platform, account_id, status)
         values (gen_random_uuid(), $1, 'tiktok', 'acct', 'connected')",
    )
    .await;
    run("update platform_accounts set status = 'needs_reauth', status_reason = 'revoked' where user_id = $1")
        .await;
    run("insert into themes (id, user_id, name) values (gen_random_uuid(), $1, 'News')").await;
    run(
        "insert into syntheses (id, user_id, theme_id, job_id, status, origin)
         select gen_random_uuid(), $1, id, gen_random_uuid(), 'succeeded', 'manual'
         from themes where user_id = $1",
    )
    .await;
    run(
        "insert into email_deliveries (id, user_id, synthesis_id, theme_id, recipient, message_id)
         select gen_random_uuid(), $1, s.id, s.theme_id, r, '<m>'
         from syntheses s, unnest(array['a@example.com', 'b@example.com']) r where s.user_id = $1",
    )
    .await;
    for _ in 0..2 {
        run("update email_deliveries set status = 'sent', sent_at = now() where user_id = $1")
            .await;
    }

    // The calendar's job and run, the organic run, three publishes, the channel, two
    // recipients.
    let items = all_deliveries(&app, user, id, 9, "succeeded").await;
    let mut types: Vec<String> = items
        .iter()
        .map(|d| d["eventType"].as_str().unwrap().to_owned())
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "calendar.run.finished",
            "channel.needs_reauth",
            "job.succeeded",
            "organic.week.finished",
            "publish.intent.failed",
            "publish.intent.published",
            "publish.intent.unconfirmed",
            "synthesis.delivered",
            "synthesis.delivered",
        ]
    );
    let of = |kind: &str| items.iter().find(|d| d["eventType"] == kind).unwrap();
    assert_eq!(of("job.succeeded")["data"]["kind"], "calendar");
    assert_eq!(
        of("calendar.run.finished")["data"]["calendarId"],
        calendar.to_string()
    );
    assert_eq!(of("calendar.run.finished")["data"]["status"], "succeeded");
    assert_eq!(of("organic.week.finished")["data"]["brandId"], "tea");
    assert_eq!(of("channel.needs_reauth")["data"]["reason"], "revoked");
    let mut recipients: Vec<&str> = items
        .iter()
        .filter(|d| d["eventType"] == "synthesis.delivered")
        .map(|d| d["data"]["recipient"].as_str().unwrap())
        .collect();
    recipients.sort();
    assert_eq!(recipients, ["a@example.com", "b@example.com"]);
    assert_eq!(receiver.requests().len(), 9);
}
