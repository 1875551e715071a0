//! The publishing routes' wire types: a publish request and its answer, an intent and its
//! pages, and a channel (a connected account) with its connection's steps.

use almanac_publishing::{Mode, Platforms, Timing, request::PublishRequest};
use almanac_shared::store::publish::{Intent, channels::ChannelRow};
use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object, payload::Json};
use uuid::Uuid;

use crate::{envelope::Envelope, routes::platforms::dto::AuthorKindDto, text::Text};

/// TikTok's privacy levels.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PrivacyLevel {
    PublicToEveryone,
    MutualFollowFriends,
    FollowerOfCreator,
    SelfOnly,
}

/// What to publish, where and when.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct PublishBody {
    /// The entries to publish (or `all: true`).
    #[oai(nullable, validator(min_items = 1, max_items = 500))]
    pub entry_ids: Option<Vec<Uuid>>,
    /// Every saved entry of the calendar.
    #[oai(nullable)]
    pub all: Option<bool>,
    /// Channel ids, to choose among several connected accounts of one platform.
    #[oai(nullable, validator(max_items = 20))]
    pub channels: Option<Vec<Uuid>>,
    /// `publish` (default) or `draft` (TikTok's inbox; Instagram has none).
    #[oai(nullable)]
    pub mode: Option<Mode>,
    /// Default true: validate and record the exact requests, send nothing.
    #[oai(nullable)]
    pub dry_run: Option<bool>,
    /// `now` (default) or `scheduled` (at each entry's `scheduledAt`, following it).
    #[oai(nullable)]
    pub when: Option<Timing>,
    /// TikTok's privacy level; the most public the creator allows when absent.
    #[oai(nullable)]
    pub privacy_level: Option<PrivacyLevel>,
}

impl PublishBody {
    pub(super) fn request(self) -> PublishRequest {
        PublishRequest {
            entry_ids: self.entry_ids,
            all: self.all,
            channels: self.channels,
            mode: self.mode.unwrap_or_default(),
            dry_run: self.dry_run.unwrap_or(true),
            when: self.when.unwrap_or_default(),
            privacy_level: self.privacy_level.map(|level| {
                match level {
                    PrivacyLevel::PublicToEveryone => "PUBLIC_TO_EVERYONE",
                    PrivacyLevel::MutualFollowFriends => "MUTUAL_FOLLOW_FRIENDS",
                    PrivacyLevel::FollowerOfCreator => "FOLLOWER_OF_CREATOR",
                    PrivacyLevel::SelfOnly => "SELF_ONLY",
                }
                .to_owned()
            }),
        }
    }
}

/// A publish request's answer: one intent per entry.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct PublishResult {
    /// Nothing was sent (the request asked so, or publishing is off).
    pub dry_run: bool,
    /// `PUBLISH_DISABLED` (the flag is off) or `STORE_UNAVAILABLE` (spooled).
    #[oai(nullable)]
    pub reason: Option<String>,
    /// Kept in Redis until Postgres is back; the intents appear then.
    pub spooled: bool,
    pub intents: Vec<Intent>,
    /// Entries left out, with no intent, the others going on: a dry run's on a channel
    /// with no account to plan with, none connected (`CHANNEL_NOT_CONNECTED`) or several
    /// and none chosen (`CHANNEL_AMBIGUOUS`; a real publish in that state is refused whole,
    /// 422, naming the channel); and any request's entries on a channel that asks for
    /// review which are not approved at their content now (`REVIEW_REQUIRED`). Empty
    /// otherwise.
    pub refused: Vec<RefusedEntry>,
}

/// An entry a request left out, and why.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct RefusedEntry {
    pub entry_id: Uuid,
    /// The entry's channel name.
    pub channel: String,
    /// `CHANNEL_NOT_CONNECTED`, `CHANNEL_AMBIGUOUS` or `REVIEW_REQUIRED`.
    pub code: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct IntentPage {
    pub items: Vec<Intent>,
    #[oai(nullable)]
    pub next_cursor: Option<Uuid>,
}

crate::enveloped!(PublishResult, IntentPage, Intent);

pub type PublishEnvelope = Envelope<PublishResult>;

pub type IntentPageEnvelope = Envelope<IntentPage>;

pub type IntentEnvelope = Envelope<Intent>;

crate::responses! {
    pub enum Published {
        /// The intents, one per entry (dry runs, scheduled ones, refusals with their reasons).
        200 => Done(Json<PublishEnvelope>),
        /// Postgres is unreachable: the request is kept and replayed once it is back.
        202 => Spooled(Json<PublishEnvelope>),
    }
}

/// A connected (or once connected) platform account. Its tokens are never returned.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Channel {
    pub id: Uuid,
    pub platform: String,
    pub account_id: String,
    /// Its username on the platform (`ig_leafy`), or its name where the platform has no
    /// username (a LinkedIn member or page), as read at connect.
    #[oai(nullable)]
    pub handle: Option<String>,
    /// The name its profile shows (`Leafy Co`), as read at connect.
    #[oai(nullable)]
    pub display_name: Option<String>,
    /// `connected`, `needs_reauth` (connect it again) or `disconnected`.
    pub status: String,
    /// Why it needs re-authorisation.
    #[oai(nullable)]
    pub status_reason: Option<String>,
    /// When the access token expires (it is refreshed before).
    #[oai(nullable)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Set when its connection is about to end (its token cannot be refreshed past then,
    /// `CHANNEL_EXPIRY_WARNING_DAYS` ahead): connect it again before this.
    #[oai(nullable)]
    pub reconnect_by: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub scope: Option<String>,
    #[oai(nullable)]
    pub connected_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Whose name its posts go out under, where its platform lets a connection choose
    /// (`GET /v1/platforms`, `authorKinds`: a LinkedIn member's profile or a page they
    /// administer); null where a channel always posts as itself.
    #[oai(nullable)]
    pub author_kind: Option<AuthorKindDto>,
    /// Why its posts' numbers cannot be read ("connect again to see analytics"): it was
    /// connected without the permission reading them needs, or the platform refused it.
    /// Null when they can be.
    #[oai(nullable)]
    pub analytics_problem: Option<String>,
    /// Why it cannot post a first comment under its posts ("connect again to post first
    /// comments"): it was connected without the permission commenting needs. Null when it
    /// can, or its platform takes no comment (the catalogue's `firstComment`).
    #[oai(nullable)]
    pub first_comment_problem: Option<String>,
}

impl Channel {
    /// The channel with what its platform's adapter reads from it (its author kind).
    pub(crate) fn described(row: ChannelRow, platforms: &Platforms) -> Self {
        let ChannelRow {
            id,
            platform,
            account_id,
            handle,
            display_name,
            status,
            status_reason,
            expires_at,
            reconnect_by,
            scope,
            connected_at,
            created_at,
            updated_at,
            analytics_refused,
        } = row;
        let mut channel = Self {
            id,
            platform,
            account_id,
            handle,
            display_name,
            status,
            status_reason,
            expires_at,
            reconnect_by,
            scope,
            connected_at,
            created_at,
            updated_at,
            author_kind: None,
            analytics_problem: analytics_refused,
            first_comment_problem: None,
        };
        let Some(adapter) = platforms
            .get(&channel.platform)
            .map(|p| platforms.registered(p))
        else {
            return channel;
        };
        channel.author_kind = adapter.author_kind(&channel.account_id).map(Into::into);
        if adapter.profile().first_comment {
            channel.first_comment_problem =
                almanac_publishing::comment_scope_missing(adapter, channel.scope.as_deref())
                    .map(|failure| failure.message);
        }
        if channel.analytics_problem.is_none() {
            channel.analytics_problem =
                almanac_publishing::scope_missing(adapter, channel.scope.as_deref())
                    .map(|failure| failure.message);
        }
        channel
    }
}

/// An intent `retry-failed` left alone, and why: `NOT_CONFIRMED` (`unknown` or
/// `unconfirmed`: it may be published; check the account, then retry it by itself),
/// `NOT_AN_AUTH_FAILURE` (it failed for another reason), `SUPERSEDED` (a later intent of
/// its entry was retried, or is under way).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct SkippedIntent {
    pub intent_id: Uuid,
    pub reason: String,
}

#[derive(Debug, Clone, Object)]
pub struct Retried {
    /// Scheduled again, now.
    pub retried: Vec<Uuid>,
    pub skipped: Vec<SkippedIntent>,
}

/// A completed connection: the account that granted access, and the other accounts the
/// same grant acts for, each a channel of its own (the LinkedIn pages its member
/// administers; disconnect any that should not be posted to).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Connected {
    #[oai(flatten)]
    pub channel: Channel,
    pub also_connected: Vec<Channel>,
}

#[derive(Debug, Clone, Object)]
pub struct ChannelList {
    pub items: Vec<Channel>,
}

/// A token an operator already holds.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ChannelImport {
    /// A platform Almanac publishes to (`tiktok`, `instagram`, `linkedin`;
    /// `GET /v1/platforms` lists them): another is refused with 422 `UNKNOWN_PLATFORM`.
    pub platform: Text<1, 40>,
    /// The account's id on the platform (TikTok's `open_id`, the Instagram user id,
    /// LinkedIn's author URN: `urn:li:person:<id>` or `urn:li:organization:<id>`, else 422
    /// `INVALID_ACCOUNT_ID`).
    pub account_id: Text<1, 200>,
    pub access_token: Text<1, 4096>,
    #[oai(nullable)]
    pub refresh_token: Option<Text<1, 4096>>,
    /// Seconds the access token stays valid, as the platform said.
    #[oai(
        nullable,
        validator(minimum(value = "1"), maximum(value = "315360000"))
    )]
    pub expires_in: Option<i64>,
    /// Seconds the refresh token stays valid.
    #[oai(
        nullable,
        validator(minimum(value = "1"), maximum(value = "315360000"))
    )]
    pub refresh_expires_in: Option<i64>,
}

/// What a person signs in to a platform with, for a platform whose catalogue `connect` is
/// `credentials` (Bluesky: the handle and an app password). Sent to the platform once to
/// open a session, and never kept.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ChannelCredentials {
    /// The account's handle (`leafy.bsky.social`), its DID, or its email address.
    pub identifier: Text<1, 253>,
    /// An app password (Bluesky: Settings → Privacy and security → App passwords). The
    /// account's own password is refused with 422 `CREDENTIALS_REFUSED`.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub password: String,
}

/// Where to send the user to grant access.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Connect {
    pub authorize_url: String,
    /// Single-use, bound to the caller (only they can complete it), valid until
    /// `expiresAt`.
    pub state: String,
    pub expires_at: DateTime<Utc>,
}

/// What the platform's redirect carried, as the web app posts it to `complete`.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ChannelCompletion {
    /// The `state` of `connect` (an opaque token: its length is all its schema says).
    #[oai(validator(min_length = 1, max_length = 200))]
    pub state: String,
    /// The authorisation code (absent when the user refused).
    #[oai(nullable)]
    pub code: Option<Text<1, 2048>>,
    /// The platform's `error` when the user refused.
    #[oai(nullable)]
    pub error: Option<Text<1, 200>>,
    #[oai(nullable)]
    pub error_description: Option<Text<1, 1000>>,
}

crate::enveloped!(Channel, ChannelList, Connect, Connected, Retried);

pub type RetriedEnvelope = Envelope<Retried>;

crate::responses! {
    pub enum RetriedAccepted {
        /// What was scheduled again, and what was left alone.
        202 => Accepted(Json<RetriedEnvelope>),
    }
}

pub type ChannelEnvelope = Envelope<Channel>;

pub type ConnectedEnvelope = Envelope<Connected>;

pub type ChannelListEnvelope = Envelope<ChannelList>;

pub type ConnectEnvelope = Envelope<Connect>;

crate::responses! {
    pub enum CallbackRedirect {
        /// On to the web app, which completes the connection as the signed-in user.
        303 => SeeOther(#[header = "Location"] String),
    }
}

crate::responses! {
    pub enum ChannelDeleted {
        /// Its tokens are forgotten; the account stays `disconnected` (brands may link it).
        204 => Deleted,
    }
}
