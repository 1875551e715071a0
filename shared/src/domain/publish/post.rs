//! What a calendar entry becomes on a platform: the text (caption, call to action,
//! hashtags), the media, and the platforms' limits (`docs/platforms.md`). No I/O.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// TikTok video captions and Instagram captions: 2,200 characters.
pub const CAPTION_MAX: usize = 2_200;
/// TikTok photo posts: a title of 90 characters and a description of 4,000.
pub const PHOTO_TITLE_MAX: usize = 90;
pub const PHOTO_DESCRIPTION_MAX: usize = 4_000;
/// Instagram: at most 30 hashtags and 20 mentions in a caption.
pub const INSTAGRAM_HASHTAGS_MAX: usize = 30;
pub const INSTAGRAM_MENTIONS_MAX: usize = 20;

crate::text_enum! {
    /// A video or a photo, from the entry's format.
    pub enum MediaKind in "snake_case" {
        Video,
        Photo,
    }
}

impl MediaKind {
    /// The words that make an entry's format a video's (`short video`, `reel`, `story`...):
    /// the web app reads them too (`/app/config.json`), to count a post against its limits.
    pub const VIDEO_FORMAT_WORDS: [&str; 7] =
        ["video", "reel", "short", "story", "live", "clip", "tiktok"];

    /// Video formats (a format holding one of [`MediaKind::VIDEO_FORMAT_WORDS`], in any
    /// case); anything else is a photo post (`carousel`, `image`, `post`...).
    pub fn of_format(format: &str) -> Self {
        let format = format.to_lowercase();
        let video = Self::VIDEO_FORMAT_WORDS
            .iter()
            .any(|word| format.contains(word));
        if video {
            MediaKind::Video
        } else {
            MediaKind::Photo
        }
    }
}

/// An entry as a post, read from the saved entry when it publishes (edits included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Post {
    pub entry_id: Uuid,
    pub title: String,
    /// Caption, call to action and hashtags, as the platform shows them.
    pub text: String,
    pub format: String,
    pub media: MediaKind,
    /// The address the platform fetches the media from: the upload's signed address when
    /// the entry names uploaded media, else the entry's `mediaUrl`.
    pub media_url: Option<String>,
    /// The uploaded media it sends (the copy its platform takes), when the entry names any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<PostMedia>,
    /// The type of an upload no copy of which the platform takes (refused at `media`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsupported_upload: Option<String>,
    /// The publish intent sending it, once one does: a platform where the sender names its
    /// post derives the name from it (Bluesky's record key), so a repeat names the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_id: Option<Uuid>,
    /// Every uploaded medium it sends, in order, each in the copy its platform takes (the
    /// first is `upload`); empty for a post sending a `mediaUrl`, or nothing. More than one
    /// is a carousel, where its platform takes one ([`Carousel`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<Medium>,
    /// The comment sent under the post once it is out, where its platform takes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_comment: Option<String>,
}

/// One medium of a post, as its platform receives it: its kind, the address it fetches it
/// from, and the upload's copy (read from the media store by adapters uploading bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Medium {
    pub kind: MediaKind,
    pub url: String,
    pub upload: PostMedia,
}

/// A medium as an adapter sending the bytes itself reads it: the upload from the media
/// store, else the address fetched.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub upload: Option<&'a PostMedia>,
    pub url: &'a str,
}

impl Source<'_> {
    /// What the author said of it for people who cannot see it (empty: nothing).
    pub fn alt_text(&self) -> &str {
        self.upload.map_or("", |upload| upload.alt_text.as_str())
    }
}

impl Medium {
    /// It, as an adapter sending the bytes reads it.
    pub fn source(&self) -> Source<'_> {
        Source {
            upload: Some(&self.upload),
            url: &self.url,
        }
    }
}

/// How many media one post of a platform may carry (`max_items`), and whether photos and
/// videos may be in the same one (`mixed`; where they may not, several media are photos
/// only and a video goes alone): the catalogue's `carousel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Carousel {
    pub max_items: usize,
    pub mixed: bool,
}

impl Carousel {
    pub const fn of(max_items: usize, mixed: bool) -> Self {
        Self { max_items, mixed }
    }

    /// Why `post`'s media cannot go out together on `platform`: more than it takes, or
    /// photos and videos together (or several videos) where it does not mix them.
    pub fn problem(&self, post: &Post, platform: &str) -> Option<Problem> {
        let named = post.items.len();
        if named > self.max_items {
            return Some(Problem::new(
                "TOO_MANY_MEDIA",
                "mediaIds",
                format!(
                    "{platform} takes at most {} pictures or videos in one post; this one names {named}: remove {}",
                    self.max_items,
                    named - self.max_items
                ),
            ));
        }
        let videos = post.kinds().filter(|k| *k == MediaKind::Video).count();
        (!self.mixed && named > 1 && videos > 0).then(|| {
            if videos == named {
                let message = format!(
                    "{platform} posts one video at a time; this post names {videos}: keep one"
                );
                Problem::new("TOO_MANY_MEDIA", "mediaIds", message)
            } else {
                let message = format!(
                    "{platform} does not mix pictures and videos in one post: keep the pictures, or one video"
                );
                Problem::new("MEDIA_MIXED", "mediaIds", message)
            }
        })
    }
}

/// The videos a platform takes: how long, in milliseconds (`min_duration_ms` 0: no
/// shortest), and how wide, in pixels, where it says: the catalogue's `video`. A video's
/// length and frame are read from its file at upload; one that does not say its length
/// (uploaded before it was read) is not held to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoLimits {
    pub min_duration_ms: u32,
    pub max_duration_ms: u32,
    pub max_width: Option<u32>,
}

impl VideoLimits {
    /// Videos of `min_secs` to `max_secs` seconds, at most `max_width` pixels wide.
    pub const fn of(min_secs: u32, max_secs: u32, max_width: Option<u32>) -> Self {
        Self {
            min_duration_ms: min_secs * 1000,
            max_duration_ms: max_secs * 1000,
            max_width,
        }
    }

    /// Why one of `post`'s videos cannot go out on `platform`: too long
    /// (`VIDEO_TOO_LONG`), too short (`VIDEO_TOO_SHORT`) or too wide (`VIDEO_TOO_WIDE`),
    /// at `mediaIds`, naming which of the post's media it is.
    pub fn problem(&self, post: &Post, platform: &str) -> Option<Problem> {
        let numbered = post.items.len() > 1;
        post.items.iter().enumerate().find_map(|(n, medium)| {
            if medium.kind != MediaKind::Video {
                return None;
            }
            let which = if numbered {
                format!("the video at position {}", n + 1)
            } else {
                "this video".to_owned()
            };
            let upload = &medium.upload;
            if let Some(ms) = upload.duration_ms {
                if ms > self.max_duration_ms {
                    let message = format!(
                        "{platform} takes videos of at most {}; {which} lasts {}: trim it",
                        clock(self.max_duration_ms),
                        clock(ms)
                    );
                    return Some(Problem::new("VIDEO_TOO_LONG", "mediaIds", message));
                }
                if ms < self.min_duration_ms {
                    let message = format!(
                        "{platform} takes videos of at least {}; {which} lasts {}",
                        clock(self.min_duration_ms),
                        clock(ms)
                    );
                    return Some(Problem::new("VIDEO_TOO_SHORT", "mediaIds", message));
                }
            }
            let (Some(max), Some(width)) = (self.max_width, upload.width) else {
                return None;
            };
            (width > max).then(|| {
                let message = format!(
                    "{platform} takes videos at most {max} pixels wide; {which} is {width}: export it smaller"
                );
                Problem::new("VIDEO_TOO_WIDE", "mediaIds", message)
            })
        })
    }
}

/// A length as people read it: `0:45`, `5:00`, `1:02:03` (seconds rounded down).
pub fn clock(ms: u32) -> String {
    let secs = ms / 1000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// An uploaded media as a post sends it: the copy its platform takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostMedia {
    pub id: Uuid,
    /// The copy's type (`image/jpeg`...).
    pub mime: String,
    /// Said of the media where the platform takes alternative text.
    pub alt_text: String,
    /// The copy's key in the media store (adapters that upload the bytes read it there).
    pub key: String,
    /// A video's length, as its file says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u32>,
    /// Its frame's width in pixels, as its file says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
}

impl Post {
    /// The post of an entry's fields.
    pub fn of_entry(
        entry_id: Uuid,
        title: &str,
        caption: &str,
        call_to_action: &str,
        hashtags: &[String],
        format: &str,
        media_url: Option<&str>,
    ) -> Self {
        Self {
            entry_id,
            title: title.trim().to_owned(),
            text: compose(caption, call_to_action, hashtags),
            format: format.to_owned(),
            media: MediaKind::of_format(format),
            media_url: media_url
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_owned),
            upload: None,
            unsupported_upload: None,
            intent_id: None,
            items: Vec::new(),
            first_comment: None,
        }
    }

    /// The post with `comment` as its first comment (none when blank).
    pub fn with_first_comment(mut self, comment: &str) -> Self {
        let comment = comment.trim();
        self.first_comment = (!comment.is_empty()).then(|| comment.to_owned());
        self
    }

    /// The kinds of its media, in order.
    pub fn kinds(&self) -> impl Iterator<Item = MediaKind> + '_ {
        self.items.iter().map(|m| m.kind)
    }

    /// The addresses its platform fetches its media from, in order: each upload's, else its
    /// `mediaUrl`.
    pub fn media_urls(&self) -> Vec<String> {
        match self.items.is_empty() {
            true => self.media_url.iter().cloned().collect(),
            false => self.items.iter().map(|m| m.url.clone()).collect(),
        }
    }

    /// Its media as adapters sending the bytes read them, in order: each upload, else its
    /// `mediaUrl` (with the upload it stands for, when one does).
    pub fn sources(&self) -> Vec<Source<'_>> {
        if self.items.is_empty() {
            let upload = self.upload.as_ref();
            let url = self.media_url.as_deref();
            return url.map(|url| Source { upload, url }).into_iter().collect();
        }
        self.items.iter().map(Medium::source).collect()
    }

    /// Whether it sends more than one medium.
    pub fn is_carousel(&self) -> bool {
        self.items.len() > 1
    }

    /// The post sending an upload instead of any `mediaUrl`: `copy` is the one its
    /// platform takes, with its address (`None`: no copy is taken, `mime` is refused). The
    /// post's kind is the upload's.
    pub fn with_upload(
        mut self,
        kind: MediaKind,
        mime: &str,
        copy: Option<(PostMedia, String)>,
    ) -> Self {
        self.media = kind;
        match copy {
            Some((upload, url)) => {
                self.media_url = Some(url);
                self.upload = Some(upload);
            }
            None => {
                self.media_url = None;
                self.unsupported_upload = Some(mime.to_owned());
            }
        }
        self
    }

    /// Whether it is a photo post with its picture (an upload or a `mediaUrl`).
    pub fn has_image(&self) -> bool {
        self.media == MediaKind::Photo && self.media_url.is_some()
    }

    /// Characters, as the platforms count them.
    pub fn text_chars(&self) -> usize {
        self.text.chars().count()
    }

    /// `#words` in the text.
    pub fn hashtags(&self) -> usize {
        words_starting_with(&self.text, '#')
    }

    /// `@names` in the text.
    pub fn mentions(&self) -> usize {
        words_starting_with(&self.text, '@')
    }
}

/// The caption, then the call to action, then the hashtags, a blank line apart.
pub fn compose(caption: &str, call_to_action: &str, hashtags: &[String]) -> String {
    let tags = hashtags.join(" ");
    [caption.trim(), call_to_action.trim(), tags.trim()]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn words_starting_with(text: &str, mark: char) -> usize {
    text.split_whitespace()
        .filter(|word| word.starts_with(mark) && word.chars().count() > 1)
        .count()
}

/// The text of a post a platform limits: `text` is the caption, call to action and
/// hashtags as [`compose`] joins them; `title` the post's title; `description` the composed
/// text where the platform calls it so (TikTok's photo posts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TextField {
    Text,
    Title,
    Description,
}

/// What a platform counts: Unicode scalar values (`chars`), user-perceived characters
/// (`graphemes`), UTF-8 bytes, or characters with each emoji counted as its UTF-8 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TextUnit {
    Chars,
    Graphemes,
    Utf8Bytes,
    CharsEmojiBytes,
}

/// One limit a platform sets on a post's text, as its adapter's `validate` holds it: the
/// web app counts against it as a person types (`/app/config.json`). `media`: the kind of
/// post it applies to (every post when absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TextLimit {
    pub field: TextField,
    pub max: usize,
    pub unit: TextUnit,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaKind>,
}

impl TextLimit {
    /// At most `max` characters of `field`, on every post.
    pub const fn chars(field: TextField, max: usize) -> Self {
        Self {
            field,
            max,
            unit: TextUnit::Chars,
            media: None,
        }
    }

    /// The same limit, on `media` posts only.
    pub const fn on(self, media: MediaKind) -> Self {
        Self {
            media: Some(media),
            ..self
        }
    }
}

/// Why an entry cannot be published as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub code: String,
    /// The entry's field to change.
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn new(code: &str, field: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// A post without media (every TikTok and Instagram post needs one), or with an upload in
/// a type the platform takes no copy of.
pub fn media_problem(post: &Post, platform: &str) -> Option<Problem> {
    if let Some(mime) = &post.unsupported_upload {
        return Some(unsupported_media(platform, mime));
    }
    post.media_url.is_none().then(|| {
        Problem::new(
            "MEDIA_REQUIRED",
            "media",
            format!(
                "a {platform} {} post needs a picture or a video: add one to the entry (or a `mediaUrl`)",
                post.media.as_str()
            ),
        )
    })
}

/// An upload of type `mime` that `platform` takes in no copy.
pub fn unsupported_media(platform: &str, mime: &str) -> Problem {
    Problem::new(
        "MEDIA_FORMAT_UNSUPPORTED",
        "media",
        format!("{platform} does not take {mime} files: choose another picture or video"),
    )
}

/// A first comment of `count` (as `platform` counts: `counted`, "characters") past its
/// comments' `max`.
pub fn comment_too_long(
    platform: &str,
    count: usize,
    max: usize,
    counted: &str,
) -> Option<Problem> {
    (count > max).then(|| {
        Problem::new(
            "FIRST_COMMENT_TOO_LONG",
            "firstComment",
            format!(
                "the first comment is {count} {counted}; {platform} takes comments of at most {max}"
            ),
        )
    })
}

/// Text longer than `max` characters.
pub fn too_long(field: &str, what: &str, chars: usize, max: usize) -> Option<Problem> {
    (chars > max).then(|| {
        Problem::new(
            if field == "title" {
                "TITLE_TOO_LONG"
            } else {
                "CAPTION_TOO_LONG"
            },
            field,
            format!("{what} is {chars} characters; the limit is {max}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(caption: &str, hashtags: &[&str], format: &str) -> Post {
        let tags: Vec<String> = hashtags.iter().map(|s| s.to_string()).collect();
        Post::of_entry(
            Uuid::nil(),
            "Title",
            caption,
            "Follow for more",
            &tags,
            format,
            None,
        )
    }

    #[test]
    fn the_text_is_caption_call_to_action_and_hashtags() {
        let p = post("Hello @ana", &["#one", "#two"], "reel");
        assert_eq!(p.text, "Hello @ana\n\nFollow for more\n\n#one #two");
        assert_eq!(p.hashtags(), 2);
        assert_eq!(p.mentions(), 1);
        assert_eq!(p.media, MediaKind::Video);
        let bare = Post::of_entry(Uuid::nil(), "T", " ", "", &[], "carousel", Some(" "));
        assert_eq!(bare.text, "");
        assert_eq!(bare.media, MediaKind::Photo);
        assert_eq!(bare.media_url, None);
    }

    #[test]
    fn formats_choose_video_or_photo() {
        for format in ["short video", "Reel", "story", "Live clip"] {
            assert_eq!(MediaKind::of_format(format), MediaKind::Video, "{format}");
        }
        for format in ["carousel", "image", "post", ""] {
            assert_eq!(MediaKind::of_format(format), MediaKind::Photo, "{format}");
        }
    }

    #[test]
    fn limits_count_characters_not_bytes() {
        let p = post(&"é".repeat(2_000), &[], "reel");
        assert_eq!(p.text_chars(), 2_000 + 2 + "Follow for more".len());
        assert!(too_long("caption", "the caption", p.text_chars(), CAPTION_MAX).is_none());
        let p = post(&"é".repeat(2_190), &[], "reel");
        let problem = too_long("caption", "the caption", p.text_chars(), CAPTION_MAX).unwrap();
        assert_eq!(problem.code, "CAPTION_TOO_LONG");
        assert_eq!(
            problem.message,
            "the caption is 2207 characters; the limit is 2200"
        );
    }
}
