//! People sign in (`api/src/sign_in`): an emailed link read from the outbox, single sign-on
//! against a local provider, and the account they end with (`GET/PATCH /v1/me`).

mod link;
mod me;
mod sso;

use serde_json::Value;

pub use crate::helpers::outbox::Outbox;
use crate::helpers::{TestApp, TestOptions, spawn_app_with};

/// An app whose emails go to `outbox`, with `env` set.
pub async fn app_with(outbox: &Outbox, env: &[(&'static str, &str)]) -> TestApp {
    let mut all = outbox.env();
    all.extend(env.iter().map(|(k, v)| (*k, (*v).to_owned())));
    spawn_app_with(TestOptions {
        worker: false,
        env: all,
        ..Default::default()
    })
    .await
}

/// An app signing in with `provider`, emails to `outbox`, with `env` too.
pub async fn app_of(
    provider: &crate::helpers::fake_oidc::FakeOidc,
    outbox: &Outbox,
    env: &[(&'static str, &str)],
) -> TestApp {
    let mut all = provider.env();
    all.extend(env.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let all: Vec<(&'static str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app_with(outbox, &all).await
}

/// `POST /app/sign-in {email}` as the app's page sends it.
pub async fn ask(app: &TestApp, email: &str) -> reqwest::Response {
    app.client
        .post(app.url("/app/sign-in"))
        .header("x-requested-with", "XMLHttpRequest")
        .json(&serde_json::json!({ "email": email }))
        .send()
        .await
        .unwrap()
}

/// The session id a response's `Set-Cookie` opened, if any.
pub fn session_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|cookie| cookie.strip_prefix("almanac_session="))
        .map(|rest| rest.split(';').next().unwrap().to_owned())
        .filter(|id| !id.is_empty())
}

/// `GET /v1/me` in the session `id`: status and `data`.
pub async fn me_in(app: &TestApp, id: &str) -> (u16, Value) {
    let response = app
        .client
        .get(app.url("/v1/me"))
        .header("cookie", format!("almanac_session={id}"))
        .header("x-requested-with", "XMLHttpRequest")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["data"].clone())
}

/// An answer's status and error code.
pub async fn refusal(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or_default();
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_owned(),
    )
}
