//! Comments, notifications and the review's webhook events (`docs/review.md`, "Comments",
//! "Notifications"): a mention tells the member mentioned (a non-member: nobody), a review
//! request tells the step's approvers, a decision and an expiry tell who asked; each is
//! one webhook event, delivered once and signed; each person gets at most one email per
//! `NOTIFY_BATCH_MINUTES`, listing what came since the last.

use std::collections::HashMap;

use almanac_shared::clock::ManualClock;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Team, editors_approve};
use crate::helpers::{
    eventually,
    outbox::Outbox,
    webhooks::{Receiver, WAIT},
};

const EVENTS: [&str; 5] = [
    "calendar.entry.review_requested",
    "calendar.entry.approved",
    "calendar.entry.changes_requested",
    "calendar.entry.expired",
    "calendar.entry.commented",
];

/// Each member's notifications, newest first: `(kind, title)`.
async fn notified(team: &Team, name: &str) -> Vec<(String, String)> {
    let (status, page) = team
        .call(name, Method::GET, "/v1/notifications", None)
        .await;
    assert_eq!(status, 200, "{page}");
    page["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["kind"].as_str().unwrap().to_owned(),
                n["title"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Titles an entry `title` (the owner's edit).
async fn titled(team: &Team, caption: &str, title: &str, at: &str) -> Uuid {
    let entry = team.entry(caption, at).await;
    sqlx::query("update calendar_entries set title = $2 where id = $1")
        .bind(entry)
        .bind(title)
        .execute(&team.s.app.db)
        .await
        .unwrap();
    entry
}

#[tokio::test]
async fn mentions_requests_decisions_and_expiries_tell_the_people_concerned_once() {
    let outbox = Outbox::new();
    let mut env = outbox.env();
    env.extend([
        ("FETCH_ALLOW_PRIVATE_NETWORKS", "true".to_owned()),
        ("WEBHOOK_RETRY_SCALE", "0.0001".to_owned()),
        ("WEBHOOK_TIMEOUT_MS", "1000".to_owned()),
    ]);
    let team = Team::start_with(
        &[("writer", "editor"), ("eve", "editor"), ("legal", "viewer")],
        env,
    )
    .await;
    for name in ["owner", "writer", "eve", "legal"] {
        sqlx::query("insert into user_contacts (user_id, email) values ($1, $2)")
            .bind(team.id(name))
            .bind(format!("{name}@agency.example"))
            .execute(&team.s.app.db)
            .await
            .unwrap();
    }
    let receiver = Receiver::start(200).await;
    let hook = json!({ "url": receiver.url, "events": EVENTS });
    let (status, endpoint) = team
        .call("owner", Method::POST, "/v1/webhooks", Some(&hook))
        .await;
    assert_eq!(status, 201, "{endpoint}");
    let secret = endpoint["data"]["secret"].as_str().unwrap().to_owned();

    // Scheduled before review was asked on the channel: it expires unapproved.
    let expiring = titled(&team, "Too late", "Expiring", "2030-01-07T09:00:00Z").await;
    let (status, answer) = team
        .publish(json!({ "entryIds": [expiring], "dryRun": false, "when": "scheduled" }))
        .await;
    assert_eq!(status, 200, "{answer}");
    team.policy(editors_approve()).await;
    let entry = titled(&team, "Matcha, whisked", "Matcha", "2030-01-08T09:00:00Z").await;

    // The writer asks: the step's approvers (editors but the writer) are told.
    assert_eq!(team.ask("writer", entry).await.0, 200);
    assert_eq!(
        notified(&team, "eve").await,
        [("review_requested".into(), "Matcha".into())]
    );
    assert!(notified(&team, "writer").await.is_empty());
    assert!(
        notified(&team, "owner").await.is_empty(),
        "the owner approves nothing here"
    );

    mentions_tell_members_only(&team, entry).await;
    // Eve asks for changes: the writer is told; asked again and approved: told again.
    let version = team.read(entry).await["review"]["contentVersion"]
        .as_i64()
        .unwrap();
    let (status, _) = team.decide("eve", entry, "request_changes", version).await;
    assert_eq!(status, 200);
    assert_eq!(team.ask("writer", entry).await.0, 200);
    assert_eq!(team.approve("eve", entry).await["status"], "approved");
    let kinds: Vec<String> = notified(&team, "writer")
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(kinds, ["approved", "changes_requested", "mention"]);

    // At its time the unapproved publish expires: its entry's maker (the owner) is told.
    team.s.tick("2030-01-07T09:00:00Z").await;
    assert_eq!(
        notified(&team, "owner").await,
        [("expired".into(), "Expiring".into())]
    );

    each_event_once_signed(&team, &receiver, &secret, entry).await;
    batched_emails(&team, &outbox, &receiver).await;
}

/// Eve mentions Legal and someone outside the workspace: Legal is told, nobody else; an
/// edit that mentions the writer too tells the writer, and Legal not again.
async fn mentions_tell_members_only(team: &Team, entry: Uuid) {
    let outsider = Uuid::now_v7();
    let comments = format!("/v1/calendars/{}/entries/{entry}/comments", team.calendar);
    let body =
        json!({ "text": "@Legal can we say whisked?", "mentions": [team.id("legal"), outsider] });
    let (status, comment) = team.call("eve", Method::POST, &comments, Some(&body)).await;
    assert_eq!(status, 201, "{comment}");
    assert_eq!(comment["data"]["mentions"], json!([team.id("legal")]));
    assert_eq!(
        notified(team, "legal").await,
        [("mention".into(), "Matcha".into())]
    );
    let outsiders: i64 =
        sqlx::query_scalar("select count(*) from notifications where user_id = $1")
            .bind(outsider)
            .fetch_one(&team.s.app.db)
            .await
            .unwrap();
    assert_eq!(outsiders, 0);
    // Edited to mention the writer too: the writer is told; Legal is not told again.
    let one = format!("{comments}/{}", comment["data"]["id"].as_str().unwrap());
    let edit = json!({ "text": "@Legal @Writer can we say whisked?",
        "mentions": [team.id("legal"), team.id("writer")] });
    let (status, refused) = team.call("legal", Method::PATCH, &one, Some(&edit)).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (403, Some("COMMENT_NOT_YOURS"))
    );
    let (status, edited) = team.call("eve", Method::PATCH, &one, Some(&edit)).await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(notified(team, "legal").await.len(), 1);
    assert_eq!(
        notified(team, "writer").await,
        [("mention".into(), "Matcha".into())]
    );
}

/// Each event once, signed, in the team's one endpoint.
async fn each_event_once_signed(team: &Team, receiver: &Receiver, secret: &str, entry: Uuid) {
    let expected: HashMap<&str, usize> = HashMap::from([
        ("calendar.entry.review_requested", 2),
        ("calendar.entry.commented", 1),
        ("calendar.entry.changes_requested", 1),
        ("calendar.entry.approved", 1),
        ("calendar.entry.expired", 1),
    ]);
    let total: usize = expected.values().sum();
    let delivered = eventually(WAIT, "every review event delivered", || async {
        let delivered = receiver.delivered();
        (delivered.len() >= total).then_some(delivered)
    })
    .await;
    assert_eq!(delivered.len(), total, "{delivered:?}");
    let mut by_type: HashMap<String, usize> = HashMap::new();
    for bodies in delivered.values() {
        assert_eq!(bodies.len(), 1, "each delivery once: {bodies:?}");
        *by_type
            .entry(bodies[0]["type"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let expected: HashMap<String, usize> = expected
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    assert_eq!(by_type, expected);
    let approved = delivered
        .values()
        .map(|b| &b[0])
        .find(|b| b["type"] == "calendar.entry.approved")
        .unwrap();
    assert_eq!(approved["data"]["entryId"], entry.to_string());
    assert_eq!(approved["data"]["by"]["userId"], team.id("eve").to_string());
    let requests = receiver.requests();
    assert_eq!(
        crate::webhooks::deliveries::verified_by_the_reference_library(secret, &requests),
        vec![true; requests.len()]
    );
}

/// One email per person per window, listing what came since the last.
async fn batched_emails(team: &Team, outbox: &Outbox, receiver: &Receiver) {
    let ctx = team.s.app.worker_context(0);
    let now = chrono::Utc::now();
    let clock = ManualClock::new(now);
    almanac_worker::notifications::mail(&ctx, &clock)
        .await
        .unwrap();
    let writer = "writer@agency.example";
    let emails = outbox.to(writer);
    assert_eq!(emails.len(), 1, "three notifications, one email");
    let email = emails[0].replace("=\r\n", "").replace("=\n", "");
    assert!(email.contains("3 things need your attention"), "{email}");
    assert!(email.contains("List-Unsubscribe"), "{email}");
    assert_eq!(outbox.to("eve@agency.example").len(), 1);
    assert_eq!(outbox.to("legal@agency.example").len(), 1);
    assert_eq!(outbox.to("owner@agency.example").len(), 1);
    // Legal stops the emails with one click (RFC 8058): told in the app only from now on.
    let legal = outbox.to("legal@agency.example").remove(0);
    let token: String = legal
        .split("/unsubscribe/")
        .nth(1)
        .expect("an unsubscribe link")
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let unsubscribe = team.s.app.url(&format!("/unsubscribe/{token}"));
    let page = team.s.app.client.get(&unsubscribe).send().await.unwrap();
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Stop notification emails?")
    );
    let done = team
        .s
        .app
        .client
        .post(&unsubscribe)
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    // Another one within the window waits; once the window has passed it goes, alone.
    let late = titled(team, "Another", "Oolong", "2030-01-09T09:00:00Z").await;
    let comments = format!("/v1/calendars/{}/entries/{late}/comments", team.calendar);
    let body = json!({ "text": "Writer, Legal, one more",
        "mentions": [team.id("writer"), team.id("legal")] });
    assert_eq!(
        team.call("eve", Method::POST, &comments, Some(&body))
            .await
            .0,
        201
    );
    clock.set(now + chrono::Duration::minutes(9));
    assert_eq!(
        almanac_worker::notifications::mail(&ctx, &clock)
            .await
            .unwrap(),
        0
    );
    assert_eq!(outbox.to(writer).len(), 1);
    clock.set(now + chrono::Duration::minutes(10));
    assert_eq!(
        almanac_worker::notifications::mail(&ctx, &clock)
            .await
            .unwrap(),
        1
    );
    let emails = outbox.to(writer);
    assert_eq!(emails.len(), 2);
    assert!(emails[1].contains("Oolong"), "{}", emails[1]);
    assert!(!emails[1].contains("Matcha"), "{}", emails[1]);
    assert_eq!(outbox.to("legal@agency.example").len(), 1, "unsubscribed");
    assert_eq!(
        notified(team, "legal").await.len(),
        2,
        "still told in the app"
    );
    // The comment's event too, once.
    eventually(WAIT, "the last comment's event", || async {
        (receiver.delivered().len() == 7).then_some(())
    })
    .await;
    team.s.app.jobs_settled().await;
    // Read in the app: the unread count drops.
    let (status, read) = team
        .call(
            "writer",
            Method::POST,
            "/v1/notifications/read",
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(
        (
            read["data"]["marked"].as_i64(),
            read["data"]["unread"].as_i64()
        ),
        (Some(4), Some(0))
    );
    let _: &Value = &read;
}
