//! A workspace's activity (`GET /v1/workspaces/{id}/activity`): every operation of the
//! served document that acts in a workspace and changes something records exactly one
//! row naming who made it (the person, or the API key by its name); a refusal records
//! nothing; members read it newest first, by person, by time and page by page.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Person, app_with, join, team};
use crate::helpers::{TestApp, outbox::Outbox};

mod world;

use world::{Made, World, world};

/// The operations that change something outside the workspace's record, with the reason.
const NOT_THE_WORKSPACES: [(&str, &str); 3] = [
    (
        "updateMe",
        "a person's own name, language and zone: theirs, not a workspace's",
    ),
    (
        "deleteWorkspace",
        "its activity goes with it (`deleted_goes_with_its_activity`)",
    ),
    (
        "markNotificationsRead",
        "a person's own notifications, from every workspace they belong to",
    ),
];

/// The operations made with an API key (named by the key's name), the rest by the person.
const BY_KEY: [&str; 4] = [
    "addCalendarEntry",
    "publishCalendar",
    "queueEntries",
    "createTheme",
];

/// The operations whose result others act on: the organic week (its placement edited and
/// added to a calendar), the invitation (accepted), the connection (completed), the
/// workspace's review policy (an entry's review asked for and decided).
const FIRST: [&str; 4] = [
    "generateOrganicCalendar",
    "createInvitation",
    "connectChannel",
    "setWorkspaceReview",
];

#[tokio::test]
async fn every_change_in_a_workspace_is_recorded_once_naming_who_made_it() {
    let mut world = world().await;
    // The table's jobs run against fakes that do not answer every call (a webhook's test
    // to a host nobody serves, a post's numbers): some fail, some are left running.
    world.app.expect_failed_jobs();
    world.app.expect_unfinished_jobs();
    let document = world.app.served_document().await;
    let mut operations: Vec<(String, String, String, bool)> = Vec::new();
    for (template, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap();
            if operation["x-almanac-role"].is_null()
                || method == "get"
                || NOT_THE_WORKSPACES.iter().any(|(op, _)| *op == id)
            {
                continue;
            }
            let takes_body = operation.get("requestBody").is_some();
            operations.push((
                method.to_uppercase(),
                template.clone(),
                id.to_owned(),
                takes_body,
            ));
        }
    }
    // What the others need first; what is deleted last, what it holds before it.
    operations.sort_by_key(|(method, template, op, _)| match method.as_str() {
        "DELETE" => (2, usize::MAX - template.matches('/').count()),
        _ if FIRST.contains(&op.as_str()) => (0, 0),
        _ => (1, 0),
    });
    let mut seen = all_of(&world.app, world.acme).await;
    for (method, template, op, takes_body) in &operations {
        let made = world.made_for(op, template, *takes_body).await;
        let by_key = BY_KEY.contains(&op.as_str());
        let actor = match op.as_str() {
            "continueCalendarRun" | "reviewSuggestion" | "decideEntryReview" => &world.eve,
            "acceptInvitation" => &world.gus,
            _ => &world.ana,
        };
        let bearer = if by_key {
            world.key.clone()
        } else {
            actor.token.clone()
        };
        let (actor_id, actor_email) = (actor.id, actor.email.clone());
        let (status, answer) = world.send(method, &made, &bearer).await;
        assert!(
            (200..300).contains(&status),
            "{op} {}: {status} {answer}",
            made.path
        );
        world.remember(op, &answer);
        let workspace = match op.as_str() {
            "createWorkspace" => answer["data"]["id"].as_str().unwrap().parse().unwrap(),
            _ => world.acme,
        };
        let rows = since(&world.app, workspace, &seen).await;
        assert_eq!(rows.len(), 1, "{op}: one row, not {rows:?}");
        let (action, kind, made_by, key_name) = &rows[0].1;
        assert_eq!(action, op);
        assert_eq!(made_by, &actor_id, "{op}: made by {actor_email}");
        match by_key {
            true => assert_eq!(
                (kind.as_str(), key_name.as_deref()),
                ("key", Some("Zapier"))
            ),
            false => assert_eq!(
                (kind.as_str(), key_name.as_deref()),
                ("person", None),
                "{op}"
            ),
        }
        seen.push(rows[0].0);
    }
    assert!(operations.len() > 70, "{} operations", operations.len());
    // What a change names: what a creation made, never for an edit or a deletion.
    let (made, misnamed): (i64, i64) = sqlx::query_as(
        "select count(*) filter (where method = 'POST' and target ? 'created'),
                count(*) filter (where method in ('PATCH', 'DELETE') and target ? 'created')
         from activity where workspace_id = $1",
    )
    .bind(world.acme)
    .fetch_one(&world.app.db)
    .await
    .unwrap();
    assert!(made > 20, "{made} creations name what they made");
    assert_eq!(misnamed, 0);

    nothing_else_is_recorded(&world, &seen).await;
}

/// A refusal changes nothing and records nothing, nor is a person's own profile the
/// workspace's: after `seen`, no row.
async fn nothing_else_is_recorded(world: &World, seen: &[Uuid]) {
    // A refusal changes nothing and records nothing.
    let entry = world
        .ids
        .path("/v1/calendars/{id}/entries/{entry_id}", true)
        .unwrap();
    let (status, _) = world
        .send(
            "DELETE",
            &Made {
                path: entry,
                in_acme: true,
                body: None,
                raw: None,
            },
            &world.ana.token,
        )
        .await;
    assert_eq!(status, 404);
    assert!(since(&world.app, world.acme, seen).await.is_empty());
    // Nor is a person's own profile the workspace's.
    let me = Made {
        path: "/v1/me".into(),
        in_acme: true,
        body: Some(json!({ "name": "Ana" })),
        raw: None,
    };
    let (status, _) = world.send("PATCH", &me, &world.ana.token).await;
    assert_eq!(status, 200);
    assert!(since(&world.app, world.acme, seen).await.is_empty());
}

/// Every row of `workspace`'s activity.
async fn all_of(app: &TestApp, workspace: Uuid) -> Vec<Uuid> {
    sqlx::query_scalar("select id from activity where workspace_id = $1")
        .bind(workspace)
        .fetch_all(&app.db)
        .await
        .unwrap()
}

type Recorded = (Uuid, (String, String, Uuid, Option<String>));

/// `workspace`'s activity but the rows `seen`, oldest first.
async fn since(app: &TestApp, workspace: Uuid, seen: &[Uuid]) -> Vec<Recorded> {
    let rows: Vec<(Uuid, String, String, Uuid, Option<String>)> = sqlx::query_as(
        "select id, action, actor_kind, actor_id, key_name from activity
         where workspace_id = $1 and id <> all($2) order by at, id",
    )
    .bind(workspace)
    .bind(seen)
    .fetch_all(&app.db)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(id, action, kind, actor, key)| (id, (action, kind, actor, key)))
        .collect()
}

#[tokio::test]
async fn members_read_the_activity_newest_first_by_person_and_page_by_page() {
    let outbox = Outbox::new();
    let app = app_with(&outbox, &[]).await;
    let (ana, eve, out) = (
        Person::new(&app, "ana"),
        Person::new(&app, "eve"),
        Person::new(&app, "out"),
    );
    let acme = team(&app, &ana, "Acme").await;
    join(&app, &outbox, acme, &ana, &eve, "viewer").await;
    let themes = "/api/v1/themes";
    for name in ["One", "Two", "Three"] {
        let body = json!({ "name": name });
        let (status, made) = ana
            .call(&app, Method::POST, themes, Some(acme), Some(&body))
            .await;
        assert_eq!(status, 201, "{made}");
    }
    let activity = format!("/v1/workspaces/{acme}/activity");
    // A viewer reads it: newest first, the person named.
    let (status, page) = eve.call(&app, Method::GET, &activity, None, None).await;
    assert_eq!(status, 200, "{page}");
    let items = page["data"]["items"].as_array().unwrap();
    let actions: Vec<&str> = items
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "createTheme",
            "createTheme",
            "createTheme",
            "acceptInvitation",
            "createInvitation",
            "createWorkspace"
        ]
    );
    assert_eq!(items[1]["actor"]["userId"], ana.id.to_string());
    assert_eq!(items[1]["actor"]["email"], ana.email);
    assert_eq!(items[1]["actor"]["kind"], "person");
    assert!(items[1]["target"]["created"].is_string(), "{}", items[1]);
    assert_eq!(items[3]["actor"]["userId"], eve.id.to_string());

    // One person's changes; then pages of two.
    let (_, evening) = eve
        .call(
            &app,
            Method::GET,
            &format!("{activity}?actor={}", eve.id),
            None,
            None,
        )
        .await;
    assert_eq!(evening["data"]["items"].as_array().unwrap().len(), 1);
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("{activity}?limit=2{cursor}");
        let (status, page) = eve.call(&app, Method::GET, &path, None, None).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["data"]["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].clone()),
        );
        match page["data"]["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    let all: Vec<Value> = items.iter().map(|i| i["id"].clone()).collect();
    assert_eq!(seen, all, "the pages hold every change once, in order");

    // A time window: nothing before the workspace was made.
    let (_, none) = eve
        .call(
            &app,
            Method::GET,
            &format!("{activity}?to=2020-01-01T00:00:00Z"),
            None,
            None,
        )
        .await;
    assert_eq!(none["data"]["items"], json!([]));
    // An outsider reads nothing of it; a key never reads it.
    let (status, refused) = out.call(&app, Method::GET, &activity, None, None).await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (404, &json!("WORKSPACE_NOT_FOUND"))
    );
}

#[tokio::test]
async fn a_deleted_workspace_s_activity_goes_with_it() {
    let outbox = Outbox::new();
    let app = app_with(&outbox, &[]).await;
    let ana = Person::new(&app, "ana");
    let acme = team(&app, &ana, "Acme").await;
    let body = json!({ "name": "Tea" });
    ana.call(
        &app,
        Method::POST,
        "/api/v1/themes",
        Some(acme),
        Some(&body),
    )
    .await;
    assert_eq!(since(&app, acme, &[]).await.len(), 2);
    let (status, _) = ana
        .call(
            &app,
            Method::DELETE,
            &format!("/v1/workspaces/{acme}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert!(since(&app, acme, &[]).await.is_empty());
}
