//! Publishing's types and pure rules: the platforms with an adapter, an intent's status,
//! mode and timing, the publish job, a platform's refusal, and (in [`post`]) what a post
//! says and what each platform allows. The store, the adapters and the API share them.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::jobs::{JobKind, JobPayload};

pub mod post;

pub use post::{MediaKind, Post};

/// The platforms with an adapter.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, poem_openapi::Enum,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[oai(rename = "PublishPlatform", rename_all = "snake_case")]
pub enum Platform {
    Tiktok,
    Instagram,
}

impl Platform {
    pub const ALL: [Platform; 2] = [Platform::Tiktok, Platform::Instagram];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Tiktok => "tiktok",
            Platform::Instagram => "instagram",
        }
    }

    /// The platform a calendar channel slug publishes to, if any has an adapter.
    pub fn of_channel(channel: &str) -> Option<Self> {
        channel.parse().ok()
    }

    pub fn label(self) -> &'static str {
        match self {
            Platform::Tiktok => "TikTok",
            Platform::Instagram => "Instagram",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Platform {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("no adapter publishes to `{s}`"))
    }
}

/// Where an intent is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, poem_openapi::Enum,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[oai(rename = "PublishIntentStatus", rename_all = "snake_case")]
pub enum IntentStatus {
    /// Validated and planned; nothing sent.
    DryRun,
    /// Waiting for its time (or for the publishing flag).
    Scheduled,
    /// A worker is publishing it.
    Publishing,
    Published,
    /// Delivered to the creator's TikTok inbox as a draft.
    DraftSent,
    Failed,
    /// The answer to the request with an outside effect was lost; read-only checks are
    /// resolving it.
    Unknown,
    /// Could not be resolved: the user must check the account before retrying.
    Unconfirmed,
    Cancelled,
}

impl IntentStatus {
    pub const ALL: [IntentStatus; 9] = [
        IntentStatus::DryRun,
        IntentStatus::Scheduled,
        IntentStatus::Publishing,
        IntentStatus::Published,
        IntentStatus::DraftSent,
        IntentStatus::Failed,
        IntentStatus::Unknown,
        IntentStatus::Unconfirmed,
        IntentStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IntentStatus::DryRun => "dry_run",
            IntentStatus::Scheduled => "scheduled",
            IntentStatus::Publishing => "publishing",
            IntentStatus::Published => "published",
            IntentStatus::DraftSent => "draft_sent",
            IntentStatus::Failed => "failed",
            IntentStatus::Unknown => "unknown",
            IntentStatus::Unconfirmed => "unconfirmed",
            IntentStatus::Cancelled => "cancelled",
        }
    }
}

/// `publish` posts; `draft` sends to the creator's TikTok inbox.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    sqlx::Type,
    poem_openapi::Enum,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[oai(rename = "PublishMode", rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Publish,
    Draft,
}

/// `now`, or `scheduled` at the entry's time.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    sqlx::Type,
    poem_openapi::Enum,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[oai(rename = "PublishWhen", rename_all = "snake_case")]
pub enum Timing {
    #[default]
    Now,
    Scheduled,
}

/// TikTok's privacy levels (`privacy_level_options`).
pub const PRIVACY_LEVELS: [&str; 4] = [
    "PUBLIC_TO_EVERYONE",
    "MUTUAL_FOLLOW_FRIENDS",
    "FOLLOWER_OF_CREATOR",
    "SELF_ONLY",
];

/// What a publish request chose besides the entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Options {
    pub mode: Mode,
    /// TikTok's privacy level; the most public the creator allows when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy_level: Option<String>,
}

/// The job that publishes one intent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublishJob {
    pub intent_id: Uuid,
}

impl JobPayload for PublishJob {
    const KIND: JobKind = JobKind::Publish;
    const TYPE: &'static str = "publish.v1";
}

/// How a platform refused (or could not take) a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// Not applied, and worth another try later (rate limits, transient errors).
    Retryable,
    /// Not applied, and another try would be refused the same way.
    Permanent,
    /// The token was refused before anything was done: refresh once, then re-authorise.
    Auth,
}

/// A refusal: our code, the platform's own code, and a reason a user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub code: String,
    pub platform_code: Option<String>,
    pub message: String,
}

impl Failure {
    pub fn new(kind: FailureKind, code: &str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code: code.to_owned(),
            platform_code: None,
            message: message.into(),
        }
    }

    pub fn permanent(code: &str, message: impl Into<String>) -> Self {
        Self::new(FailureKind::Permanent, code, message)
    }

    pub fn retryable(code: &str, message: impl Into<String>) -> Self {
        Self::new(FailureKind::Retryable, code, message)
    }

    pub fn platform(mut self, code: impl Into<String>) -> Self {
        self.platform_code = Some(code.into());
        self
    }

    /// `{code, message, platformCode?}`, as intents store it.
    pub fn to_json(&self) -> Value {
        let mut json = json!({ "code": self.code, "message": self.message });
        if let Some(code) = &self.platform_code {
            json["platformCode"] = Value::from(code.as_str());
        }
        json
    }
}
