//! Reviewing suggestions into cards, manual cards, and the Anki export.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::spawn_app;

#[tokio::test]
async fn accepting_creates_one_card_and_rejecting_does_not() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let generation = app.submit(user).await;
    app.wait_finished(user, generation).await;
    let suggestions = app.suggestions(user, generation).await;
    let (first, second) = (
        suggestions[0]["id"].as_str().unwrap(),
        suggestions[1]["id"].as_str().unwrap(),
    );

    let edit = json!({ "card_type": "basic", "status": "accepted", "front": "  Edited front?  ",
        "back": "Edited back." });
    let (status, accepted) = app
        .send_json(
            Method::PATCH,
            user,
            &format!("/api/ai/suggestions/{first}"),
            &edit,
        )
        .await;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["front"], "Edited front?");
    let card_id = accepted["card_id"].clone();
    assert!(card_id.is_string());
    // Accepting again is harmless: same card, no second one.
    let (status, again) = app
        .send_json(
            Method::PATCH,
            user,
            &format!("/api/ai/suggestions/{first}"),
            &json!({ "card_type": "basic", "status": "accepted" }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(again["card_id"], card_id);
    let (status, rejected) = app
        .send_json(
            Method::PATCH,
            user,
            &format!("/api/ai/suggestions/{second}"),
            &json!({ "card_type": "basic", "status": "rejected" }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(rejected["card_id"], Value::Null);
    let (status, conflict) = app
        .send_json(
            Method::PATCH,
            user,
            &format!("/api/ai/suggestions/{first}"),
            &json!({ "card_type": "basic", "status": "rejected" }),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(conflict["error"]["code"], "SUGGESTION_ALREADY_ACCEPTED");
    let (status, _) = app
        .send_json(
            Method::PATCH,
            user,
            &format!("/api/ai/suggestions/{first}"),
            &json!({ "card_type": "basic", "status": "maybe" }),
        )
        .await;
    assert_eq!(status, 400);

    let (_, cards) = app.get_json(user, "/api/cards").await;
    let cards = cards["items"].as_array().unwrap().clone();
    assert_eq!(cards.len(), 1);
    assert_eq!(cards[0]["id"], card_id);
    assert_eq!(cards[0]["front"], "Edited front?");
    assert_eq!(cards[0]["source"], "ai");
    let generation = app.generation(user, generation).await;
    assert_eq!(generation["suggestions"]["accepted"], 1);
    assert_eq!(generation["suggestions"]["rejected"], 1);
}

#[tokio::test]
async fn manual_cards_can_be_edited_deleted_and_exported_for_anki() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let (status, card) = app
        .send_json(
            Method::POST,
            user,
            "/api/cards",
            &json!({ "front": "Capital of France, \"officially\"?", "back": "Paris\nsince 508", "tags": ["geo", "europe"] }),
        )
        .await;
    assert_eq!(status, 201, "{card}");
    let id = card["id"].as_str().unwrap();
    let (status, updated) = app
        .send_json(
            Method::PATCH,
            user,
            &format!("/api/cards/{id}"),
            &json!({ "card_type": "basic", "back": "Paris" }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(updated["back"], "Paris");
    assert_eq!(updated["front"], card["front"]);
    let (status, _) = app
        .send_json(
            Method::POST,
            user,
            "/api/cards",
            &json!({ "front": "", "back": "x" }),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = app
        .send_json(
            Method::POST,
            user,
            "/api/cards",
            &json!({ "front": "f", "back": "b", "tags": ["two words"] }),
        )
        .await;
    assert_eq!(status, 400);
    let (_, second) = app
        .send_json(
            Method::POST,
            user,
            "/api/cards",
            &json!({ "front": "Doomed", "back": "card" }),
        )
        .await;

    let response = app
        .client
        .get(app.url("/api/cards/export?format=csv"))
        .bearer_auth(app.token(user))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = response.text().await.unwrap();
    assert!(csv.starts_with(
        "#separator:comma\n#html:false\n#guid column:1\n#notetype column:2\n#columns:GUID,Notetype,Front,Back,Tags\n#tags column:5\n"
    ));
    assert!(
        csv.contains(",Basic,\"Capital of France, \"\"officially\"\"?\",Paris,geo europe\n"),
        "{csv}"
    );
    let doomed = second["id"].as_str().unwrap().replace('-', "");
    assert!(
        csv.contains(&format!("almanac-{doomed},Basic,Doomed,card,\n")),
        "{csv}"
    );

    let second_id = second["id"].as_str().unwrap();
    assert_eq!(
        app.delete(user, &format!("/api/cards/{second_id}")).await,
        204
    );
    let (status, _) = app
        .send_json(
            Method::DELETE,
            user,
            &format!("/api/cards/{second_id}"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 404);
    let (_, cards) = app.get_json(user, "/api/cards").await;
    assert_eq!(cards["items"].as_array().unwrap().len(), 1);
    let (status, _) = app.get_json(user, "/api/cards/export?format=xml").await;
    assert_eq!(status, 400);
}

/// An edit or a review names the card's type (issue 73): the schema of each type is then
/// exact (a cloze edit's text must hide a part), and a type other than the stored one is
/// 409 `CARD_TYPE_MISMATCH`, nothing changed; a body without `card_type` is 400.
#[tokio::test]
async fn an_edit_naming_another_card_type_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let (status, card) = app
        .send_json(
            Method::POST,
            user,
            "/api/cards",
            &json!({ "front": "Capital of Peru?", "back": "Lima" }),
        )
        .await;
    assert_eq!(status, 201, "{card}");
    let path = format!("/api/cards/{}", card["id"].as_str().unwrap());
    // Valid for a cloze card, and this one is basic.
    let (status, refused) = app
        .send_json(
            Method::PATCH,
            user,
            &path,
            &json!({ "card_type": "cloze", "front": "The capital of Peru is {{c1::Lima}}" }),
        )
        .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "CARD_TYPE_MISMATCH");
    assert_eq!(refused["error"]["details"]["cardType"], "basic");
    let (status, missing) = app
        .send_json(Method::PATCH, user, &path, &json!({ "back": "Lima!" }))
        .await;
    assert_eq!(status, 400, "{missing}");
    let (_, cards) = app.get_json(user, "/api/cards").await;
    assert_eq!(cards["items"][0]["front"], "Capital of Peru?");
    assert_eq!(cards["items"][0]["back"], "Lima");

    let generation = app.submit(user).await;
    app.wait_finished(user, generation).await;
    let suggestions = app.suggestions(user, generation).await;
    let first = suggestions[0]["id"].as_str().unwrap();
    assert_eq!(suggestions[0]["card_type"], "basic");
    let (status, refused) = app
        .send_json(
            Method::PATCH,
            user,
            &format!("/api/ai/suggestions/{first}"),
            &json!({ "card_type": "cloze", "status": "accepted" }),
        )
        .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "CARD_TYPE_MISMATCH");
    let again = app.suggestions(user, generation).await;
    assert_eq!(
        again[0]["status"], "proposed",
        "the suggestion is as it was"
    );
    let (_, cards) = app.get_json(user, "/api/cards").await;
    assert_eq!(
        cards["items"].as_array().unwrap().len(),
        1,
        "no card was made"
    );
}
