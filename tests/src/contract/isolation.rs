//! Users cannot see each other's data, through the API or through a raw query under
//! row-level security.

use almanac_shared::workspaces::Actor;
use reqwest::Method;
use serde_json::json;
use sqlx::Row;
use uuid::Uuid;

use crate::helpers::spawn_app;

#[tokio::test]
async fn another_users_data_is_404_and_invisible_to_sql() {
    let app = spawn_app().await;
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let generation = app.submit(alice).await;
    app.wait_finished(alice, generation).await;
    let suggestions = app.suggestions(alice, generation).await;
    let suggestion = suggestions[0]["id"].as_str().unwrap();
    let (status, accepted) = app
        .send_json(
            Method::PATCH,
            alice,
            &format!("/api/ai/suggestions/{suggestion}"),
            &json!({ "card_type": "basic", "status": "accepted" }),
        )
        .await;
    assert_eq!(status, 200, "{accepted}");
    let card = accepted["card_id"].as_str().unwrap();
    let job: Uuid = sqlx::query_scalar("select job_id from ai_generations where id = $1")
        .bind(generation)
        .fetch_one(&app.db)
        .await
        .unwrap();

    for path in [
        format!("/api/ai/generations/{generation}"),
        format!("/api/ai/generations/{generation}/suggestions"),
        format!("/v1/jobs/{job}"),
    ] {
        let (status, body) = app.get_json(bob, &path).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["error"]["code"], "NOT_FOUND");
    }
    let (_, list) = app.get_json(bob, "/api/ai/generations").await;
    assert_eq!(list["items"], json!([]));
    let (_, cards) = app.get_json(bob, "/api/cards").await;
    assert_eq!(cards["items"], json!([]));
    for (method, path, body) in [
        (
            Method::PATCH,
            format!(
                "/api/ai/suggestions/{}",
                suggestions[1]["id"].as_str().unwrap()
            ),
            json!({ "card_type": "basic", "status": "accepted" }),
        ),
        (
            Method::PATCH,
            format!("/api/cards/{card}"),
            json!({ "card_type": "basic", "front": "mine now" }),
        ),
        (Method::DELETE, format!("/api/cards/{card}"), json!({})),
    ] {
        let (status, _) = app.send_json(method, bob, &path, &body).await;
        assert_eq!(status, 404, "{path}");
    }
    let export = app
        .client
        .get(app.url("/api/cards/export?format=csv"))
        .bearer_auth(app.token(bob))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!export.contains(suggestions[0]["back"].as_str().unwrap()));
    // Alice's data is untouched by Bob's attempts.
    assert_eq!(
        app.suggestions(alice, generation).await[1]["status"],
        "proposed"
    );
    let (_, alice_cards) = app.get_json(alice, "/api/cards").await;
    assert_eq!(alice_cards["items"].as_array().unwrap().len(), 1);

    // A query that forgets its `where user_id = ...` still sees only the caller's rows.
    let raw = |user: Uuid| {
        let db = app.db.clone();
        async move {
            let mut tx = almanac_shared::store::user_tx(&db, Actor::personal(user))
                .await
                .unwrap();
            let rows = sqlx::query("select * from ai_suggestions")
                .fetch_all(&mut *tx)
                .await
                .unwrap();
            let role: String = sqlx::query("select current_user")
                .fetch_one(&mut *tx)
                .await
                .unwrap()
                .get(0);
            (rows.len(), role)
        }
    };
    let (bob_rows, role) = raw(bob).await;
    assert_eq!(role, "almanac_app");
    assert_eq!(bob_rows, 0);
    assert_eq!(raw(alice).await.0, suggestions.len());
    // And writing a row into someone else's workspace is refused.
    let mut tx = almanac_shared::store::user_tx(&app.db, Actor::personal(bob))
        .await
        .unwrap();
    let forged = sqlx::query(
        "insert into cards (id, user_id, workspace_id, front, back) values ($1, $2, $2, 'f', 'b')",
    )
    .bind(Uuid::now_v7())
    .bind(alice)
    .execute(&mut *tx)
    .await;
    assert!(
        forged.is_err(),
        "RLS refuses rows in another user's workspace"
    );
}
