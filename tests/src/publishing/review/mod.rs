//! Nothing goes out unapproved (`docs/review.md`): a team's review policy on a channel, an
//! entry's review through its steps, and the publishing gate, against the platform fakes.

mod client;
mod gate;
mod provenance;
mod race;
mod steps;
mod told;

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Setup, setup_plus};
use crate::workspaces::call_as;

/// A team workspace publishing to TikTok: its owner (the setup's user), members by name
/// with their roles, a calendar and the connected channel.
pub struct Team {
    pub s: Setup,
    pub workspace: Uuid,
    pub calendar: Uuid,
    pub channel: Uuid,
    members: HashMap<&'static str, Uuid>,
}

impl Team {
    /// A team whose members are `members` (name and role), the setup's user its owner,
    /// with TikTok connected.
    pub async fn start(members: &[(&'static str, &str)]) -> Self {
        Self::start_with(members, []).await
    }

    /// The same, the app with `extra` settings.
    pub async fn start_with(
        members: &[(&'static str, &str)],
        extra: impl IntoIterator<Item = (&'static str, String)>,
    ) -> Self {
        let s = setup_plus(true, extra).await;
        let workspace = Uuid::now_v7();
        sqlx::query("insert into workspaces (id, name, created_by) values ($1, 'Agency', $2)")
            .bind(workspace)
            .bind(s.user)
            .execute(&s.app.db)
            .await
            .unwrap();
        let mut named = HashMap::from([("owner", s.user)]);
        let mut all = vec![(s.user, "owner")];
        for (name, role) in members {
            let id = Uuid::now_v7();
            named.insert(*name, id);
            all.push((id, role));
        }
        for (id, role) in all {
            sqlx::query(
                "insert into workspace_members (workspace_id, user_id, role) values ($1, $2, $3)",
            )
            .bind(workspace)
            .bind(id)
            .bind(role)
            .execute(&s.app.db)
            .await
            .unwrap();
        }
        let calendar = Uuid::now_v7();
        sqlx::query(
            "insert into calendars (id, user_id, workspace_id, name, request, current_version)
             values ($1, $2, $3, 'Launch', $4, 1)",
        )
        .bind(calendar)
        .bind(s.user)
        .bind(workspace)
        .bind(
            json!({ "channels": ["tiktok"], "cadence": "daily", "start": "2030-01-07",
            "end": "2030-01-13", "constraints": { "timezone": "Europe/Madrid" } }),
        )
        .execute(&s.app.db)
        .await
        .unwrap();
        let mut team = Self {
            s,
            workspace,
            calendar,
            channel: Uuid::nil(),
            members: named,
        };
        let body = json!({ "platform": "tiktok",
            "accountId": crate::helpers::fake_platforms::TIKTOK_OPEN_ID,
            "accessToken": "tt-token", "expiresIn": 86_400, "refreshToken": "tt-refresh",
            "refreshExpiresIn": 31_536_000 });
        let (status, connected) = team
            .call("owner", Method::POST, "/v1/channels", Some(&body))
            .await;
        assert_eq!(status, 201, "{connected}");
        team.channel = connected["data"]["id"].as_str().unwrap().parse().unwrap();
        team
    }

    pub fn id(&self, name: &str) -> Uuid {
        self.members[name]
    }

    /// `method path` as member `name`, in the team's workspace: status and body.
    pub async fn call(
        &self,
        name: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let token = self.s.app.token(self.id(name));
        call_as(
            &self.s.app,
            &token,
            method,
            path,
            Some(self.workspace),
            body,
        )
        .await
    }

    /// Sets the channel's policy as the owner; the answer's data.
    pub async fn policy(&self, policy: Value) -> Value {
        let path = format!("/v1/channels/{}/review", self.channel);
        let (status, set) = self.call("owner", Method::PUT, &path, Some(&policy)).await;
        assert_eq!(status, 200, "{set}");
        set["data"].clone()
    }

    /// An entry of the team's calendar on TikTok at `at`, made by the owner; its id.
    pub async fn entry(&self, caption: &str, at: &str) -> Uuid {
        let id = Uuid::now_v7();
        let at: chrono::DateTime<chrono::Utc> = at.parse().unwrap();
        sqlx::query(
            "insert into calendar_entries (id, calendar_id, user_id, workspace_id, key, channel,
                 local_date, local_time, scheduled_at, title, caption, format, origin, media_url)
             values ($1, $2, $3, $4, 'manual/' || $1, 'tiktok',
                 ($5 at time zone 'Europe/Madrid')::date, ($5 at time zone 'Europe/Madrid')::time,
                 $5, 'Launch day', $6, 'short video', 'manual',
                 'https://cdn.example.com/media/launch.mp4')",
        )
        .bind(id)
        .bind(self.calendar)
        .bind(self.s.user)
        .bind(self.workspace)
        .bind(at)
        .bind(caption)
        .execute(&self.s.app.db)
        .await
        .unwrap();
        id
    }

    fn entry_path(&self, entry: Uuid) -> String {
        format!("/v1/calendars/{}/entries/{entry}", self.calendar)
    }

    /// The entry as `GET /v1/calendars/{id}` gives it.
    pub async fn read(&self, entry: Uuid) -> Value {
        let path = format!("/v1/calendars/{}", self.calendar);
        let (status, calendar) = self.call("owner", Method::GET, &path, None).await;
        assert_eq!(status, 200, "{calendar}");
        calendar["data"]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == entry.to_string())
            .cloned()
            .expect("the entry is listed")
    }

    /// `name` asks for the entry's review: status and body.
    pub async fn ask(&self, name: &str, entry: Uuid) -> (u16, Value) {
        let path = format!("{}/review", self.entry_path(entry));
        self.call(name, Method::POST, &path, None).await
    }

    /// `name` decides on the entry at `version`: status and body.
    pub async fn decide(
        &self,
        name: &str,
        entry: Uuid,
        decision: &str,
        version: i64,
    ) -> (u16, Value) {
        let path = format!("{}/review/decisions", self.entry_path(entry));
        let body = json!({ "decision": decision, "contentVersion": version,
            "comment": format!("{name} says {decision}") });
        self.call(name, Method::POST, &path, Some(&body)).await
    }

    /// `name` approves the entry at its content now; the review after.
    pub async fn approve(&self, name: &str, entry: Uuid) -> Value {
        let version = self.read(entry).await["review"]["contentVersion"]
            .as_i64()
            .unwrap();
        let (status, review) = self.decide(name, entry, "approve", version).await;
        assert_eq!(status, 200, "{name}: {review}");
        review["data"].clone()
    }

    /// Edits the entry as the owner (`patch` its fields); the entry after.
    pub async fn edit(&self, entry: Uuid, patch: Value) -> Value {
        let (status, edited) = self
            .call(
                "owner",
                Method::PATCH,
                &self.entry_path(entry),
                Some(&patch),
            )
            .await;
        assert_eq!(status, 200, "{edited}");
        edited["data"].clone()
    }

    /// A publish request of the team's calendar as the owner: status and body.
    pub async fn publish(&self, body: Value) -> (u16, Value) {
        let path = format!("/v1/calendars/{}/publish", self.calendar);
        self.call("owner", Method::POST, &path, Some(&body)).await
    }
}

/// The platform received exactly one post, and it says `words`.
pub fn one_post_saying(team: &Team, words: &str) {
    let posts = team.s.fake.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    let title = posts[0].body["post_info"]["title"]
        .as_str()
        .unwrap_or_default();
    assert!(title.contains(words), "{title}");
}

/// A one-step policy: any editor approves once.
pub fn editors_approve() -> Value {
    json!({ "mode": "always", "steps": [
        { "name": "Editor", "approvers": { "roles": ["editor"] }, "required": 1 }
    ] })
}
