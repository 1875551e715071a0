//! The account: `GET /v1/me`, `PATCH /v1/me {name, language, displayTimezone}`, and an
//! address no token's claim ever changes.

use serde_json::{Value, json};
use uuid::Uuid;

use super::{Outbox, app_with, ask, me_in, session_of};

#[tokio::test]
async fn a_profile_is_read_and_changed_field_by_field() {
    let outbox = Outbox::new();
    let app = app_with(&outbox, &[]).await;
    let user = Uuid::now_v7();
    let (status, me) = app.get_json(user, "/v1/me").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        me["data"],
        json!({ "id": user, "email": null, "name": null, "language": null, "displayTimezone": null })
    );
    let patch = async |body: Value| {
        app.send_json(reqwest::Method::PATCH, user, "/v1/me", &body)
            .await
    };
    let (status, me) = patch(
        json!({ "name": "  Ana Lima ", "language": "fr", "displayTimezone": "Europe/Paris" }),
    )
    .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["data"]["name"], "Ana Lima");
    assert_eq!(me["data"]["language"], "fr");
    assert_eq!(me["data"]["displayTimezone"], "Europe/Paris");
    // A field left out stays; null clears it.
    let (_, me) = patch(json!({ "name": null })).await;
    assert_eq!(me["data"]["name"], Value::Null);
    assert_eq!(me["data"]["language"], "fr");
    let (_, me) = app.get_json(user, "/v1/me").await;
    assert_eq!(me["data"]["displayTimezone"], "Europe/Paris");
    // Refusals: a zone that is not one, a language the app does not speak.
    let (status, refused) = patch(json!({ "displayTimezone": "Mars/Olympus" })).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["details"]["field"], "displayTimezone");
    let (status, refused) = patch(json!({ "language": "de" })).await;
    assert_eq!(status, 400, "{refused}");
    // The address is not the profile's to set (an unknown field is ignored, as everywhere).
    let (status, me) = patch(json!({ "email": "x@example.com" })).await;
    assert_eq!((status, &me["data"]["email"]), (200, &Value::Null), "{me}");
    // Someone else's account is not reachable: each sees their own.
    let (_, other) = app.get_json(Uuid::now_v7(), "/v1/me").await;
    assert_eq!(other["data"]["language"], Value::Null);
}

#[tokio::test]
async fn no_token_s_email_claim_ever_changes_the_account_s_address() {
    let outbox = Outbox::new();
    let app = app_with(&outbox, &[("SIGN_UP", "open")]).await;
    ask(&app, "ana@example.com").await;
    let link = outbox.link("ana@example.com", 1).await;
    let used = app
        .client
        .post(app.url(&link))
        .header("x-requested-with", "XMLHttpRequest")
        .send()
        .await
        .unwrap();
    let session = session_of(&used).unwrap();
    let (_, me) = me_in(&app, &session).await;
    let user: Uuid = me["id"].as_str().unwrap().parse().unwrap();

    // Her tokens say another address: as a bearer, and pasted into the app's sign-in.
    let token = app
        .keys
        .mint_with_email(user, Some("mallory@evil.example"), 3600);
    for path in ["/v1/me", "/v1/usage", "/v1/calendars"] {
        let answer = app
            .client
            .get(app.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{path}");
    }
    let pasted = app
        .client
        .post(app.url("/app/session"))
        .header("x-requested-with", "XMLHttpRequest")
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(pasted.status(), 204);
    let patched = app
        .client
        .patch(app.url("/v1/me"))
        .bearer_auth(&token)
        .json(&json!({ "name": "Ana" }))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);

    let (_, me) = me_in(&app, &session).await;
    assert_eq!(me["email"], "ana@example.com", "{me}");
    let stored: Vec<Option<String>> = sqlx::query_scalar("select email from users")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(stored, [Some("ana@example.com".to_owned())]);
    // Notices go to the proven address, not the claim's.
    let notices = almanac_shared::store::contacts::email_of(&app.db, user)
        .await
        .unwrap();
    assert_eq!(notices.as_deref(), Some("ana@example.com"));
}
