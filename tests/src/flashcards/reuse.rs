//! No paid-for duplicate generations (issue 36): the same source text (prompt version and
//! model) from the same user within `GENERATION_DEDUP_DAYS` still answers seed 002's 202
//! with a new pending generation, which ends `succeeded` without an AI call, listing the
//! earlier generation's suggestions (the same ones), spending no rate-limit slot.
//! `"reuse": false` asks the AI again.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Behaviour, FakeAi, TestApp, source_text, spawn_app_with_ai_env};

/// Posts a generation: the status and the body.
async fn post(app: &TestApp, user: Uuid, body: Value) -> (u16, Value) {
    let response = app.post_generation(user, &body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn ids(suggestions: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = suggestions
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn the_same_source_twice_makes_one_ai_call_and_lists_the_same_suggestions() {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    // Two generations a window: the reuse takes none of them.
    let app = spawn_app_with_ai_env(&fake, &[("GENERATION_RATE_LIMIT", "2")]).await;
    let user = Uuid::now_v7();
    let text = source_text(1500);

    let (status, first) = post(&app, user, json!({ "source_text": text })).await;
    assert_eq!(status, 202, "{first}");
    assert_eq!(first["status"], "pending");
    assert!(first["reused_from"].is_null());
    let first_id: Uuid = first["generation_id"].as_str().unwrap().parse().unwrap();
    app.wait_finished(user, first_id).await;
    assert_eq!(fake.calls(), 1);
    let earlier = app.suggestions(user, first_id).await;
    assert_eq!(earlier.len(), 3);

    // One of them reviewed: a reuse lists the ones still proposed.
    let reviewed = earlier[0]["id"].as_str().unwrap();
    let (status, _) = app
        .send_json(
            reqwest::Method::PATCH,
            user,
            &format!("/api/ai/suggestions/{reviewed}"),
            &json!({ "card_type": "basic", "status": "rejected" }),
        )
        .await;
    assert_eq!(status, 200);

    let (status, second) = post(&app, user, json!({ "source_text": text })).await;
    assert_eq!(status, 202, "{second}");
    assert_eq!(second["status"], "pending", "seed 002's answer holds");
    assert_ne!(second["generation_id"], first["generation_id"]);
    assert_eq!(second["reused_from"], first["generation_id"]);
    let second_id: Uuid = second["generation_id"].as_str().unwrap().parse().unwrap();
    let finished = app.wait_finished(user, second_id).await;
    assert_eq!(finished["status"], "succeeded", "{finished}");
    assert_eq!(finished["reused_from"], first["generation_id"]);
    assert_eq!(finished["suggestions"]["total"], 2);
    assert_eq!(fake.calls(), 1, "no second AI call");
    assert_eq!(finished["tokens_input"], Value::Null, "nothing spent");
    let listed = app.suggestions(user, second_id).await;
    assert_eq!(
        ids(&listed),
        ids(&earlier[1..]),
        "the same suggestions, no copies"
    );
    let rows: i64 = sqlx::query_scalar("select count(*) from ai_suggestions")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, 3);

    // `reuse: false` asks the AI: the second slot of the window, then none is left.
    let (status, fresh) = post(&app, user, json!({ "source_text": text, "reuse": false })).await;
    assert_eq!(status, 202, "{fresh}");
    assert!(fresh["reused_from"].is_null());
    let fresh_id: Uuid = fresh["generation_id"].as_str().unwrap().parse().unwrap();
    app.wait_finished(user, fresh_id).await;
    assert_eq!(fake.calls(), 2);
    let (status, limited) = post(&app, user, json!({ "source_text": text, "reuse": false })).await;
    assert_eq!(status, 429, "{limited}");
    // A reuse still comes through the spent limit (of the latest generation that asked).
    let (status, again) = post(&app, user, json!({ "source_text": text })).await;
    assert_eq!(status, 202, "{again}");
    assert_eq!(again["reused_from"], fresh["generation_id"]);
    let again_id: Uuid = again["generation_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        app.wait_finished(user, again_id).await["status"],
        "succeeded"
    );
    assert_eq!(fake.calls(), 2);

    // Another user's same text is theirs to pay for.
    let other = Uuid::now_v7();
    let (status, theirs) = post(&app, other, json!({ "source_text": text })).await;
    assert_eq!(status, 202);
    assert!(theirs["reused_from"].is_null());
    let theirs_id: Uuid = theirs["generation_id"].as_str().unwrap().parse().unwrap();
    app.wait_finished(other, theirs_id).await;
    assert_eq!(fake.calls(), 3);
}
