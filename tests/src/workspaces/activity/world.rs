//! What the activity table acts on: the team Acme, its resources (`isolation::fixture`),
//! a key of its owner's, what a few operations need beyond them, and how each operation is
//! made (its path, body and caller's workspace).

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::super::{
    HEADER, JOIN, Person,
    isolation::{self, fixture},
    join, team,
};
use crate::{
    contract::statuses::{media, organic, valid_body},
    helpers::{
        TestApp, TestOptions, fake_platforms::FakePlatforms, outbox::Outbox, spawn_app_with,
    },
    publishing::publish_env,
};

/// What one operation was made with.
pub(super) struct Made {
    pub(super) path: String,
    /// Sent with `Almanac-Workspace: <Acme>` (not by one joining it).
    pub(super) in_acme: bool,
    pub(super) body: Option<Value>,
    /// A body that is not JSON, with its type (an upload, a poster frame).
    pub(super) raw: Option<(&'static str, Vec<u8>)>,
}

/// The state the table acts on: the team's resources (`isolation::fixture`) and what a few
/// operations need beyond them.
pub(super) struct World {
    pub(super) app: TestApp,
    pub(super) _fake: FakePlatforms,
    pub(super) outbox: Outbox,
    pub(super) acme: Uuid,
    pub(super) ana: Person,
    pub(super) eve: Person,
    pub(super) gus: Person,
    pub(super) key: String,
    pub(super) ids: isolation::Fixture,
    /// What the table's own calls made, by name: a connection's `state`, the connected
    /// channel.
    pub(super) made: HashMap<&'static str, String>,
}

/// The team Acme (`ana` its owner, `eve` an editor), its resources, a key `Zapier` of
/// ana's, and what a few operations need beyond the fixture.
pub(super) async fn world() -> World {
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
        .bind(isolation::TEXT_ID)
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
    pub(super) async fn made_for(&mut self, op: &str, template: &str, takes_body: bool) -> Made {
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
                    isolation::TEXT_ID
                );
            }
            "acceptInvitation" => {
                let token = self.outbox.token(&self.gus.email, 1, JOIN).await;
                path = format!("/v1/invitations/{token}/accept");
            }
            // A poster frame is a video's: one of the team's.
            "setMediaPoster" => {
                let video: Uuid = sqlx::query_scalar(
                    "insert into media (id, user_id, workspace_id, kind, mime, bytes, object_key)
                     select gen_random_uuid(), user_id, workspace_id, 'video', 'video/mp4', 1,
                            'acme/video' from media where id = $1
                     returning id",
                )
                .bind(Uuid::parse_str(&self.ids.by_segment["media"]).unwrap())
                .fetch_one(&self.app.db)
                .await
                .unwrap();
                path = format!("/v1/media/{video}/poster");
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
                let account = Some(isolation::MARK);
                let mut week = organic::request(isolation::TEXT_ID, account);
                for placement in week["placements"].as_array_mut().unwrap() {
                    placement["trendId"] = json!(isolation::TEXT_ID);
                }
                week
            }
            "queueEntries" => json!({ "calendarId": self.ids.by_segment["calendars"],
                "entryIds": [self.ids.by_segment["entries"]] }),
            "shuffleQueue" | "packQueue" | "pauseChannelQueue" | "resumeChannelQueue" => {
                json!({ "channelId": self.ids.by_segment["channels"] })
            }
            "swapQueue" => json!({ "channelId": self.ids.by_segment["channels"],
                "entryIds": [self.ids.by_segment["entries"], Uuid::now_v7().to_string()] }),
            "removeFromQueue" => json!({ "channelId": self.ids.by_segment["channels"],
                "entryIds": [self.ids.by_segment["entries"]] }),
            "createEvergreen" => json!({ "name": "Again", "minGapDays": 30, "variation": "none",
                "channelIds": [self.ids.by_segment["channels"]],
                "entryIds": [self.ids.by_segment["entries"]] }),
            "publishCalendar" => json!({ "all": true, "dryRun": true }),
            // Editors approve, so that the entry's review asked by ana is eve's to decide.
            "setChannelReview" | "setWorkspaceReview" => json!({ "mode": "always",
                "steps": [{ "name": "Editors", "approvers": { "roles": ["editor"] } }] }),
            "decideEntryReview" => {
                let version: i32 = sqlx::query_scalar(
                    "select content_version from calendar_entries where id = $1",
                )
                .bind(Uuid::parse_str(&self.ids.by_segment["entries"]).unwrap())
                .fetch_one(&self.app.db)
                .await
                .unwrap();
                json!({ "decision": "approve", "contentVersion": version })
            }
            "addOrganicWeekToCalendar" => json!({ "name": "Organic" }),
            "createReviewLink" => json!({ "entryIds": [self.ids.by_segment["entries"]] }),
            "createPost" => json!({ "caption": "Once for all", "mediaIds": [],
                "channelIds": [self.ids.by_segment["channels"]],
                "scheduledAt": "2030-01-09T09:00:00Z" }),
            _ if takes_body && !["uploadMedia", "setMediaPoster"].contains(&op) => valid_body(op),
            _ => Value::Null,
        };
        let body = (!body.is_null()).then_some(body);
        let raw = match op {
            "uploadMedia" => Some((media::MULTIPART, media::picture())),
            "setMediaPoster" => Some(("image/jpeg", media::frame())),
            _ => None,
        };
        Made {
            path,
            in_acme: op != "acceptInvitation",
            body,
            raw,
        }
    }

    /// Keeps what a later operation needs from `op`'s answer.
    pub(super) fn remember(&mut self, op: &str, answer: &Value) {
        let field = match op {
            "connectChannel" => ("state", "state"),
            "importChannel" => ("channel", "id"),
            _ => return,
        };
        let value = answer["data"][field.1].as_str().unwrap().to_owned();
        self.made.insert(field.0, value);
    }

    /// `method made.path` with `bearer`, in Acme: status and answer.
    pub(super) async fn send(&self, method: &str, made: &Made, bearer: &str) -> (u16, Value) {
        let mut request = self
            .app
            .client
            .request(method.parse().unwrap(), self.app.url(&made.path))
            .header("accept", "application/json")
            .bearer_auth(bearer);
        if made.in_acme {
            request = request.header(HEADER, self.acme.to_string());
        }
        if let Some((content_type, bytes)) = &made.raw {
            request = request
                .header("content-type", *content_type)
                .body(bytes.clone());
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
