//! How the app is served, without a browser: `/` and `/app` lead to the page, its files are
//! embedded with their types and a strict content policy, and the development sign-in
//! exists only with `DEV_LOGIN=true`.

use reqwest::redirect::Policy;
use serde_json::{Value, json};

use crate::helpers::{TestOptions, spawn_app, spawn_app_with};

#[tokio::test]
async fn the_page_and_its_modules_are_served_with_their_types_and_policy() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    for path in ["/", "/app"] {
        let response = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 303, "{path}");
        assert_eq!(response.headers()["location"], "/app/", "{path}");
    }
    for (path, kind) in [
        ("/app/", "text/html; charset=utf-8"),
        ("/app/js/calendar.js", "text/javascript; charset=utf-8"),
        ("/app/app.css", "text/css; charset=utf-8"),
    ] {
        let response = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], kind, "{path}");
        let policy = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(policy.starts_with("default-src 'self'"), "{policy}");
        // Revalidated by its hash.
        let etag = response.headers()["etag"].clone();
        let again = client
            .get(app.url(path))
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
    let missing = client.get(app.url("/app/nope.js")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    // Without DEV_LOGIN there is no development sign-in.
    let config: Value = client
        .get(app.url("/app/config.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["devLogin"], false);
    // The page says when answers are offline templates.
    assert_eq!(config["aiProvider"], "offline");
    let refused = client
        .post(app.url("/app/dev-login"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 404);
}

#[tokio::test]
async fn dev_login_mints_a_working_token_for_a_new_or_remembered_user() {
    let app = spawn_app_with(TestOptions {
        env: vec![("DEV_LOGIN", "true".into())],
        ..Default::default()
    })
    .await;
    let login = |body: Value| {
        let client = app.client.clone();
        let url = app.url("/app/dev-login");
        async move {
            let response = client.post(url).json(&body).send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    let fresh = login(json!({})).await;
    let other = login(json!({})).await;
    assert_ne!(fresh["userId"], other["userId"], "a new user each time");
    let again = login(json!({ "userId": fresh["userId"] })).await;
    assert_eq!(again["userId"], fresh["userId"]);
    let calendars = app
        .client
        .get(app.url("/v1/calendars"))
        .bearer_auth(again["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(calendars.status(), 200);
    let bad = app
        .client
        .post(app.url("/app/dev-login"))
        .json(&json!({ "userId": "nobody" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}
