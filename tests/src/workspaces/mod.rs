//! A team shares a workspace (`docs/workspaces.md`): team workspaces and their members,
//! invitations by email, roles held on every operation, isolation between workspaces.

mod activity;
mod authorship;
mod conflicts;
mod invitations;
mod isolation;
mod limits;
mod live;
mod members;
mod roles;
mod upgrade;

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, TestOptions, outbox::Outbox, spawn_app_with};

/// The header choosing a list's or a creation's workspace.
pub const HEADER: &str = "Almanac-Workspace";

/// Where an invitation's link carries its token.
pub const JOIN: &str = "/app/#/join/";

/// An app whose emails go to `outbox`.
pub async fn app(outbox: &Outbox) -> TestApp {
    app_with(outbox, &[]).await
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

/// A person calling with a token that carries their address.
pub struct Person {
    pub id: Uuid,
    pub email: String,
    pub token: String,
}

impl Person {
    pub fn new(app: &TestApp, name: &str) -> Self {
        let id = Uuid::now_v7();
        let email = format!("{name}-{}@example.com", &id.simple().to_string()[24..]);
        let token = app.keys.mint_with_email(id, Some(&email), 3600);
        Self { id, email, token }
    }

    /// `method path` with `body`, in `workspace` (none: no header): status and body.
    pub async fn call(
        &self,
        app: &TestApp,
        method: Method,
        path: &str,
        workspace: Option<Uuid>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        call_as(app, &self.token, method, path, workspace, body).await
    }
}

/// `method path` with `bearer` (a JWT or a key), in `workspace`, with `body`.
pub async fn call_as(
    app: &TestApp,
    bearer: &str,
    method: Method,
    path: &str,
    workspace: Option<Uuid>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut request = app
        .client
        .request(method, app.url(path))
        .header("accept", "application/json")
        .bearer_auth(bearer);
    if let Some(workspace) = workspace {
        request = request.header(HEADER, workspace.to_string());
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `owner` makes a team workspace named `name`; its id.
pub async fn team(app: &TestApp, owner: &Person, name: &str) -> Uuid {
    let (status, made) = owner
        .call(
            app,
            Method::POST,
            "/v1/workspaces",
            None,
            Some(&json!({ "name": name })),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    made["data"]["id"].as_str().unwrap().parse().unwrap()
}

/// `inviter` invites `person` into `workspace` as `role`, and `person` accepts.
pub async fn join(
    app: &TestApp,
    outbox: &Outbox,
    workspace: Uuid,
    inviter: &Person,
    person: &Person,
    role: &str,
) {
    let path = format!("/v1/workspaces/{workspace}/invitations");
    let body = json!({ "email": person.email, "role": role });
    let nth = outbox.to(&person.email).len() + 1;
    let (status, sent) = inviter
        .call(app, Method::POST, &path, None, Some(&body))
        .await;
    assert_eq!(status, 201, "{sent}");
    let token = outbox.token(&person.email, nth, JOIN).await;
    let accept = format!("/v1/invitations/{token}/accept");
    let (status, joined) = person.call(app, Method::POST, &accept, None, None).await;
    assert_eq!(status, 200, "{joined}");
    assert_eq!(joined["data"]["workspace"]["role"], role);
}

/// A calendar of `workspace`'s, "Launch", made by `owner` (as a generation makes one); its id.
pub async fn team_calendar(app: &TestApp, owner: &Person, workspace: Uuid) -> Uuid {
    let calendar = Uuid::now_v7();
    sqlx::query(
        "insert into calendars (id, user_id, workspace_id, name, request)
         values ($1, $2, $3, 'Launch', '{}')",
    )
    .bind(calendar)
    .bind(owner.id)
    .bind(workspace)
    .execute(&app.db)
    .await
    .unwrap();
    calendar
}
