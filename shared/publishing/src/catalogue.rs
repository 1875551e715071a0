//! The platform catalogue: what a client needs to know of each registered platform to
//! offer it (its name, label and colour, how an account connects, whose name it posts
//! under, what media it takes, and the limits on a post's text, hashtags and mentions),
//! built from the adapters alone. `GET /v1/platforms` and the web app's
//! `/app/config.json` answer the same entries, so nothing outside an adapter names a
//! platform's numbers or colours.

use serde::Serialize;

use super::{
    Adapter, Platforms,
    post::{MediaKind, TextLimit},
};

pub use super::post::{Carousel, VideoLimits};

/// How an account of the platform connects: through the platform's OAuth grant, or with
/// credentials the user pastes (the catalogue's `connect`, read from the platform's
/// [`crate::Connect::grant`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Grant {
    Oauth,
    Credentials,
}

/// Whose name a post goes out under, where the platform lets a connection choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthorKind {
    Member,
    Organization,
}

/// Whose posts a platform's quota counts: each account's, or the whole app's (every user's
/// together: YouTube's uploads come out of the Google Cloud project's daily units).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QuotaScope {
    Account,
    App,
}

/// Where the quota's use comes from: asked of the platform before a publish (`read`), or
/// counted by Almanac from its own ledger of publishes (`counted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QuotaSource {
    Read,
    Counted,
}

/// Which posts a quota counts: every post, or only drafts sent to the account's inbox and
/// not yet posted from it (TikTok's pending shares).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QuotaCounts {
    Posts,
    Drafts,
}

/// The most posts the platform takes in a window: `limit` per `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Quota {
    pub limit: u32,
    pub window_secs: u32,
    pub per: QuotaScope,
    pub source: QuotaSource,
    pub counts: QuotaCounts,
    /// The window is the calendar day of this zone (YouTube's Pacific day, reset at its
    /// midnight) rather than the moving `window_secs` before now.
    #[serde(skip)]
    pub day_of: Option<chrono_tz::Tz>,
}

impl Quota {
    /// `limit` posts of each account in a moving day, counted by Almanac.
    pub const fn counted_daily(limit: u32) -> Self {
        Self {
            limit,
            window_secs: 86_400,
            per: QuotaScope::Account,
            source: QuotaSource::Counted,
            counts: QuotaCounts::Posts,
            day_of: None,
        }
    }

    /// `limit` posts of each account in a moving day, read from the platform.
    pub const fn read_daily(limit: u32) -> Self {
        Self {
            source: QuotaSource::Read,
            ..Self::counted_daily(limit)
        }
    }

    /// Only drafts count.
    pub const fn of_drafts(self) -> Self {
        Self {
            counts: QuotaCounts::Drafts,
            ..self
        }
    }

    /// The window is `zone`'s calendar day.
    pub const fn by_day_of(self, zone: chrono_tz::Tz) -> Self {
        Self {
            day_of: Some(zone),
            ..self
        }
    }
}

/// What an adapter says of itself for the catalogue, besides its name, label and text
/// limits (which it states for its own checks too).
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    /// `#rrggbb`: the colour the web app marks its posts with.
    pub color: &'static str,
    /// Empty when a connection always posts as the account itself.
    pub author_kinds: &'static [AuthorKind],
    /// The media it publishes.
    pub media_kinds: &'static [MediaKind],
    /// The file types it takes for each kind (MIME types): an upload in none of them is
    /// sent as its JPEG copy where that is taken, else refused (`MEDIA_FORMAT_UNSUPPORTED`).
    pub media_formats: MediaFormats,
    /// The most hashtags a post may carry, when it limits them.
    pub hashtags_max: Option<usize>,
    /// The most mentions a post may carry, when it limits them.
    pub mentions_max: Option<usize>,
    /// About where the platform's feed cuts a post's text off behind "more" (characters),
    /// when it does: what a preview shows before the fold. The platforms publish no such
    /// figure; `docs/platforms.md` says where each comes from.
    pub preview_chars: Option<usize>,
    /// Its posting quota, where it documents one.
    pub quota: Option<Quota>,
    /// How many media one post may carry and whether they may mix photos and videos;
    /// `None`: one medium a post (an entry naming more posts its first).
    pub carousel: Option<Carousel>,
    /// Whether the author may comment under their post by API (a post's first comment is
    /// sent after it; [`crate::Publish::comment`]).
    pub first_comment: bool,
    /// How long and how wide its videos may be; `None` where it takes no video or says
    /// nothing of them.
    pub video: Option<VideoLimits>,
}

impl Profile {
    /// A platform marked `color` that posts as the account itself, photos (JPEG, PNG) and
    /// videos (MP4), with no limit on hashtags or mentions, no fold and no quota: what a
    /// profile saying more leaves to it (`..Profile::of(color)`).
    pub const fn of(color: &'static str) -> Self {
        Self {
            color,
            author_kinds: &[],
            media_kinds: &[MediaKind::Photo, MediaKind::Video],
            media_formats: MediaFormats {
                photo: &["image/jpeg", "image/png"],
                video: &["video/mp4"],
            },
            hashtags_max: None,
            mentions_max: None,
            preview_chars: None,
            quota: None,
            carousel: None,
            first_comment: false,
            video: None,
        }
    }
}

/// The file types (MIME) a platform takes, for photos and for videos.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MediaFormats {
    pub photo: &'static [&'static str],
    pub video: &'static [&'static str],
}

impl MediaFormats {
    /// What it takes for `kind`.
    pub fn of(&self, kind: MediaKind) -> &'static [&'static str] {
        match kind {
            MediaKind::Photo => self.photo,
            MediaKind::Video => self.video,
        }
    }
}

/// One registered platform, as the catalogue describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub name: &'static str,
    pub label: &'static str,
    pub color: &'static str,
    pub connect: Grant,
    pub author_kinds: Vec<AuthorKind>,
    pub media_kinds: Vec<MediaKind>,
    pub media_formats: MediaFormats,
    pub text_limits: Vec<TextLimit>,
    pub hashtags_max: Option<usize>,
    pub mentions_max: Option<usize>,
    pub preview_chars: Option<usize>,
    pub quota: Option<Quota>,
    pub carousel: Option<Carousel>,
    pub first_comment: bool,
    pub video: Option<VideoLimits>,
}

impl Entry {
    /// `adapter`'s entry.
    pub fn of(adapter: &dyn Adapter) -> Self {
        let profile = adapter.profile();
        Self {
            name: adapter.platform().as_str(),
            label: adapter.label(),
            color: profile.color,
            connect: adapter.grant(),
            author_kinds: profile.author_kinds.to_vec(),
            media_kinds: profile.media_kinds.to_vec(),
            media_formats: profile.media_formats,
            text_limits: adapter.text_limits(),
            hashtags_max: profile.hashtags_max,
            mentions_max: profile.mentions_max,
            preview_chars: profile.preview_chars,
            quota: profile.quota,
            carousel: profile.carousel,
            first_comment: profile.first_comment,
            video: profile.video,
        }
    }
}

/// A channel a calendar plans for: a registered platform, or one of [`PLANNED_ONLY`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    pub name: &'static str,
    pub label: &'static str,
    pub color: &'static str,
    /// Whether a registered adapter publishes its entries.
    pub publishes: bool,
}

/// Channels people plan for that no adapter of this build publishes to (seed 003's
/// platforms without one, X, the newsletter), with their label and colour. A platform
/// registered under one of these names takes its place.
pub const PLANNED_ONLY: [(&str, &str, &str); 2] = [
    ("x", "X", "#0f1419"),
    ("newsletter", "Newsletter", "#6b5b95"),
];

impl Platforms {
    /// Every registered platform's entry, by name.
    pub fn catalogue(&self) -> Vec<Entry> {
        self.all().map(Entry::of).collect()
    }

    /// The channels the web app offers: the registered platforms, then [`PLANNED_ONLY`]'s
    /// that none of them is.
    pub fn channels(&self) -> Vec<Channel> {
        let registered = self.all().map(|adapter| Channel {
            name: adapter.platform().as_str(),
            label: adapter.label(),
            color: adapter.profile().color,
            publishes: true,
        });
        let planned = PLANNED_ONLY
            .into_iter()
            .filter(|(name, ..)| self.get(name).is_none())
            .map(|(name, label, color)| Channel {
                name,
                label,
                color,
                publishes: false,
            });
        registered.chain(planned).collect()
    }

    /// The label of the channel `name` as people write it (`tiktok` -> `TikTok`), when it is
    /// one of [`Platforms::channels`].
    pub fn label_of(&self, name: &str) -> Option<&'static str> {
        match self.get(name) {
            Some(platform) => Some(self.registered(platform).label()),
            None => PLANNED_ONLY
                .iter()
                .find(|(planned, ..)| *planned == name)
                .map(|(_, label, _)| *label),
        }
    }
}

/// Whether `color` is `#rrggbb`.
pub fn is_color(color: &str) -> bool {
    color.len() == 7 && color.starts_with('#') && color[1..].bytes().all(|b| b.is_ascii_hexdigit())
}
