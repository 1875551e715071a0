//! Roles held on the operations a team meets first: a viewer reads but edits nothing, an
//! editor schedules but does not manage channels, an admin manages but does not delete the
//! workspace, and a key is never let into member management.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Person, app, call_as, join, team};
use crate::helpers::outbox::Outbox;

/// 403 `ROLE_REQUIRED` naming `role`.
fn assert_role_required(status: u16, answer: &Value, role: &str) {
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"]["code"], "ROLE_REQUIRED", "{answer}");
    assert_eq!(answer["error"]["details"]["role"], role, "{answer}");
}

#[tokio::test]
async fn each_role_is_refused_what_the_one_above_it_may_do() {
    let outbox = Outbox::new();
    let app = app(&outbox).await;
    let (ana, vic, eve, adam) = (
        Person::new(&app, "ana"),
        Person::new(&app, "vic"),
        Person::new(&app, "eve"),
        Person::new(&app, "adam"),
    );
    let acme = team(&app, &ana, "Acme").await;
    join(&app, &outbox, acme, &ana, &vic, "viewer").await;
    join(&app, &outbox, acme, &ana, &eve, "editor").await;
    join(&app, &outbox, acme, &ana, &adam, "admin").await;
    let (calendar, channel) = calendar_and_channel(&app, ana.id, acme).await;

    // A viewer reads the calendar, edits none of its entries.
    let (status, read) = vic
        .call(
            &app,
            Method::GET,
            &format!("/v1/calendars/{calendar}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{read}");
    let entry = format!("/v1/calendars/{calendar}/entries/{}", Uuid::now_v7());
    let patch = json!({ "title": "Teaser" });
    let (status, refused) = vic
        .call(&app, Method::PATCH, &entry, None, Some(&patch))
        .await;
    assert_role_required(status, &refused, "editor");
    let (status, _) = eve
        .call(&app, Method::PATCH, &entry, None, Some(&patch))
        .await;
    assert_eq!(
        status, 404,
        "an editor gets as far as the entry, which does not exist"
    );

    // An editor does not set a channel's slots; an admin does.
    let slots = format!("/v1/channels/{channel}/slots");
    let body = json!({ "timezone": "Europe/Paris", "slots": [] });
    let (status, refused) = eve.call(&app, Method::PUT, &slots, None, Some(&body)).await;
    assert_role_required(status, &refused, "admin");
    let (status, set) = adam
        .call(&app, Method::PUT, &slots, None, Some(&body))
        .await;
    assert_ne!(status, 403, "{set}");

    // An admin does not delete the workspace, nor make an owner.
    let workspace = format!("/v1/workspaces/{acme}");
    let (status, refused) = adam
        .call(&app, Method::DELETE, &workspace, None, None)
        .await;
    assert_role_required(status, &refused, "owner");
    let member = format!("/v1/workspaces/{acme}/members/{}", eve.id);
    let (status, refused) = adam
        .call(
            &app,
            Method::PATCH,
            &member,
            None,
            Some(&json!({ "role": "owner" })),
        )
        .await;
    assert_role_required(status, &refused, "owner");
    let (status, promoted) = adam
        .call(
            &app,
            Method::PATCH,
            &member,
            None,
            Some(&json!({ "role": "admin" })),
        )
        .await;
    assert_eq!((status, &promoted["data"]["role"]), (200, &json!("admin")));

    // An admin's key, with every scope, is refused on invitations: 401.
    let (_, key) = adam
        .call(
            &app,
            Method::POST,
            "/v1/api-keys",
            Some(acme),
            Some(&json!({ "name": "all", "scopes": ["read", "write", "publish"] })),
        )
        .await;
    let key = key["data"]["key"].as_str().unwrap();
    let invitations = format!("/v1/workspaces/{acme}/invitations");
    let body = json!({ "email": "guest@example.com", "role": "viewer" });
    let (status, _) = call_as(&app, key, Method::POST, &invitations, None, Some(&body)).await;
    assert_eq!(status, 401);

    // The owner deletes it; nothing of it is left.
    let (status, _) = ana.call(&app, Method::DELETE, &workspace, None, None).await;
    assert_eq!(status, 204);
    assert_eq!(rows_of(&app, acme).await, 0);
    let (status, refused) = ana.call(&app, Method::GET, &workspace, None, None).await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (404, &json!("WORKSPACE_NOT_FOUND"))
    );
}

/// A calendar and a channel of `workspace`, made by `user` (as a request would).
async fn calendar_and_channel(
    app: &crate::helpers::TestApp,
    user: Uuid,
    workspace: Uuid,
) -> (Uuid, Uuid) {
    let (calendar, channel) = (Uuid::now_v7(), Uuid::now_v7());
    sqlx::query(
        "with c as (insert into calendars (id, user_id, workspace_id, name, request)
                    values ($1, $3, $4, 'Launch', '{}'))
         insert into platform_accounts (id, user_id, workspace_id, platform, account_id)
         values ($2, $3, $4, 'bluesky', 'acme.bsky.social')",
    )
    .bind(calendar)
    .bind(channel)
    .bind(user)
    .bind(workspace)
    .execute(&app.db)
    .await
    .unwrap();
    (calendar, channel)
}

/// The calendars, channels, keys and members `workspace` still has.
async fn rows_of(app: &crate::helpers::TestApp, workspace: Uuid) -> i64 {
    sqlx::query_scalar(
        "select (select count(*) from calendars where workspace_id = $1)
              + (select count(*) from platform_accounts where workspace_id = $1)
              + (select count(*) from api_keys where workspace_id = $1)
              + (select count(*) from workspace_members where workspace_id = $1)",
    )
    .bind(workspace)
    .fetch_one(&app.db)
    .await
    .unwrap()
}

/// A member of the table's workspace: their role, a browser session and an API key with
/// every scope, both made in it.
struct Credential {
    role: &'static str,
    session: String,
    key: String,
}

/// The role order: a caller may what needs their role or one below.
const ROLES: [&str; 4] = ["viewer", "editor", "admin", "owner"];

/// Every user operation of the served document, tried by a session and by a key of each
/// role: refused with `ROLE_REQUIRED` (naming the operation's `x-almanac-role`) exactly
/// where that role is above the caller's, and a key refused (401) exactly where the
/// document takes none.
#[tokio::test]
async fn every_operation_is_refused_exactly_where_its_role_is_above_the_callers() {
    let outbox = Outbox::new();
    let app = app(&outbox).await;
    let ana = Person::new(&app, "ana");
    let table = team(&app, &ana, "Table").await;
    let spare = team(&app, &ana, "Spare").await;
    let mut members = Vec::new();
    for role in ROLES {
        members.push(member_as(&app, &outbox, &ana, [table, spare], role).await);
    }
    let document = app.served_document().await;
    let mut tried = 0;
    for (template, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(needed) = operation["x-almanac-role"].as_str() else {
                continue;
            };
            let takes_keys = operation["x-almanac-scope"].is_string();
            // Deleting the workspace is tried on the spare one: the table's stays.
            let deletes = method == "delete" && template == "/v1/workspaces/{id}";
            let path = path_of(template, if deletes { spare } else { table });
            for member in &members {
                let allowed = rank(member.role) >= rank(needed);
                // A session is the API's (`/v1`, `/api`), not the seeds' upstream routes'.
                if path.starts_with("/v1/") || path.starts_with("/api/") {
                    let by_session =
                        tried_by(&app, method, &path, table, &member.session, true).await;
                    check(
                        (method, template),
                        member.role,
                        needed,
                        allowed,
                        (by_session.0, &by_session.1),
                    );
                }
                let (status, answer) =
                    tried_by(&app, method, &path, table, &member.key, false).await;
                if takes_keys {
                    check(
                        (method, template),
                        member.role,
                        needed,
                        allowed,
                        (status, &answer),
                    );
                } else {
                    assert_eq!(status, 401, "{method} {template} takes no key: {answer}");
                }
                tried += 2;
            }
        }
    }
    assert!(tried > 700, "{tried} calls");
}

fn rank(role: &str) -> usize {
    ROLES.iter().position(|r| *r == role).unwrap()
}

/// The template with every id filled: a workspace's own id, else ids nobody has.
fn path_of(template: &str, workspace: Uuid) -> String {
    template
        .split('/')
        .map(|segment| match segment {
            "{id}" if template.starts_with("/v1/workspaces/") => workspace.to_string(),
            "{platform}" => "tiktok".into(),
            "{weekStart}" => "2030-01-07".into(),
            "{email}" => "reader@example.com".into(),
            s if s.starts_with('{') => Uuid::now_v7().to_string(),
            s => s.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A new member of `workspaces` with `role`: joined as an admin, so as to make their key
/// in the first, then given the role by the owner.
async fn member_as(
    app: &crate::helpers::TestApp,
    outbox: &Outbox,
    owner: &Person,
    workspaces: [Uuid; 2],
    role: &'static str,
) -> Credential {
    let person = Person::new(app, role);
    for workspace in workspaces {
        join(app, outbox, workspace, owner, &person, "admin").await;
    }
    let opened = app
        .client
        .post(app.url("/app/session"))
        .header("x-requested-with", "XMLHttpRequest")
        .json(&json!({ "token": person.token }))
        .send()
        .await
        .unwrap();
    let session = crate::sign_in::session_of(&opened).expect("a session");
    let body = json!({ "name": role, "scopes": ["read", "write", "publish"] });
    let (status, key) = person
        .call(
            app,
            Method::POST,
            "/v1/api-keys",
            Some(workspaces[0]),
            Some(&body),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    let key = key["data"]["key"].as_str().unwrap().to_owned();
    for workspace in workspaces {
        let path = format!("/v1/workspaces/{workspace}/members/{}", person.id);
        let (status, changed) = owner
            .call(
                app,
                Method::PATCH,
                &path,
                None,
                Some(&json!({ "role": role })),
            )
            .await;
        assert_eq!(status, 200, "{changed}");
    }
    Credential { role, session, key }
}

/// `method path` in `workspace`, by a session cookie (as the app's pages send it) or a
/// bearer; a body the operation may not take is none at all.
async fn tried_by(
    app: &crate::helpers::TestApp,
    method: &str,
    path: &str,
    workspace: Uuid,
    credential: &str,
    session: bool,
) -> (u16, Value) {
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
    let mut request = app
        .client
        .request(method, app.url(path))
        .header("accept", "application/json")
        .header(super::HEADER, workspace.to_string());
    request = match session {
        true => request
            .header("cookie", format!("almanac_session={credential}"))
            .header("x-requested-with", "XMLHttpRequest"),
        false => request.bearer_auth(credential),
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Refused for the role exactly when it is not allowed; never refused as unknown.
fn check(
    (method, template): (&str, &str),
    role: &str,
    needed: &str,
    allowed: bool,
    (status, answer): (u16, &Value),
) {
    let refused = status == 403 && answer["error"]["code"] == "ROLE_REQUIRED";
    assert_eq!(
        refused, !allowed,
        "{method} {template} ({needed}) by a {role}: {status} {answer}"
    );
    if refused {
        assert_eq!(answer["error"]["details"]["role"], needed);
    }
    assert!(
        status != 401 && answer["error"]["code"] != "WORKSPACE_NOT_FOUND",
        "{method} {template} by a {role}: {status} {answer}"
    );
}
