//! Publishing's types and pure rules: the platforms with an adapter, an intent's status,
//! mode and timing, the publish job, a platform's refusal, and (in [`post`]) what a post
//! says and what each platform allows. The store, the adapters and the API share them.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::jobs::{About, JobKind, JobPayload, Row, Words};

pub mod post;
pub mod slots;
pub mod variation;

pub use post::{MediaKind, Post};

/// A publishing platform: the name an adapter is registered under (`publish::Platforms`,
/// which also fills the `platforms` table). It is only a name: everything the platform does
/// differently is its adapter's. Names are interned, so a `Platform` is `Copy`; the ones
/// read from a request are checked against the registry first, and the ones read from the
/// database are held to the `platforms` table by its foreign keys.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform(&'static str);

/// The names read back from the database, interned (bounded by the `platforms` table and
/// the accounts' platform check).
static NAMES: std::sync::Mutex<std::collections::BTreeSet<&'static str>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

impl Platform {
    /// The platform named `name` (an adapter's own, known at compile time).
    pub const fn of_static(name: &'static str) -> Self {
        Self(name)
    }

    /// The platform named `name`, interned. Callers check it against the registry (or
    /// read it from a column the `platforms` table holds).
    pub fn interned(name: &str) -> Self {
        let mut names = NAMES.lock().expect("platform names lock");
        if let Some(known) = names.get(name) {
            return Self(known);
        }
        let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
        names.insert(leaked);
        Self(leaked)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Debug for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Platform({})", self.0)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for Platform {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

impl sqlx::Type<sqlx::Postgres> for Platform {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <String as sqlx::Type<sqlx::Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <String as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl<'q> sqlx::Encode<'q, sqlx::Postgres> for Platform {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&str as sqlx::Encode<sqlx::Postgres>>::encode(self.0, buf)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for Platform {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let name = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
        Ok(Self::interned(name))
    }
}

crate::text_enum! {
    /// Where an intent is.
    #[oai(rename = "PublishIntentStatus")]
    pub enum IntentStatus in "snake_case" {
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
}

impl IntentStatus {}

crate::text_enum! {
    /// `publish` posts; `draft` sends to the creator's TikTok inbox.
    #[oai(rename = "PublishMode")]
    #[derive(Default)]
    pub enum Mode in "snake_case" {
        #[default]
        Publish,
        Draft,
    }
}

crate::text_enum! {
    /// `now`, or `scheduled` at the entry's time.
    #[oai(rename = "PublishWhen")]
    #[derive(Default)]
    pub enum Timing in "snake_case" {
        #[default]
        Now,
        Scheduled,
    }
}

crate::text_enum! {
    /// Where a post's first comment is: `sent` under the post, `failed` (nothing applied,
    /// or refused: the post stays published), `unknown` (its answer was lost; it is never
    /// sent again).
    #[oai(rename = "FirstCommentStatus")]
    pub enum CommentStatus in "snake_case" {
        Sent,
        Failed,
        Unknown,
    }
}

/// A published post's first comment, as its intent and receipt carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, poem_openapi::Object)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct FirstComment {
    pub status: CommentStatus,
    /// The comment's id on the platform, once sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[oai(skip_serializing_if_is_none)]
    pub remote_id: Option<String>,
    /// Why it failed, or why its outcome is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[oai(skip_serializing_if_is_none)]
    pub error: Option<CommentError>,
}

/// Why a first comment failed: our code, the platform's where it gave one, and a reason a
/// person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, poem_openapi::Object)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "FirstCommentError", rename_all = "camelCase")]
pub struct CommentError {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[oai(skip_serializing_if_is_none)]
    pub platform_code: Option<String>,
}

impl FirstComment {
    pub fn sent(remote_id: String) -> Self {
        Self {
            status: CommentStatus::Sent,
            remote_id: Some(remote_id),
            error: None,
        }
    }

    pub fn failed(failure: &Failure) -> Self {
        Self {
            status: CommentStatus::Failed,
            remote_id: None,
            error: Some(CommentError {
                code: failure.code.clone(),
                message: failure.message.clone(),
                platform_code: failure.platform_code.clone(),
            }),
        }
    }

    /// Its answer was lost (`why`): it may be there, and is never sent again.
    pub fn unknown(why: &str) -> Self {
        Self {
            status: CommentStatus::Unknown,
            remote_id: None,
            error: Some(CommentError {
                code: "FIRST_COMMENT_UNCONFIRMED".into(),
                message: format!(
                    "{why}: look under the post before adding the comment by hand, so that it is not there twice"
                ),
                platform_code: None,
            }),
        }
    }
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
    const KIND: JobKind = JobKind::new(&About {
        name: "publish",
        attempts: 3,
        row: Row {
            table: "publish_intents",
            id_field: "intent_id",
            path: Some("/v1/publish-intents/{id}"),
        },
        words: Words::Common,
        deadline: None,
    });
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
    /// A retryable refusal the platform said when to try again after (its rate limit
    /// resets then): the publish waits until then, its attempt not spent.
    pub retry_after: Option<std::time::Duration>,
}

impl Failure {
    pub fn new(kind: FailureKind, code: &str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code: code.to_owned(),
            platform_code: None,
            message: message.into(),
            retry_after: None,
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

    /// The same refusal, waiting `wait` (the platform's rate limit resets then).
    pub fn deferred(mut self, wait: std::time::Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    /// `{code, message, retryable, platformCode?}`, as intents store it: `retryable` false
    /// when another try would be refused the same way (the entry must change first).
    pub fn to_json(&self) -> Value {
        let retryable = self.kind != FailureKind::Permanent;
        let mut json =
            json!({ "code": self.code, "message": self.message, "retryable": retryable });
        if let Some(code) = &self.platform_code {
            json["platformCode"] = Value::from(code.as_str());
        }
        json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The derived string tables say what serde and sqlx say.
    #[test]
    fn the_string_tables_match_the_wire_names() {
        for &status in IntentStatus::ALL {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        for &platform in crate::domain::organic::SeedPlatform::ALL {
            assert_eq!(serde_json::to_value(platform).unwrap(), platform.as_str());
        }
        assert_eq!(IntentStatus::ALL.len(), 9);
    }
}
