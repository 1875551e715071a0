//! A workspace's activity (`GET /v1/workspaces/{id}/activity`): every operation of the
//! served document that acts in a workspace and changes something records exactly one
//! row naming who made it (the person, or the API key by its name); a refusal records
//! nothing; members read it newest first, by person, by time and page by page.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{JOIN, Person, app_with, isolation::fixture, join, team};
use crate::{
    contract::statuses::{media, organic, valid_body},
    helpers::{
        TestApp, TestOptions, fake_platforms::FakePlatforms, outbox::Outbox, spawn_app_with,
    },
    publishing::publish_env,
};

/// The operations that change something outside the workspace's record, with the reason.
const NOT_THE_WORKSPACES: [(&str, &str); 2] = [
    (
        "updateMe",
        "a person's own name, language and zone: theirs, not a workspace's",
    ),
    (
        "deleteWorkspace",
        "its activity goes with it (`deleted_goes_with_its_activity`)",
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
/// added to a calendar), the invitation (accepted), the connection (completed).
const FIRST: [&str; 3] = [
    "generateOrganicCalendar",
    "createInvitation",
    "connectChannel",
];

/// What one operation was made with.
struct Made {
    path: String,
    /// Sent with `Almanac-Workspace: <Acme>` (not by one joining it).
    in_acme: bool,
    body: Option<Value>,
    multipart: bool,
}

/// The state the table acts on: the team's resources (`isolation::fixture`) and what a few
/// operations need beyond them.
struct World {
    app: TestApp,
    _fake: FakePlatforms,
    outbox: Outbox,
    acme: Uuid,
    ana: Person,
    eve: Person,
    gus: Person,
    key: String,
    ids: super::isolation::Fixture,
    /// What the table's own calls made, by name: a connection's `state`, the connected
    /// channel.
    made: HashMap<&'static str, String>,
}

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
            "continueCalendarRun" | "reviewSuggestion" => &world.eve,
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
                multipart: false,
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
        multipart: false,
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

/// The team Acme (`ana` its owner, `eve` an editor), its resources, a key `Zapier` of
/// ana's, and what a few operations need beyond the fixture.
async fn world() -> World {
    let fake = FakePlatforms::start().await;
    let outbox = Outbox::new();
    let mut env = outbox.env();
    env.extend(publish_env(&fake, true));
    let app = spawn_app_with(TestOptions {
        env,
        ..Default::default()
    })
    .await;
    let (ana, eve, gus) = (
        Person::new(&app, "ana"),
        Person::new(&app, "eve"),
        Person::new(&app, "gus"),
    );
    let acme = team(&app, &ana, "Acme").await;
    let ids = fixture(&app, &outbox, &ana, acme).await;
    join(&app, &outbox, acme, &ana, &eve, "editor").await;
    let (status, key) = ana
        .call(
            &app,
            Method::POST,
            "/v1/api-keys",
            Some(acme),
            Some(&json!({ "name": "Zapier", "scopes": ["read", "write", "publish"] })),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    let key = key["data"]["key"].as_str().unwrap().to_owned();
    sqlx::query(EXTRA)
        .bind(ana.id)
        .bind(acme)
        .bind(Uuid::parse_str(&ids.by_segment["calendars"]).unwrap())
        .bind(super::isolation::TEXT_ID)
        .bind(Uuid::parse_str(&ids.by_segment["publish-intents"]).unwrap())
        .bind(Uuid::parse_str(&ids.by_segment["entries"]).unwrap())
        .bind(Uuid::parse_str(&ids.by_segment["channels"]).unwrap())
        .execute(&app.db)
        .await
        .unwrap();
    World {
        app,
        _fake: fake,
        outbox,
        acme,
        ana,
        eve,
        gus,
        key,
        ids,
        made: HashMap::new(),
    }
}

/// Beyond the fixture: a job waiting for tomorrow to cancel, a scheduled intent to cancel, a published
/// one to read numbers of, the failed one on its entry and channel (to retry), a calendar
/// whose first run timed out and an address that unsubscribed; the team's channel, linked
/// to its brand, on a platform of the organic week (seed 003 plans for those alone). $1 the owner, $2 the workspace, $3 the fixture's
/// calendar, $4 the text id, $5 its failed intent, $6 its entry, $7 its channel.
const EXTRA: &str = "with
     j as (insert into jobs (id, user_id, workspace_id, kind, status, payload, max_attempts,
                             fairness_key, run_after)
           values ('0195a000-0000-7000-8000-000000000001', $1, $2, 'generation', 'pending',
                   '{}', 3, $2, now() + interval '1 day')),
     i as (insert into publish_intents (id, user_id, workspace_id, calendar_id, channel, mode,
                                        dry_run, timing, status, publish_at)
           values ('0195a000-0000-7000-8000-000000000002', $1, $2, $3, 'bluesky', 'publish',
                   false, 'scheduled', 'scheduled', '2030-01-07 09:00Z')),
     pi as (insert into publish_intents (id, user_id, workspace_id, calendar_id, channel, mode,
                                         dry_run, timing, status, remote_post_id)
            values ('0195a000-0000-7000-8000-000000000005', $1, $2, $3, 'bluesky', 'publish',
                    false, 'now', 'published', 'at://post/1')),
     fi as (update publish_intents set account = $7, entry_id = $6 where id = $5),
     k as (insert into calendars (id, user_id, workspace_id, name, current_version, request)
           values ('0195a000-0000-7000-8000-000000000003', $1, $2, 'Timed out', 1,
                   '{\"channels\": [\"instagram\"], \"cadence\": \"daily\",
                     \"start\": \"2030-03-01\", \"end\": \"2030-03-02\"}')),
     r as (insert into calendar_runs (id, calendar_id, user_id, workspace_id, version, mode,
                                      request, slots, applies_directly, status)
           values ('0195a000-0000-7000-8000-000000000004',
                   '0195a000-0000-7000-8000-000000000003', $1, $2, 1, 'service',
                   '{\"channels\": [\"instagram\"], \"cadence\": \"daily\",
                     \"start\": \"2030-03-01\", \"end\": \"2030-03-02\"}', 2, true, 'timeout')),
     p as (update platform_accounts set platform = 'instagram'
           where workspace_id = $2 and $4 <> '')
     insert into email_suppressions (user_id, workspace_id, theme_id, address)
     select $1, $2, theme_id, 'reader@example.com' from theme_schedules where workspace_id = $2";

impl World {
    /// The path and body `op` (at `template`) is made with.
    async fn made_for(&mut self, op: &str, template: &str, takes_body: bool) -> Made {
        let mut path = self
            .ids
            .path(template, false)
            .unwrap_or_else(|| template.to_owned());
        let extra = |n: u8| format!("0195a000-0000-7000-8000-00000000000{n}");
        match op {
            "cancelJob" => path = format!("/v1/jobs/{}/cancel", extra(1)),
            "cancelPublishIntent" => path = format!("/v1/publish-intents/{}", extra(2)),
            "retryChannelFailures" => {
                path = format!("/v1/channels/{}/retry-failed", self.made["channel"]);
            }
            "refreshPostAnalytics" => path = format!("/v1/analytics/posts/{}/refresh", extra(5)),
            "continueCalendarRun" => {
                path = format!("/v1/calendars/{}/runs/{}/continue", extra(3), extra(4));
            }
            "connectChannel" | "completeChannel" => path = path.replace("bluesky", "instagram"),
            // The week the organic generation (earlier in the table) filled.
            "editOrganicPlacement" => {
                path = path.replace("placements/acme-launch", "placements/p1")
            }
            "addOrganicWeekToCalendar" => path = path.replace("2030-01-07", "2027-03-01"),
            // The account the table linked (`linkBrandAccount`).
            "unlinkBrandAccount" => {
                path = format!(
                    "/api/organic/brands/{}/accounts/ig_probe",
                    super::isolation::TEXT_ID
                );
            }
            "acceptInvitation" => {
                let token = self.outbox.token(&self.gus.email, 1, JOIN).await;
                path = format!("/v1/invitations/{token}/accept");
            }
            _ => {}
        }
        let body = match op {
            "createInvitation" => json!({ "email": self.gus.email, "role": "viewer" }),
            "updateMember" => json!({ "role": "viewer" }),
            "updateWebhook" => json!({ "description": "Changed" }),
            "updateCard" => json!({ "card_type": "basic", "front": "Updated", "back": "Card" }),
            "reviewSuggestion" => json!({ "card_type": "basic", "status": "accepted",
                "front": "Reviewed front", "back": "Reviewed back" }),
            "importChannel" => json!({ "platform": "tiktok",
                "accountId": crate::helpers::fake_platforms::TIKTOK_OPEN_ID,
                "accessToken": "tt-token", "refreshToken": "tt-refresh", "expiresIn": 86400 }),
            "completeChannel" => json!({ "state": self.made["state"], "code": "good-code" }),
            "generateOrganicCalendar" | "generateOrganicCalendarUpstream" => {
                let account = Some(super::isolation::MARK);
                let mut week = organic::request(super::isolation::TEXT_ID, account);
                for placement in week["placements"].as_array_mut().unwrap() {
                    placement["trendId"] = json!(super::isolation::TEXT_ID);
                }
                week
            }
            "queueEntries" => json!({ "calendarId": self.ids.by_segment["calendars"],
                "entryIds": [self.ids.by_segment["entries"]] }),
            "shuffleQueue" => json!({ "channelId": self.ids.by_segment["channels"] }),
            "createEvergreen" => json!({ "name": "Again", "minGapDays": 30, "variation": "none",
                "channelIds": [self.ids.by_segment["channels"]],
                "entryIds": [self.ids.by_segment["entries"]] }),
            "publishCalendar" => json!({ "all": true, "dryRun": true }),
            "addOrganicWeekToCalendar" => json!({ "name": "Organic" }),
            _ if takes_body && op != "uploadMedia" => valid_body(op),
            _ => Value::Null,
        };
        let body = (!body.is_null()).then_some(body);
        Made {
            path,
            in_acme: op != "acceptInvitation",
            body,
            multipart: op == "uploadMedia",
        }
    }

    /// Keeps what a later operation needs from `op`'s answer.
    fn remember(&mut self, op: &str, answer: &Value) {
        let field = match op {
            "connectChannel" => ("state", "state"),
            "importChannel" => ("channel", "id"),
            _ => return,
        };
        let value = answer["data"][field.1].as_str().unwrap().to_owned();
        self.made.insert(field.0, value);
    }

    /// `method made.path` with `bearer`, in Acme: status and answer.
    async fn send(&self, method: &str, made: &Made, bearer: &str) -> (u16, Value) {
        let mut request = self
            .app
            .client
            .request(method.parse().unwrap(), self.app.url(&made.path))
            .header("accept", "application/json")
            .bearer_auth(bearer);
        if made.in_acme {
            request = request.header(super::HEADER, self.acme.to_string());
        }
        if made.multipart {
            request = request
                .header("content-type", media::MULTIPART)
                .body(media::picture());
        } else if let Some(body) = &made.body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let streams = response
            .headers()
            .get("content-type")
            .is_some_and(|t| !t.to_str().unwrap().starts_with("application/json"));
        if streams {
            // A stream (an organic week), read to its end: the week is saved.
            let text = response.text().await.unwrap();
            return (status, json!(text));
        }
        (status, response.json().await.unwrap_or(Value::Null))
    }
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
