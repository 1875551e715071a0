//! Edits racing the publishing of approved entries: whichever commits first, what goes out
//! is what was approved (`sentHash` = `approvedHash`), or nothing goes.

use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;

use super::{Team, editors_approve};
use crate::helpers::eventually;

/// Rounds of an approved entry due while its words are being edited at the same time.
const ROUNDS: usize = 20;

/// An approved entry of round `round`, scheduled on the channel: (entry, intent, its time).
async fn approved_and_scheduled(team: &Team, round: usize) -> (Uuid, String, String) {
    let at = format!("2030-01-{:02}T{:02}:00:00Z", 7 + round / 10, 8 + round % 10);
    let entry = team.entry(&format!("Approved words {round}"), &at).await;
    assert_eq!(team.ask("writer", entry).await.0, 200);
    assert_eq!(team.approve("second", entry).await["status"], "approved");
    let (status, answer) = team
        .publish(json!({ "entryIds": [entry], "dryRun": false, "when": "scheduled" }))
        .await;
    assert_eq!(status, 200, "{answer}");
    let intent = answer["data"]["intents"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (entry, intent, at)
}

/// Rewrites the entry's words.
async fn rewrite(team: &Team, entry: Uuid, round: usize) {
    let edited = team
        .edit(
            entry,
            json!({ "caption": format!("Unapproved words {round}") }),
        )
        .await;
    assert_eq!(edited["review"]["status"], "not_requested");
}

/// The intent once it is published or failed.
async fn settled(team: &Team, intent: &str) -> Value {
    eventually(Duration::from_secs(30), "the intent to settle", || async {
        let seen = team.s.intent(intent).await;
        matches!(seen["status"].as_str(), Some("published" | "failed")).then_some(seen)
    })
    .await
}

#[tokio::test]
async fn edits_racing_the_dispatch_of_approved_entries_never_send_unapproved_words() {
    let team = Team::start(&[("writer", "editor"), ("second", "editor")]).await;
    team.policy(editors_approve()).await;

    // Edited before the dispatcher claims it: refused there, no platform asked.
    let (entry, intent, at) = approved_and_scheduled(&team, 0).await;
    rewrite(&team, entry, 0).await;
    assert_eq!(team.s.tick(&at).await.dispatched, 0);
    assert_eq!(
        settled(&team, &intent).await["error"]["code"],
        "REVIEW_EXPIRED"
    );
    assert_eq!(team.s.fake.all_calls().len(), 0);

    // Edited after the publish job read the approved words, before it marks them sent:
    // the mark refuses, nothing is published.
    let (entry, intent, at) = approved_and_scheduled(&team, 1).await;
    let mut held = team.s.fake.hold_next("/creator_info/query/");
    assert_eq!(team.s.tick(&at).await.dispatched, 1);
    held.reached().await;
    rewrite(&team, entry, 1).await;
    held.release();
    let refused = settled(&team, &intent).await;
    assert_eq!(refused["error"]["code"], "REVIEW_EXPIRED", "{refused}");
    assert_eq!(refused["sentHash"], Value::Null);
    assert_eq!(team.s.fake.publishing_calls(), 0);

    // Edited once the approved words were marked sent: they go out, the edit waits for a
    // new review.
    let (entry, intent, at) = approved_and_scheduled(&team, 2).await;
    let mut held = team.s.fake.hold_next("/post/publish/video/init/");
    assert_eq!(team.s.tick(&at).await.dispatched, 1);
    held.reached().await;
    rewrite(&team, entry, 2).await;
    held.release();
    let published = settled(&team, &intent).await;
    assert_eq!(published["status"], "published", "{published}");
    assert_eq!(published["sentHash"], published["approvedHash"]);

    // Then many times, the edit and the dispatch let loose together.
    let mut intents = vec![intent];
    for round in 3..ROUNDS {
        let (entry, intent, at) = approved_and_scheduled(&team, round).await;
        let (ticked, ()) = tokio::join!(team.s.tick(&at), rewrite(&team, entry, round));
        assert!(ticked.dispatched <= 1);
        intents.push(intent);
    }
    let mut published = 0;
    for intent in &intents {
        let settled = settled(&team, intent).await;
        if settled["status"] == "published" {
            published += 1;
            assert_eq!(settled["sentHash"], settled["approvedHash"], "{settled}");
        } else {
            assert_eq!(settled["error"]["code"], "REVIEW_EXPIRED", "{settled}");
            assert_eq!(settled["sentHash"], Value::Null, "{settled}");
        }
    }
    let mismatched: i64 = sqlx::query_scalar(
        "select count(*) from publish_intents
         where sent_hash is not null and sent_hash is distinct from approved_hash",
    )
    .fetch_one(&team.s.app.db)
    .await
    .unwrap();
    assert_eq!(mismatched, 0);
    // The platform received approved words only, once per published intent.
    let posts = team.s.fake.posts();
    assert_eq!(posts.len(), published, "{published} published");
    for post in &posts {
        let title = post.body["post_info"]["title"].as_str().unwrap();
        assert!(title.contains("Approved words"), "{title}");
        assert!(!title.contains("Unapproved"), "{title}");
    }
}
