//! The catalogue's wire types: each converted from the registry's own
//! (`almanac_publishing::catalogue`).

use almanac_publishing::{
    MediaKind,
    catalogue::{self, AuthorKind, Grant, QuotaCounts, QuotaScope, QuotaSource},
    post::{TextField, TextLimit, TextUnit},
};
use poem_openapi::{Enum, Object};

/// How an account of the platform connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "PlatformConnect", rename_all = "lowercase")]
pub enum ConnectDto {
    /// Through the platform's OAuth grant (`POST /v1/channels/{platform}/connect`).
    Oauth,
    /// With credentials the user gives.
    Credentials,
}

/// Whose name a post goes out under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "PlatformAuthorKind", rename_all = "lowercase")]
pub enum AuthorKindDto {
    /// A person's own account.
    Member,
    /// A page the person administers.
    Organization,
}

/// A kind of media a platform publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "PlatformMediaKind", rename_all = "lowercase")]
pub enum MediaKindDto {
    Photo,
    Video,
}

/// The part of a post a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "PlatformTextField", rename_all = "lowercase")]
pub enum TextFieldDto {
    /// The post text as the server composes it: caption, call to action and hashtags, a
    /// blank line apart.
    Text,
    Title,
    /// The composed text, where the platform calls it a description (TikTok's photos).
    Description,
}

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "PlatformTextUnit", rename_all = "camelCase")]
pub enum TextUnitDto {
    /// Unicode scalar values.
    Chars,
    /// User-perceived characters (extended grapheme clusters).
    Graphemes,
    /// UTF-8 bytes.
    Utf8Bytes,
    /// Characters, each emoji counted as its UTF-8 bytes.
    CharsEmojiBytes,
}

/// A limit on a post's text.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "PlatformTextLimit", rename_all = "camelCase")]
pub struct TextLimitDto {
    pub field: TextFieldDto,
    /// The most the field may hold, in `unit`s.
    pub max: u64,
    pub unit: TextUnitDto,
    /// The kind of post it applies to; every post when absent.
    #[oai(skip_serializing_if_is_none)]
    pub media: Option<MediaKindDto>,
}

/// A platform Almanac publishes to.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "PublishingPlatform", rename_all = "camelCase")]
pub struct PlatformDto {
    /// The registry's name: the `{platform}` of `/v1/channels/{platform}/...`.
    pub name: String,
    /// Its name as people read it.
    pub label: String,
    /// The colour its posts are marked with, `#rrggbb`.
    #[oai(validator(pattern = "^#[0-9a-f]{6}$"))]
    pub color: String,
    pub connect: ConnectDto,
    /// Whose name a post may go out under, when a connection may choose; empty when it
    /// always posts as the account itself.
    pub author_kinds: Vec<AuthorKindDto>,
    /// The media it publishes.
    pub media_kinds: Vec<MediaKindDto>,
    /// The file types it takes for each kind: an uploaded PNG or WebP goes as its JPEG
    /// copy where only JPEG is taken; anything else is refused (`MEDIA_FORMAT_UNSUPPORTED`).
    pub media_formats: MediaFormatsDto,
    /// The limits on a post's text, those a publish is held to.
    pub text_limits: Vec<TextLimitDto>,
    /// The most hashtags a post may carry; null when the platform sets none.
    #[oai(nullable)]
    pub hashtags_max: Option<u64>,
    /// The most mentions a post may carry; null when the platform sets none.
    #[oai(nullable)]
    pub mentions_max: Option<u64>,
    /// About where the platform's feed cuts a post's text off behind "more" (characters):
    /// what a preview shows before the fold; null when it shows the whole text. An
    /// approximation (the platforms publish none), for previews only: never a limit.
    #[oai(nullable)]
    pub preview_chars: Option<u64>,
    /// Its posting quota; null where the platform documents no posting limit. A publish
    /// past it waits for the window to free a place rather than failing.
    #[oai(nullable)]
    pub quota: Option<QuotaDto>,
    /// How many media one post may carry and whether photos and videos may be together;
    /// null where a post carries one medium (an entry naming more posts its first). A post
    /// over `maxItems`, or mixing where `mixed` is false, is refused at `mediaIds`.
    #[oai(nullable)]
    pub carousel: Option<CarouselDto>,
    /// Whether a post's first comment is sent under it once it is out (a platform without
    /// leaves it out, and its dry run says so: `FIRST_COMMENT_LEFT_OUT`).
    pub first_comment: bool,
    /// How long and how wide its videos may be (read from each video's file at upload);
    /// null where it takes no video or says nothing of them. A video past them is refused
    /// at `mediaIds` (`VIDEO_TOO_LONG`, `VIDEO_TOO_SHORT`, `VIDEO_TOO_WIDE`).
    #[oai(nullable)]
    pub video: Option<VideoLimitsDto>,
}

/// The videos a platform takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Object)]
#[oai(rename = "PlatformVideoLimits", rename_all = "camelCase")]
pub struct VideoLimitsDto {
    /// The shortest, in milliseconds (0: no shortest).
    pub min_duration_ms: u64,
    /// The longest, in milliseconds.
    #[oai(validator(minimum(value = "1")))]
    pub max_duration_ms: u64,
    /// The widest frame, in pixels; null where it sets none.
    #[oai(nullable)]
    pub max_width: Option<u64>,
}

/// The media one post of a platform may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Object)]
#[oai(rename = "PlatformCarousel", rename_all = "camelCase")]
pub struct CarouselDto {
    /// The most media in one post.
    #[oai(validator(minimum(value = "2")))]
    pub max_items: u64,
    /// Whether photos and videos may be in the same post; where not, several media are
    /// photos only and a video goes alone.
    pub mixed: bool,
}

/// Whose posts a quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "PlatformQuotaScope", rename_all = "lowercase")]
pub enum QuotaScopeDto {
    /// Each connected account's own.
    Account,
    /// Every user's together: the app's (its project at the platform).
    App,
}

/// Where a quota's use comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "PlatformQuotaSource", rename_all = "lowercase")]
pub enum QuotaSourceDto {
    /// Asked of the platform before each publish.
    Read,
    /// Counted by Almanac from its own publishes.
    Counted,
}

/// Which posts a quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "PlatformQuotaCounts", rename_all = "lowercase")]
pub enum QuotaCountsDto {
    /// Every post.
    Posts,
    /// Drafts sent to the account's inbox and not yet posted from it (TikTok's pending
    /// shares).
    Drafts,
}

/// The most posts a platform takes in a moving window.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "PlatformQuota", rename_all = "camelCase")]
pub struct QuotaDto {
    pub limit: u32,
    /// The window, in seconds.
    pub window_secs: u32,
    pub per: QuotaScopeDto,
    pub source: QuotaSourceDto,
    pub counts: QuotaCountsDto,
}

impl From<catalogue::Quota> for QuotaDto {
    fn from(quota: catalogue::Quota) -> Self {
        Self {
            limit: quota.limit,
            window_secs: quota.window_secs,
            per: match quota.per {
                QuotaScope::Account => QuotaScopeDto::Account,
                QuotaScope::App => QuotaScopeDto::App,
            },
            source: match quota.source {
                QuotaSource::Read => QuotaSourceDto::Read,
                QuotaSource::Counted => QuotaSourceDto::Counted,
            },
            counts: match quota.counts {
                QuotaCounts::Posts => QuotaCountsDto::Posts,
                QuotaCounts::Drafts => QuotaCountsDto::Drafts,
            },
        }
    }
}

/// The file types (MIME) a platform takes, by kind of media.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "PlatformMediaFormats")]
pub struct MediaFormatsDto {
    pub photo: Vec<String>,
    pub video: Vec<String>,
}

/// The registered platforms.
#[derive(Debug, Clone, Object)]
#[oai(rename = "PlatformList", rename_all = "camelCase")]
pub struct PlatformList {
    pub items: Vec<PlatformDto>,
}

crate::enveloped!(PlatformList);

impl From<Grant> for ConnectDto {
    fn from(connect: Grant) -> Self {
        match connect {
            Grant::Oauth => Self::Oauth,
            Grant::Credentials => Self::Credentials,
        }
    }
}

impl From<AuthorKind> for AuthorKindDto {
    fn from(kind: AuthorKind) -> Self {
        match kind {
            AuthorKind::Member => Self::Member,
            AuthorKind::Organization => Self::Organization,
        }
    }
}

impl From<MediaKind> for MediaKindDto {
    fn from(kind: MediaKind) -> Self {
        match kind {
            MediaKind::Photo => Self::Photo,
            MediaKind::Video => Self::Video,
        }
    }
}

impl From<TextLimit> for TextLimitDto {
    fn from(limit: TextLimit) -> Self {
        Self {
            field: match limit.field {
                TextField::Text => TextFieldDto::Text,
                TextField::Title => TextFieldDto::Title,
                TextField::Description => TextFieldDto::Description,
            },
            max: limit.max as u64,
            unit: match limit.unit {
                TextUnit::Chars => TextUnitDto::Chars,
                TextUnit::Graphemes => TextUnitDto::Graphemes,
                TextUnit::Utf8Bytes => TextUnitDto::Utf8Bytes,
                TextUnit::CharsEmojiBytes => TextUnitDto::CharsEmojiBytes,
            },
            media: limit.media.map(Into::into),
        }
    }
}

impl From<catalogue::Entry> for PlatformDto {
    fn from(entry: catalogue::Entry) -> Self {
        Self {
            name: entry.name.to_owned(),
            label: entry.label.to_owned(),
            color: entry.color.to_owned(),
            connect: entry.connect.into(),
            author_kinds: entry.author_kinds.into_iter().map(Into::into).collect(),
            media_kinds: entry.media_kinds.into_iter().map(Into::into).collect(),
            media_formats: MediaFormatsDto {
                photo: entry
                    .media_formats
                    .photo
                    .iter()
                    .map(|t| (*t).to_owned())
                    .collect(),
                video: entry
                    .media_formats
                    .video
                    .iter()
                    .map(|t| (*t).to_owned())
                    .collect(),
            },
            text_limits: entry.text_limits.into_iter().map(Into::into).collect(),
            hashtags_max: entry.hashtags_max.map(|n| n as u64),
            mentions_max: entry.mentions_max.map(|n| n as u64),
            preview_chars: entry.preview_chars.map(|n| n as u64),
            quota: entry.quota.map(Into::into),
            carousel: entry.carousel.map(|c| CarouselDto {
                max_items: c.max_items as u64,
                mixed: c.mixed,
            }),
            first_comment: entry.first_comment,
            video: entry.video.map(|v| VideoLimitsDto {
                min_duration_ms: u64::from(v.min_duration_ms),
                max_duration_ms: u64::from(v.max_duration_ms),
                max_width: v.max_width.map(u64::from),
            }),
        }
    }
}
