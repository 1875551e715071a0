//! The signed-in app is a browser session: seed 004's own E2E call works inside it with no
//! token, the page holds no token anywhere a script can read, and nothing else may use it.

use serde_json::{Value, json};

use super::Browser;
use crate::helpers::{TestOptions, sites::Site, spawn_app_with};

/// Seed 004's E2E step, verbatim inside `page.evaluate`, with its `themeId`.
const SEED_004_SNIPPET: &str = r#"
const [themeId, done] = arguments;
(async (tid) => {
const resp = await fetch(`/api/v1/themes/${tid}/schedule`, {
method: 'PUT',
headers: { 'Content-Type': 'application/json', 'X-Requested-With': 'XMLHttpRequest' },
credentials: 'same-origin',
body: JSON.stringify({
enabled: true,
days: ['mon', 'fri'],
time_utc: '09:00',
emails: ['test@example.com'],
}),
});
return { status: resp.status, data: await resp.json() };
})(themeId).then(done, (e) => done({ thrown: String(e) }));
"#;

/// The same call without `X-Requested-With`.
const WITHOUT_THE_HEADER: &str = r#"
const [themeId, done] = arguments;
fetch(`/api/v1/themes/${themeId}/schedule`, {
  method: 'PUT', credentials: 'same-origin',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ enabled: true, days: ['tue'], time_utc: '10:00', emails: ['x@example.com'] }),
}).then(async (r) => done({ status: r.status, data: await r.json() }), (e) => done({ thrown: String(e) }));
"#;

/// Everything a script on the page can read of the browser's storage.
const READABLE_STORAGE: &str = r#"
const all = (s) => Object.fromEntries(Object.keys(s).map((k) => [k, s.getItem(k)]));
return { local: all(localStorage), session: all(sessionStorage), cookie: document.cookie };
"#;

#[tokio::test]
async fn seed_004_s_e2e_call_works_in_the_signed_in_app_and_nothing_else_can_use_the_session() {
    let app = spawn_app_with(TestOptions {
        env: vec![("DEV_LOGIN", "true".into())],
        ..Default::default()
    })
    .await;
    let browser = Browser::start(&app, "session-seed-004").await;
    let user = browser.sign_in().await;
    let theme = app
        .create_theme(user, &json!({ "name": "Tea", "sources": [] }))
        .await;
    let run = async |script: &str| -> Value {
        browser
            .client
            .execute_async(script, vec![json!(theme)])
            .await
            .unwrap()
    };
    let answer = run(SEED_004_SNIPPET).await;
    assert_eq!(answer["status"], 200, "{answer}");
    assert_eq!(answer["data"]["days"], json!(["mon", "fri"]), "{answer}");
    let (_, saved) = app
        .get_json(user, &format!("/api/v1/themes/{theme}/schedule"))
        .await;
    assert_eq!(saved["days"], json!(["mon", "fri"]), "{saved}");

    // The page holds no token: nothing in storage looks like one, and the session cookie
    // is not readable.
    let storage = browser.script(READABLE_STORAGE).await;
    let text = storage.to_string();
    assert!(
        !text.contains("eyJ"),
        "a JWT where a script reads it: {storage}"
    );
    assert_eq!(storage["cookie"], "", "a cookie a script reads: {storage}");
    assert!(
        storage["local"]
            .as_object()
            .unwrap()
            .keys()
            .all(|k| k == "almanac.devUser"),
        "{storage}"
    );

    // Without X-Requested-With: refused, and nothing changed.
    let bare = run(WITHOUT_THE_HEADER).await;
    assert_eq!(bare["status"], 401, "{bare}");
    assert_eq!(
        bare["data"]["error"]["code"], "SESSION_NOT_ACCEPTED",
        "{bare}"
    );

    // From another origin (another port: same site, so the cookie goes along): a page
    // there cannot make the call. Its preflight is refused, and a form-like request
    // without the header is refused by the API.
    let elsewhere = Site::start(vec![("/", "text/html", "<p>elsewhere</p>".to_owned())]).await;
    browser.client.goto(&elsewhere.url("/")).await.unwrap();
    let from_there = browser
        .client
        .execute_async(
            r#"const [api, themeId, done] = arguments;
               const put = fetch(`${api}/api/v1/themes/${themeId}/schedule`, {
                 method: 'PUT', credentials: 'include',
                 headers: { 'Content-Type': 'application/json', 'X-Requested-With': 'XMLHttpRequest' },
                 body: JSON.stringify({ enabled: true, days: ['sun'], time_utc: '11:00', emails: ['x@example.com'] }),
               }).then((r) => ({ status: r.status }), (e) => ({ thrown: String(e) }));
               const form = fetch(`${api}/api/v1/themes`, {
                 method: 'POST', mode: 'no-cors', credentials: 'include',
                 headers: { 'Content-Type': 'text/plain' },
                 body: JSON.stringify({ name: 'Forged', sources: [] }),
               }).then((r) => ({ type: r.type }), (e) => ({ thrown: String(e) }));
               Promise.all([put, form]).then(done);"#,
            vec![json!(app.address), json!(theme)],
        )
        .await
        .unwrap();
    assert!(from_there[0]["thrown"].is_string(), "{from_there}");
    let (_, saved) = app
        .get_json(user, &format!("/api/v1/themes/{theme}/schedule"))
        .await;
    assert_eq!(
        saved["days"],
        json!(["mon", "fri"]),
        "changed from elsewhere: {saved}"
    );
    let (_, themes) = app.get_json(user, "/api/v1/themes").await;
    assert_eq!(
        themes.as_array().unwrap().len(),
        1,
        "a theme forged from elsewhere: {themes}"
    );

    // Signed out, the snippet is 401.
    browser.open("#/themes").await;
    browser.click("#account-menu-button").await;
    browser.click("#sign-out").await;
    browser.wait("#dev-login-new").await;
    let after = run(SEED_004_SNIPPET).await;
    assert_eq!(after["status"], 401, "{after}");
    browser.screenshot().await;
}
