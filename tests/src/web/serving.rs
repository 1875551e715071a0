//! How the app is served, without a browser: `/` and `/app` lead to the page, its files are
//! embedded with their types and a strict content policy, the development sign-in exists
//! only with `DEV_LOGIN=true`, and browser sessions are cookies only the app's own scripts
//! can use.

use reqwest::redirect::Policy;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestOptions, spawn_app, spawn_app_with};

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
        (
            "/app/js/calendar/index.js",
            "text/javascript; charset=utf-8",
        ),
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

/// `request` with the session cookie `id`, from the app's own scripts.
fn from_app(request: reqwest::RequestBuilder, id: &str) -> reqwest::RequestBuilder {
    request
        .header("cookie", format!("almanac_session={id}"))
        .header("x-requested-with", "XMLHttpRequest")
}

/// A development sign-in (`{userId?}`): the session cookie's id.
async fn dev_login(app: &crate::helpers::TestApp, body: Value) -> String {
    let response = app
        .client
        .post(app.url("/app/dev-login"))
        .header("x-requested-with", "XMLHttpRequest")
        .json(&body)
        .send()
        .await
        .unwrap();
    session_cookie(&response)
}

/// The session cookie a `204` sign-in set: its id, after checking its attributes.
fn session_cookie(response: &reqwest::Response) -> String {
    assert_eq!(
        response.status(),
        204,
        "a sign-in answers 204 without a token"
    );
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(
        !cookie.contains("Secure"),
        "an http address gets no Secure cookie: {cookie}"
    );
    let id = cookie
        .strip_prefix("almanac_session=")
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 64, "256 random bits in hex: {id}");
    id
}

/// An answer's status and error code.
async fn code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    let code = body["error"]["code"].as_str().unwrap_or_default();
    (status, code.to_owned())
}

/// Whose session `id` is (`GET /app/session`).
async fn whose(app: &TestApp, id: &str) -> Value {
    let response = from_app(app.client.get(app.url("/app/session")), id)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The session cookie `fresh` opens the API from the app's own scripts, and an event
/// stream the page reads; not without their header, from another origin or cross-site,
/// and CORS never lets another origin send it.
async fn the_cookie_works_only_from_the_app_s_own_scripts(app: &TestApp, fresh: &str) {
    let client = &app.client;
    // The cookie works from the app's scripts...
    let listed = from_app(client.get(app.url("/v1/calendars")), fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    // ...and for an event stream the page reads (EventSource sends no custom header): the job
    // is unknown, so 404, past authentication.
    let stream = client
        .get(app.url(&format!("/v1/jobs/{}/events", uuid::Uuid::now_v7())))
        .header("cookie", format!("almanac_session={fresh}"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 404);
    // Not without X-Requested-With, not from another origin, not cross-site.
    let bare = client
        .get(app.url("/v1/calendars"))
        .header("cookie", format!("almanac_session={fresh}"))
        .send()
        .await
        .unwrap();
    assert_eq!(code(bare).await, (401, "SESSION_NOT_ACCEPTED".into()));
    let elsewhere = from_app(client.get(app.url("/v1/calendars")), fresh)
        .header("origin", "https://elsewhere.example")
        .send()
        .await
        .unwrap();
    assert_eq!(code(elsewhere).await, (401, "SESSION_NOT_ACCEPTED".into()));
    let cross_site = from_app(client.get(app.url("/v1/calendars")), fresh)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(code(cross_site).await, (401, "SESSION_NOT_ACCEPTED".into()));
    // The app's own origin is fine.
    let own = from_app(client.get(app.url("/v1/calendars")), fresh)
        .header("origin", app.address.trim_end_matches('/'))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    // CORS lets another origin call with a token, never with the cookie.
    let preflight = client
        .request(reqwest::Method::OPTIONS, app.url("/v1/calendars"))
        .header("origin", "https://elsewhere.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "x-requested-with")
        .send()
        .await
        .unwrap();
    assert!(
        preflight
            .headers()
            .get("access-control-allow-credentials")
            .is_none_or(|v| v != "true"),
        "credentials allowed cross-origin: {:?}",
        preflight.headers()
    );
}

#[tokio::test]
async fn browser_sessions_are_cookies_only_the_app_s_own_scripts_can_use() {
    let app = spawn_app_with(TestOptions {
        env: vec![
            ("DEV_LOGIN", "true".into()),
            ("CORS_ALLOWED_ORIGINS", "https://elsewhere.example".into()),
        ],
        ..Default::default()
    })
    .await;
    let client = &app.client;
    // Signing in is the app's script's request: a form posted from anywhere is refused.
    let forged = client
        .post(app.url("/app/dev-login"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(code(forged).await, (401, "SESSION_NOT_ACCEPTED".into()));
    let fresh = dev_login(&app, json!({})).await;
    let user = whose(&app, &fresh).await["userId"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = dev_login(&app, json!({})).await;
    assert_ne!(
        whose(&app, &other).await["userId"],
        json!(user),
        "a new user each time"
    );
    let again = dev_login(&app, json!({ "userId": user })).await;
    assert_ne!(again, fresh, "each sign-in its own session");
    assert_eq!(
        whose(&app, &again).await["userId"],
        json!(user),
        "the remembered user"
    );
    // Postgres keeps the id's digest, never the id.
    let stored: i64 = sqlx::query_scalar(
        "select count(*) from web_sessions where id_digest = sha256(convert_to($1, 'UTF8'))
           and user_id = $2::uuid",
    )
    .bind(&fresh)
    .bind(&user)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(stored, 1);
    the_cookie_works_only_from_the_app_s_own_scripts(&app, &fresh).await;
    // A pasted token opens a session too; a bad one does not.
    let token = app.token(user.parse().unwrap());
    let pasted = client
        .post(app.url("/app/session"))
        .header("x-requested-with", "XMLHttpRequest")
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    let pasted = session_cookie(&pasted);
    assert_eq!(whose(&app, &pasted).await["userId"], json!(user));
    let bad = client
        .post(app.url("/app/session"))
        .header("x-requested-with", "XMLHttpRequest")
        .json(&json!({ "token": "not-a-token" }))
        .send()
        .await
        .unwrap();
    assert_eq!(code(bad).await.0, 401);
    // A bearer token is judged alone, whatever cookie comes with it.
    let bearer = client
        .get(app.url("/v1/calendars"))
        .bearer_auth(&token)
        .header("cookie", "almanac_session=garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);
    // Signing out ends the session on the server: its cookie no longer opens anything.
    let out = from_app(client.delete(app.url("/app/session")), &fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let after = from_app(client.get(app.url("/v1/calendars")), &fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(code(after).await, (401, "UNAUTHORIZED".into()));
    // The other sessions stay.
    let still = from_app(client.get(app.url("/v1/calendars")), &pasted)
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), 200);
    let malformed = client
        .post(app.url("/app/dev-login"))
        .header("x-requested-with", "XMLHttpRequest")
        .json(&json!({ "userId": "nobody" }))
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
}

/// The `Set-Cookie` of a response that ends the browser's session: the cookie emptied,
/// with sign-out's attributes.
fn assert_clears_the_cookie(response: &reqwest::Response, what: &str) {
    let cookies: Vec<&str> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies.len(), 1, "{what}: {cookies:?}");
    let cookie = cookies[0];
    assert!(cookie.starts_with("almanac_session=;"), "{what}: {cookie}");
    for attribute in ["Max-Age=0", "Path=/", "HttpOnly", "SameSite=Strict"] {
        assert!(
            cookie.contains(attribute),
            "{what}: {cookie} lacks {attribute}"
        );
    }
}

/// A browser whose session ended on the server (pushed out by 20 newer ones) is never
/// locked out: each 401 its cookie causes clears it, signing in over it opens a new
/// session, signing out answers 204. The forgery rules' 401 leaves it alone, so another
/// site cannot sign anyone out.
#[tokio::test]
async fn a_dead_session_cookie_is_cleared_and_never_locks_anyone_out() {
    let app = spawn_app_with(TestOptions {
        env: vec![("DEV_LOGIN", "true".into())],
        ..Default::default()
    })
    .await;
    let client = &app.client;
    let first = dev_login(&app, json!({})).await;
    let user = whose(&app, &first).await["userId"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..20 {
        dev_login(&app, json!({ "userId": user })).await;
    }
    let ended = |response: reqwest::Response, what: &'static str| async move {
        assert_eq!(response.status(), 401, "{what}");
        assert_clears_the_cookie(&response, what);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "UNAUTHORIZED", "{what}: {body}");
    };
    // The first session was pushed out: the API and the session check say so and clear it.
    ended(
        from_app(client.get(app.url("/v1/calendars")), &first)
            .send()
            .await
            .unwrap(),
        "an API call",
    )
    .await;
    ended(
        from_app(client.get(app.url("/app/session")), &first)
            .send()
            .await
            .unwrap(),
        "the session check",
    )
    .await;
    ended(
        client
            .get(app.url(&format!("/v1/jobs/{}/events", uuid::Uuid::now_v7())))
            .header("cookie", format!("almanac_session={first}"))
            .header("accept", "text/event-stream")
            .send()
            .await
            .unwrap(),
        "an event stream",
    )
    .await;
    // A cookie nobody made is no better.
    ended(
        from_app(client.get(app.url("/v1/calendars")), "garbage")
            .send()
            .await
            .unwrap(),
        "a cookie not made here",
    )
    .await;

    // Signing out over it ends nothing and clears it; signing in over it opens a new one.
    let out = from_app(client.delete(app.url("/app/session")), &first)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert_clears_the_cookie(&out, "sign-out");
    let token = app.token(user.parse().unwrap());
    let again = from_app(client.post(app.url("/app/session")), &first)
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    let fresh = session_cookie(&again);
    assert_ne!(fresh, first);
    let listed = from_app(client.get(app.url("/v1/calendars")), &fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let dev_again = from_app(client.post(app.url("/app/dev-login")), &first)
        .json(&json!({ "userId": user }))
        .send()
        .await
        .unwrap();
    session_cookie(&dev_again);

    // The forgery rules' refusals never touch the cookie, dead or alive.
    for id in [first.as_str(), fresh.as_str()] {
        let refusals = [
            client
                .get(app.url("/v1/calendars"))
                .header("cookie", format!("almanac_session={id}")),
            from_app(client.get(app.url("/v1/calendars")), id)
                .header("origin", "https://elsewhere.example"),
            from_app(client.delete(app.url("/app/session")), id)
                .header("sec-fetch-site", "cross-site"),
            client
                .delete(app.url("/app/session"))
                .header("cookie", format!("almanac_session={id}")),
        ];
        for request in refusals {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 401);
            assert!(
                response.headers().get("set-cookie").is_none(),
                "{:?}",
                response.headers()
            );
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "SESSION_NOT_ACCEPTED", "{body}");
        }
    }
    let still = from_app(client.get(app.url("/v1/calendars")), &fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), 200, "a forged sign-out ended nothing");
}
