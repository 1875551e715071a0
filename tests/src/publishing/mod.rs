//! Publishing (seed 001) end to end, against local TikTok and Instagram fakes that follow
//! `docs/platforms.md` and record every call: channels, dry runs, publishing now and at the
//! entry's time, never twice, refusals with their reasons, the flag, and faults.

pub(crate) mod analytics;
mod bluesky;
mod carousels;
mod channel_warnings;
mod channels;
mod contract;
pub(crate) mod evergreen;
mod facebook;
mod faults;
mod flag_off;
mod flows;
mod linkedin;
mod media;
pub(crate) mod posts;
mod queue;
mod review;
mod sandbox;
mod slots;
mod testnet;
mod threads;
mod youtube;

use std::time::Duration;

use almanac_shared::crypto::TokenKey;
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    TestApp, TestOptions, eventually, fake_platforms::FakePlatforms, spawn_app_with,
};

pub struct Setup {
    pub app: TestApp,
    pub fake: FakePlatforms,
    pub user: Uuid,
    pub calendar: Uuid,
}

/// The settings of an app publishing to `fake`, with checks settled quickly; the tests
/// drive the dispatcher themselves (`dispatcher::tick`).
pub fn publish_env(fake: &FakePlatforms, enabled: bool) -> Vec<(&'static str, String)> {
    let mut env = fake.env();
    env.extend([
        ("PUBLISH_SERVICE_ENABLED", enabled.to_string()),
        ("TOKEN_ENCRYPTION_KEY", TokenKey::generate()),
        ("PUBLISH_CONFIRM_WINDOW_SECS", "1".into()),
        ("PUBLISH_CHECK_INTERVAL_MS", "20".into()),
        ("PUBLISH_TICK_MS", "3600000".into()),
    ]);
    env
}

pub async fn setup_with(options: TestOptions, fake: FakePlatforms) -> Setup {
    let app = spawn_app_with(options).await;
    let (user, calendar) = new_calendar(&app).await;
    Setup {
        app,
        fake,
        user,
        calendar,
    }
}

/// A new user with a calendar of the Launch week; the user and calendar ids.
async fn new_calendar(app: &TestApp) -> (Uuid, Uuid) {
    let user = Uuid::now_v7();
    (user, launch_calendar(app, user).await)
}

/// A saved calendar of `user`'s named Launch (a week of three channels, no entries yet);
/// its id.
pub async fn launch_calendar(app: &TestApp, user: Uuid) -> Uuid {
    let calendar = Uuid::now_v7();
    sqlx::query(
        "insert into calendars (id, user_id, name, request, current_version)
         values ($1, $2, 'Launch', $3, 1)",
    )
    .bind(calendar)
    .bind(user)
    .bind(json!({ "channels": ["tiktok", "instagram", "linkedin"], "cadence": "daily",
        "start": "2030-01-07", "end": "2030-01-13", "constraints": { "timezone": "Europe/Madrid" } }))
    .execute(&app.db)
    .await
    .unwrap();
    calendar
}

pub async fn setup() -> Setup {
    setup_plus(true, []).await
}

/// A publishing app (publishing on or off) against a new fake, with `extra` settings.
pub async fn setup_plus(
    enabled: bool,
    extra: impl IntoIterator<Item = (&'static str, String)>,
) -> Setup {
    let fake = FakePlatforms::start().await;
    let mut env = publish_env(&fake, enabled);
    env.extend(extra);
    let options = TestOptions {
        env,
        ..Default::default()
    };
    setup_with(options, fake).await
}

/// An entry to add.
pub struct Entry<'a> {
    pub channel: &'a str,
    pub title: &'a str,
    pub caption: &'a str,
    pub format: &'a str,
    pub media: Option<&'a str>,
    pub at: &'a str,
}

impl<'a> Entry<'a> {
    pub fn on(channel: &'a str, caption: &'a str) -> Self {
        Self {
            channel,
            title: "Launch day",
            caption,
            format: if channel == "tiktok" {
                "short video"
            } else {
                "image"
            },
            media: Some("https://cdn.example.com/media/launch.mp4"),
            at: "2030-01-07T09:00:00Z",
        }
    }
}

impl Setup {
    /// Another user, with a calendar of their own: the user and calendar ids (for the
    /// `*_of` helpers).
    pub async fn another_user(&self) -> (Uuid, Uuid) {
        new_calendar(&self.app).await
    }

    /// The first post of `channel`'s queue, as `GET /v1/queue` lists it: its `publishAt`
    /// and its intent's id.
    pub async fn first_queued(&self, channel: Uuid) -> (String, String) {
        let (status, listed) = self
            .app
            .get_json(self.user, &format!("/v1/queue?channelId={channel}"))
            .await;
        assert_eq!(status, 200, "{listed}");
        let first = &listed["data"]["items"][0];
        let text = |field: &str| first[field].as_str().unwrap().to_owned();
        (text("publishAt"), text("intentId"))
    }

    /// Adds an entry to the calendar (as a generation would have saved it).
    pub async fn entry(&self, entry: Entry<'_>) -> Uuid {
        self.entry_of((self.user, self.calendar), entry).await
    }

    /// Adds an entry to another user's calendar (`another_user`).
    pub async fn entry_of(&self, (user, calendar): (Uuid, Uuid), entry: Entry<'_>) -> Uuid {
        let id = Uuid::now_v7();
        let at: DateTime<Utc> = entry.at.parse().unwrap();
        sqlx::query(
            "insert into calendar_entries (id, calendar_id, user_id, key, channel, local_date,
                 local_time, scheduled_at, title, caption, format, hashtags, call_to_action,
                 origin, media_url)
             values ($1, $2, $3, 'manual/' || $1, $4, ($5 at time zone 'Europe/Madrid')::date,
                 ($5 at time zone 'Europe/Madrid')::time, $5, $6, $7, $8,
                 array['#launch', '#almanac'], 'Follow for more', 'manual', $9)",
        )
        .bind(id)
        .bind(calendar)
        .bind(user)
        .bind(entry.channel)
        .bind(at)
        .bind(entry.title)
        .bind(entry.caption)
        .bind(entry.format)
        .bind(entry.media)
        .execute(&self.app.db)
        .await
        .unwrap();
        id
    }

    /// Connects a channel with a token (`POST /v1/channels`); its id.
    pub async fn connect(
        &self,
        platform: &str,
        account: &str,
        token: &str,
        refresh: Option<&str>,
        expires_in: i64,
    ) -> Uuid {
        self.connect_as(self.user, platform, account, token, refresh, expires_in)
            .await
    }

    /// Connects a channel of `user`'s.
    pub async fn connect_as(
        &self,
        user: Uuid,
        platform: &str,
        account: &str,
        token: &str,
        refresh: Option<&str>,
        expires_in: i64,
    ) -> Uuid {
        let mut body = json!({ "platform": platform, "accountId": account, "accessToken": token,
            "expiresIn": expires_in });
        if let Some(refresh) = refresh {
            body["refreshToken"] = json!(refresh);
            body["refreshExpiresIn"] = json!(31_536_000);
        }
        let (status, channel) = self
            .app
            .send_json(Method::POST, user, "/v1/channels", &body)
            .await;
        assert_eq!(status, 201, "{channel}");
        channel["data"]["id"].as_str().unwrap().parse().unwrap()
    }

    /// Changes a channel's row behind the API's back (`set` is the SQL assignment): a token
    /// expired or issued long ago.
    pub async fn update_channel(&self, channel: Uuid, set: &str) {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "update platform_accounts set {set} where id = $1"
        )))
        .bind(channel)
        .execute(&self.app.db)
        .await
        .unwrap();
    }

    /// TikTok connected with the tokens the fake issued (valid for a day).
    pub async fn connect_tiktok(&self) -> Uuid {
        self.connect_tiktok_as(self.user).await
    }

    async fn connect_tiktok_as(&self, user: Uuid) -> Uuid {
        self.connect_as(
            user,
            "tiktok",
            crate::helpers::fake_platforms::TIKTOK_OPEN_ID,
            "tt-token",
            Some("tt-refresh"),
            86_400,
        )
        .await
    }

    /// Both platforms connected with tokens the fakes accept.
    pub async fn connect_both(&self) -> (Uuid, Uuid) {
        self.connect_both_as(self.user).await
    }

    /// Both platforms connected for `user`.
    pub async fn connect_both_as(&self, user: Uuid) -> (Uuid, Uuid) {
        (
            self.connect_tiktok_as(user).await,
            self.connect_as(
                user,
                "instagram",
                crate::helpers::fake_platforms::IG_USER,
                "ig-token",
                None,
                5_184_000,
            )
            .await,
        )
    }

    pub async fn publish(&self, body: Value) -> (u16, Value) {
        self.publish_of((self.user, self.calendar), body).await
    }

    /// A publish request of another user's calendar (`another_user`).
    pub async fn publish_of(&self, (user, calendar): (Uuid, Uuid), body: Value) -> (u16, Value) {
        self.app
            .send_json(
                Method::POST,
                user,
                &format!("/v1/calendars/{calendar}/publish"),
                &body,
            )
            .await
    }

    /// Sends a publish request for one entry; the id of its intent.
    pub async fn publish_one(&self, body: Value) -> String {
        let (status, answer) = self.publish(body).await;
        assert_eq!(status, 200, "{answer}");
        answer["data"]["intents"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Publishes one entry now on one channel; the intent's id.
    pub async fn publish_now(&self, entry: Uuid, channel: Uuid) -> String {
        self.publish_one(json!({ "entryIds": [entry], "channels": [channel], "dryRun": false }))
            .await
    }

    /// Connects both platforms and publishes one Instagram entry whose `media_publish` the
    /// fake applies and never answers; returns, with the intent's id, once it was sent.
    pub async fn publish_left_hanging(&self, caption: &str) -> String {
        self.connect_both().await;
        self.fake.with(|f| f.hang_after_publish = true);
        let entry = self.entry(Entry::on("instagram", caption)).await;
        let id = self
            .publish_one(json!({ "entryIds": [entry], "dryRun": false }))
            .await;
        eventually(Duration::from_secs(20), "media_publish sent", || async {
            (self.fake.calls_to("/media_publish").len() == 1).then_some(())
        })
        .await;
        id
    }

    /// `DELETE /v1/publish-intents/{id}`: status and body.
    pub async fn cancel(&self, id: &str) -> (u16, Value) {
        let path = format!("/v1/publish-intents/{id}");
        self.app
            .send_json(Method::DELETE, self.user, &path, &Value::Null)
            .await
    }

    /// `POST /v1/publish-intents/{id}/retry`: status and body.
    pub async fn retry(&self, id: &str) -> (u16, Value) {
        let path = format!("/v1/publish-intents/{id}/retry");
        self.app
            .send_json(Method::POST, self.user, &path, &Value::Null)
            .await
    }

    pub async fn intent(&self, id: &str) -> Value {
        let (status, body) = self
            .app
            .get_json(self.user, &format!("/v1/publish-intents/{id}"))
            .await;
        assert_eq!(status, 200, "{body}");
        body["data"].clone()
    }

    /// Waits until the intent reaches `status` and its job has ended.
    pub async fn settled(&self, id: &str, status: &str) -> Value {
        let intent = eventually(
            Duration::from_secs(20),
            &format!("intent {id} {status}"),
            || async {
                let intent = self.intent(id).await;
                (intent["status"] == status).then_some(intent)
            },
        )
        .await;
        eventually(Duration::from_secs(20), "the publish jobs to end", || async {
            let running: i64 = sqlx::query_scalar(
                "select count(*) from jobs where kind = 'publish' and status in ('pending', 'running')",
            )
            .fetch_one(&self.app.db)
            .await
            .unwrap();
            (running == 0).then_some(())
        })
        .await;
        intent
    }

    /// Whether the intent went `unknown` on its way (a lost answer).
    pub async fn was_unknown(&self, id: &str) -> bool {
        sqlx::query_scalar(
            "select unknown_since is not null from publish_intents where id = $1::uuid",
        )
        .bind(id)
        .fetch_one(&self.app.db)
        .await
        .unwrap()
    }

    /// Uploads `body` (a `multipart` body) and makes it the entry's media; the upload's id.
    pub async fn attach(&self, entry: Uuid, body: Vec<u8>) -> String {
        self.attach_as(self.user, entry, body).await
    }

    /// [`Setup::attach`] as `user`, the entry's owner.
    pub async fn attach_as(&self, user: Uuid, entry: Uuid, body: Vec<u8>) -> String {
        let (status, uploaded) = self.app.upload(user, body).await;
        assert_eq!(status, 201, "{uploaded}");
        let id = uploaded["data"]["id"].as_str().unwrap().to_owned();
        sqlx::query("update calendar_entries set media_ids = array[$1::uuid] where id = $2")
            .bind(&id)
            .bind(entry)
            .execute(&self.app.db)
            .await
            .unwrap();
        id
    }

    /// Waits until the intent's publish job waits again, deferred by more than `interval`
    /// (a Postgres interval) from now, without having failed; its attempts so far.
    pub async fn deferred(&self, id: &str, interval: &str) -> i32 {
        let (_, attempts) = eventually(Duration::from_secs(20), "the publish deferred", || async {
            sqlx::query_as::<_, (bool, i32)>(
                "select j.run_after > now() + $2::interval and j.status = 'pending', j.attempts
                 from jobs j join publish_intents i on i.job_id = j.id where i.id = $1::uuid",
            )
            .bind(id)
            .bind(interval)
            .fetch_optional(&self.app.db)
            .await
            .unwrap()
            .filter(|(later, _)| *later)
        })
        .await;
        assert_ne!(self.intent(id).await["status"], "failed");
        attempts
    }

    /// The attempts the intent's publish job spent.
    pub async fn attempts(&self, id: &str) -> i32 {
        sqlx::query_scalar(
            "select j.attempts from jobs j join publish_intents i on i.job_id = j.id
             where i.id = $1::uuid",
        )
        .bind(id)
        .fetch_one(&self.app.db)
        .await
        .unwrap()
    }

    /// Lets a deferred publish run now.
    pub async fn release(&self, id: &str) {
        sqlx::query(
            "update jobs set run_after = now()
             where id = (select job_id from publish_intents where id = $1::uuid)",
        )
        .bind(id)
        .execute(&self.app.db)
        .await
        .unwrap();
    }

    /// Publishes `entry` (dated `at`) on `channel` at its time, edits its caption to "Final
    /// words" meanwhile, and runs the dispatcher a minute before (nothing goes) and at its
    /// time (it goes); returns once it is published.
    pub async fn scheduled_then_edited(&self, entry: Uuid, channel: Uuid, at: &str) {
        let (status, answer) = self
            .publish(
                json!({ "entryIds": [entry], "channels": [channel], "dryRun": false,
                "when": "scheduled" }),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        let id = answer["data"]["intents"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let path = format!("/v1/calendars/{}/entries/{entry}", self.calendar);
        let (status, patched) = self
            .app
            .send_json(
                Method::PATCH,
                self.user,
                &path,
                &json!({ "caption": "Final words" }),
            )
            .await;
        assert_eq!(status, 200, "{patched}");
        let due: DateTime<Utc> = at.parse().unwrap();
        let before = (due - chrono::Duration::minutes(1)).to_rfc3339();
        assert_eq!(self.tick(&before).await.dispatched, 0);
        assert_eq!(self.tick(at).await.dispatched, 1);
        self.settled(&id, "published").await;
    }

    /// Runs the first worker's publish dispatcher at `at`.
    pub async fn tick(&self, at: &str) -> almanac_worker::dispatcher::Ticked {
        let clock = almanac_shared::clock::ManualClock::new(at.parse().unwrap());
        almanac_worker::dispatcher::tick(&self.app.worker_context(0), &clock)
            .await
            .unwrap()
    }
}

/// The intents of a publish answer, by entry id.
pub fn by_entry(answer: &Value) -> std::collections::HashMap<String, Value> {
    answer["data"]["intents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["entryId"].as_str().unwrap_or("").to_owned(), i.clone()))
        .collect()
}
