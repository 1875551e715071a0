//! People sign in (`api/src/sign_in`): an emailed link read from the outbox, single sign-on
//! against a local provider, and the account they end with (`GET/PATCH /v1/me`).

mod link;
mod me;
mod sso;

use std::{path::PathBuf, time::Duration};

use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{TestApp, TestOptions, eventually, spawn_app_with};

/// The outbox of a test's own: every email the app sends is a file in it.
pub struct Outbox {
    pub dir: PathBuf,
}

impl Outbox {
    pub fn new() -> Self {
        Self {
            dir: std::env::temp_dir().join(format!("almanac-outbox-{}", Uuid::new_v4())),
        }
    }

    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("EMAIL_PROVIDER", "outbox".into()),
            ("EMAIL_OUTBOX_DIR", self.dir.display().to_string()),
        ]
    }

    /// Every email in the outbox, oldest first.
    pub fn emails(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    /// The emails to `address`.
    pub fn to(&self, address: &str) -> Vec<String> {
        let header = format!("To: {address}");
        self.emails()
            .into_iter()
            .filter(|e| e.lines().any(|line| line.trim() == header))
            .collect()
    }

    /// The link of the `n`th email to `address` (1 the first), once it is there.
    pub async fn link(&self, address: &str, n: usize) -> String {
        let email = eventually(
            Duration::from_secs(10),
            &format!("email {n} to {address}"),
            || async { self.to(address).get(n - 1).cloned() },
        )
        .await;
        almanac_shared::email::sign_in_path_in(&email).expect("a sign-in email holds its link")
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

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
