//! The publishing gate: a scheduled or queued publish goes out only when its entry is
//! approved at the content it sends; at its time an unapproved one fails `REVIEW_EXPIRED`
//! without a single platform call, and an approval after that sends nothing by itself.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Team, editors_approve, one_post_saying};

/// The intents of a publish answer, in order.
fn intent_ids(answer: &Value) -> Vec<String> {
    answer["data"]["intents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

/// `writer` asks for the entry's review and `second` approves it.
async fn approved(team: &Team, entry: Uuid) {
    assert_eq!(team.ask("writer", entry).await.0, 200);
    assert_eq!(team.approve("second", entry).await["status"], "approved");
}

#[tokio::test]
async fn an_entry_unapproved_at_its_time_expires_with_no_platform_call() {
    let team = Team::start(&[("writer", "editor"), ("second", "editor")]).await;
    let unapproved = team.entry("Not looked at", "2030-01-07T09:00:00Z").await;
    let approved_later = team.entry("Looked at", "2030-01-07T11:00:00Z").await;
    let held_late = team.entry("Held while off", "2030-01-06T09:00:00Z").await;
    // Scheduled while the channel asked for no review.
    let (status, answer) = team
        .publish(json!({ "entryIds": [held_late, unapproved, approved_later],
            "dryRun": false, "when": "scheduled" }))
        .await;
    assert_eq!(status, 200, "{answer}");
    let mut ids = intent_ids(&answer);
    assert_eq!(ids.len(), 3, "{answer}");
    let late = ids.remove(0);
    // One fell due while publishing was off (as the dispatcher marks it), and is now later
    // than it may go out: unapproved, it is the review that refuses it, first.
    sqlx::query("update publish_intents set held_since = publish_at where id = $1::uuid")
        .bind(&late)
        .execute(&team.s.app.db)
        .await
        .unwrap();

    // Turning review on lists both as now needing approval; nothing expires unannounced.
    let policy = team.policy(editors_approve()).await;
    let held: Vec<&str> = policy["needsApproval"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["intentId"].as_str().unwrap())
        .collect();
    assert_eq!(
        held,
        [late.as_str(), ids[0].as_str(), ids[1].as_str()],
        "{policy}"
    );
    assert_eq!(
        policy["needsApproval"][1]["entryId"],
        unapproved.to_string()
    );
    approved(&team, approved_later).await;

    // At its time the unapproved one ends failed, sent nowhere, its review expired.
    assert_eq!(team.s.tick("2030-01-07T09:00:00Z").await.dispatched, 0);
    let refused = team.s.intent(&late).await;
    assert_eq!(refused["error"]["code"], "REVIEW_EXPIRED", "{refused}");
    let expired = team.s.intent(&ids[0]).await;
    assert_eq!(expired["status"], "failed");
    assert_eq!(expired["error"]["code"], "REVIEW_EXPIRED");
    assert_eq!(expired["sentHash"], Value::Null);
    assert_eq!(team.read(unapproved).await["review"]["status"], "expired");
    assert_eq!(team.s.fake.all_calls().len(), 0);

    // The approved one goes, and its receipt says it sent what was approved.
    assert_eq!(team.s.tick("2030-01-07T11:00:00Z").await.dispatched, 1);
    let published = team.s.settled(&ids[1], "published").await;
    let approved_hash = published["approvedHash"].as_str().unwrap();
    assert_eq!(approved_hash.len(), 64, "{published}");
    assert_eq!(published["sentHash"], approved_hash);
    one_post_saying(&team, "Looked at");

    // Approved after its time, the expired one sends nothing by itself.
    approved(&team, unapproved).await;
    assert_eq!(team.s.tick("2030-01-07T12:00:00Z").await.dispatched, 0);
    assert_eq!(team.s.fake.posts().len(), 1);
    // Publishing it now, once approved, does.
    let (status, answer) = team
        .publish(json!({ "entryIds": [unapproved], "dryRun": false }))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["refused"], json!([]), "{answer}");
    let now = intent_ids(&answer);
    team.s.settled(&now[0], "published").await;
    assert_eq!(team.s.fake.posts().len(), 2);
}

#[tokio::test]
async fn the_posting_queue_sends_only_the_entries_approved() {
    let team = Team::start(&[("writer", "editor"), ("second", "editor")]).await;
    let path = format!("/v1/channels/{}/slots", team.channel);
    let slots = json!({ "timezone": "UTC", "slots": [
        { "weekday": "mon", "time": "09:00" }, { "weekday": "tue", "time": "09:00" },
        { "weekday": "wed", "time": "09:00" },
    ] });
    let (status, set) = team.call("owner", Method::PUT, &path, Some(&slots)).await;
    assert_eq!(status, 200, "{set}");
    team.policy(editors_approve()).await;
    let first = team.entry("Queued, approved", "2030-01-07T09:00:00Z").await;
    let second = team
        .entry("Queued, never approved", "2030-01-07T09:00:00Z")
        .await;
    approved(&team, first).await;
    let body = json!({ "calendarId": team.calendar, "channels": [team.channel],
        "entryIds": [first, second] });
    let (status, queued) = team
        .call("owner", Method::POST, "/v1/queue", Some(&body))
        .await;
    assert_eq!(status, 200, "{queued}");
    let placed = queued["data"]["queued"].as_array().unwrap();
    assert_eq!(placed.len(), 2, "{queued}");
    // Queued on the channel: the entries name it now.
    assert_eq!(
        team.read(second).await["channelId"],
        team.channel.to_string()
    );
    let intents: Vec<(Uuid, String)> = sqlx::query_as(
        "select entry_id, id::text from publish_intents where queued order by publish_at",
    )
    .fetch_all(&team.s.app.db)
    .await
    .unwrap();
    for slot in placed {
        let at = slot["publishAt"].as_str().unwrap();
        team.s.tick(at).await;
    }
    let outcome = |entry: Uuid| intents.iter().find(|(e, _)| *e == entry).unwrap().1.clone();
    team.s.settled(&outcome(first), "published").await;
    let refused = team.s.intent(&outcome(second)).await;
    assert_eq!(refused["status"], "failed");
    assert_eq!(refused["error"]["code"], "REVIEW_EXPIRED");
    // One post went out: the approved one.
    one_post_saying(&team, "Queued, approved");
}

#[tokio::test]
async fn evergreen_repeats_only_approved_entries_and_never_rewrites_on_a_reviewed_channel() {
    let team = Team::start(&[("writer", "editor"), ("second", "editor")]).await;
    let path = format!("/v1/channels/{}/slots", team.channel);
    let daily: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|day| json!({ "weekday": day, "time": "09:00" }))
        .collect();
    let slots = json!({ "timezone": "UTC", "slots": daily });
    assert_eq!(
        team.call("owner", Method::PUT, &path, Some(&slots)).await.0,
        200
    );
    team.policy(editors_approve()).await;
    let unapproved = team
        .entry("Evergreen, never approved", "2030-01-07T09:00:00Z")
        .await;
    let approved_one = team
        .entry("Evergreen, approved", "2030-01-07T09:00:00Z")
        .await;
    approved(&team, approved_one).await;
    // Rewritten repeats would carry words no one approved.
    let rewritten = json!({ "name": "Tea", "channelIds": [team.channel],
        "entryIds": [unapproved, approved_one], "minGapDays": 1, "variation": "ai" });
    let (status, refused) = team
        .call("owner", Method::POST, "/v1/evergreen", Some(&rewritten))
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "REVIEW_INCOMPATIBLE");
    let mut kept = rewritten.clone();
    kept["variation"] = json!("none");
    let (status, made) = team
        .call("owner", Method::POST, "/v1/evergreen", Some(&kept))
        .await;
    assert_eq!(status, 201, "{made}");

    // Each day's pass repeats the approved entry only; the unapproved one waits.
    let start: chrono::DateTime<chrono::Utc> = "2030-03-01T08:00:00Z".parse().unwrap();
    let context = team.s.app.worker_context(0);
    let pass = |n: i64| {
        let clock = almanac_shared::clock::ManualClock::new(start + chrono::Duration::days(n));
        let context = &context;
        async move {
            almanac_worker::evergreen::tick(context, &clock)
                .await
                .unwrap()
        }
    };
    let first = pass(0).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].entry, approved_one);
    team.s.tick(&first[0].publish_at.to_rfc3339()).await;
    team.s
        .settled(&first[0].intent.to_string(), "published")
        .await;
    // Queued again, then its words change before its slot: it does not go.
    let second = pass(1).await;
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].entry, approved_one);
    team.edit(approved_one, json!({ "caption": "Evergreen, changed" }))
        .await;
    assert_eq!(
        team.s
            .tick(&second[0].publish_at.to_rfc3339())
            .await
            .dispatched,
        0
    );
    let expired = team.s.intent(&second[0].intent.to_string()).await;
    assert_eq!(expired["error"]["code"], "REVIEW_EXPIRED");
    // Nothing approved is left to repeat.
    assert!(pass(2).await.is_empty());
    one_post_saying(&team, "Evergreen, approved");
}
