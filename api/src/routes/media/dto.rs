//! Media's wire types, and the two bodies that are not JSON: the upload (multipart, read
//! part by part) and a media's bytes.

use almanac_shared::{
    domain::publish::post::MediaKind,
    media::{Copy, Media, MediaFormat},
    store::media::{MediaRow, Use},
};
use chrono::{DateTime, Utc};
use poem::{IntoResponse, Request, RequestBody, Response};
use poem_openapi::{
    ApiResponse, Object,
    payload::{ParsePayload, Payload},
    registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry},
    types::Type,
};
use uuid::Uuid;

use crate::{envelope::Envelope, error::ApiError, text::Text};

/// The longest alternative text (what a screen reader says of the image).
pub const ALT_TEXT_MAX: usize = 1_000;

/// A picture or a video kept for posts.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct MediaItem {
    pub id: Uuid,
    pub kind: MediaKind,
    /// What the bytes are (read from them): `image/jpeg`, `image/png`, `image/webp` or
    /// `video/mp4`.
    pub mime: String,
    pub bytes: i64,
    /// The picture's or the video's frame in pixels, read from the file (a phone's turned
    /// video as it is shown); null for a video uploaded before frames were read.
    #[oai(nullable)]
    pub width: Option<i32>,
    #[oai(nullable)]
    pub height: Option<i32>,
    /// A video's length in milliseconds, read from the file; null for a picture, or a
    /// video whose file does not say. The dry run holds it to each platform's limits
    /// (the catalogue's `video`).
    #[oai(nullable)]
    pub duration_ms: Option<i32>,
    /// Sent as the post's alternative text where the platform takes one.
    pub alt_text: String,
    /// What a person filed it under (`PATCH /v1/media/{id}`).
    pub tags: Vec<String>,
    /// The uploaded file's name, as the browser gave it.
    pub file_name: String,
    /// Where the bytes can be fetched without a header, for `MEDIA_URL_TTL_SECS`: for
    /// showing it (a thumbnail) or handing it to another tool.
    pub url: String,
    /// A PNG or WebP image's JPEG copy, for the platforms that take only JPEG; null for
    /// other formats.
    #[oai(nullable)]
    pub jpeg_url: Option<String>,
    /// A video's poster frame (a JPEG, `POST /v1/media/{id}/poster`), shown in its place;
    /// null for a picture, or a video without one yet.
    #[oai(nullable)]
    pub poster_url: Option<String>,
    /// The live entries naming it, soonest first (at most 20; `usedByCount` counts them
    /// all). Deleting it is refused while one not yet published does.
    pub used_by: Vec<MediaUse>,
    pub used_by_count: i64,
    pub created_at: DateTime<Utc>,
}

/// An entry naming a media.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct MediaUse {
    pub calendar_id: Uuid,
    pub calendar_name: String,
    pub entry_id: Uuid,
    /// The post the entry is one network's copy of, if it is.
    #[oai(nullable)]
    pub post_id: Option<Uuid>,
    pub title: String,
    pub channel: String,
    pub scheduled_at: DateTime<Utc>,
    /// It went out: deleting the media leaves the published post as it is.
    pub published: bool,
}

impl From<Use> for MediaUse {
    fn from(used: Use) -> Self {
        Self {
            calendar_id: used.calendar_id,
            calendar_name: used.calendar_name,
            entry_id: used.entry_id,
            post_id: used.post_id,
            title: used.title,
            channel: used.channel,
            scheduled_at: used.scheduled_at,
            published: used.published,
        }
    }
}

impl MediaItem {
    /// `row` as sent, named by no entry (a new upload), until [`MediaItem::used`].
    pub fn of(row: MediaRow, media: &Media) -> Self {
        Self {
            url: media.url(row.id, Copy::Original),
            jpeg_url: row.jpeg_key.as_ref().map(|_| media.url(row.id, Copy::Jpeg)),
            poster_url: row
                .poster_key
                .as_ref()
                .map(|_| media.url(row.id, Copy::Poster)),
            id: row.id,
            kind: row.kind,
            mime: row.mime,
            bytes: row.bytes,
            width: row.width,
            height: row.height,
            duration_ms: row.duration_ms,
            alt_text: row.alt_text,
            tags: row.tags,
            file_name: row.file_name,
            used_by: Vec::new(),
            used_by_count: 0,
            created_at: row.created_at,
        }
    }

    /// Each item with the entries naming it, of `uses` (as `store::media::uses` reads them).
    pub fn used(items: &mut [MediaItem], uses: Vec<(Use, i64)>) {
        for (used, total) in uses {
            if let Some(item) = items.iter_mut().find(|item| item.id == used.media_id) {
                item.used_by_count = total;
                item.used_by.push(used.into());
            }
        }
    }
}

/// The most tags a media carries, and the longest.
pub const TAGS_MAX: usize = 20;
pub const TAG_MAX: usize = 40;

/// What `PATCH /v1/media/{id}` changes: each field given replaces the one kept.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct MediaPatch {
    /// Sent as the post's alternative text where the platform takes one (`""`: none).
    pub alt_text: Option<Text<0, ALT_TEXT_MAX>>,
    /// Replaces its tags: at most 20, each 1 to 40 characters of one line of plain text
    /// (else 422 at `tags`), kept trimmed, a repeated one once.
    #[oai(validator(max_items = 20))]
    pub tags: Option<Vec<Text<1, TAG_MAX>>>,
}

impl MediaPatch {
    /// The alternative text and tags as kept (trimmed), or the field that is wrong.
    pub fn checked(self) -> Result<(Option<String>, Option<Vec<String>>), ApiError> {
        let alt_text = self.alt_text.map(|alt| alt.0.trim().to_owned());
        let Some(tags) = self.tags else {
            return Ok((alt_text, None));
        };
        let mut kept: Vec<String> = Vec::with_capacity(tags.len());
        for tag in tags {
            let tag = tag.0.trim().to_owned();
            let length = tag.chars().count();
            if length == 0 || length > TAG_MAX || has_control(&tag) {
                return Err(ApiError::unprocessable_field(
                    "tags",
                    format!("each tag is 1 to {TAG_MAX} characters of plain text"),
                ));
            }
            if !kept.contains(&tag) {
                kept.push(tag);
            }
        }
        Ok((alt_text, Some(kept)))
    }
}

/// Whether `text` holds a control character (a tag is one line of plain text).
fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// The caller's media, newest first, and what they may still upload.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct MediaList {
    pub items: Vec<MediaItem>,
    /// Pass as `cursor` for the next page; null on the last.
    #[oai(nullable)]
    pub next_cursor: Option<Uuid>,
    /// Bytes kept, of `maxBytes` (`MEDIA_MAX_BYTES_PER_WORKSPACE`).
    pub used_bytes: i64,
    pub max_bytes: i64,
}

crate::enveloped!(MediaItem, MediaList);

pub type MediaItemEnvelope = Envelope<MediaItem>;
pub type MediaListEnvelope = Envelope<MediaList>;

/// `POST /v1/media`'s body: `multipart/form-data` with a `file` part and an optional
/// `altText` part, read as it arrives (the file goes to the store part by part).
pub struct MediaUpload(pub multer::Multipart<'static>);

impl Payload for MediaUpload {
    const CONTENT_TYPE: &'static str = "multipart/form-data";

    fn check_content_type(content_type: &str) -> bool {
        content_type
            .split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("multipart/form-data"))
    }

    fn schema_ref() -> MetaSchemaRef {
        let file = MetaSchema {
            description: Some(
                "The picture or video: JPEG, PNG or WebP up to 8 MiB, MP4 up to 256 MiB (the \
                 format is read from the bytes).",
            ),
            format: Some("binary"),
            ..MetaSchema::new("string")
        };
        let alt_text = MetaSchema {
            description: Some("Alternative text, sent where the platform takes one."),
            max_length: Some(ALT_TEXT_MAX),
            ..MetaSchema::new("string")
        };
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            required: vec!["file"],
            properties: vec![
                ("file", MetaSchemaRef::Inline(Box::new(file))),
                ("altText", MetaSchemaRef::Inline(Box::new(alt_text))),
            ],
            ..MetaSchema::new("object")
        }))
    }

    fn register(_registry: &mut Registry) {}
}

impl ParsePayload for MediaUpload {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let content_type = request.content_type().unwrap_or_default();
        let boundary = multer::parse_boundary(content_type).map_err(|_| {
            ApiError::bad_request("the body must be multipart/form-data with a boundary", None)
        })?;
        let stream = body.take()?.into_bytes_stream();
        Ok(Self(multer::Multipart::new(stream, boundary)))
    }
}

poem_openapi::impl_apirequest_for_payload!(MediaUpload,);

/// A media's bytes, as stored, with their type and length.
pub struct MediaBytes {
    pub mime: &'static str,
    pub size: u64,
    pub body: poem::Body,
}

impl IntoResponse for MediaBytes {
    fn into_response(self) -> Response {
        Response::builder()
            .content_type(self.mime)
            .header(poem::http::header::CONTENT_LENGTH, self.size)
            .header(poem::http::header::CACHE_CONTROL, "private, max-age=3600")
            .header("X-Content-Type-Options", "nosniff")
            .body(self.body)
    }
}

impl ApiResponse for MediaBytes {
    fn meta() -> MetaResponses {
        let binary = <poem_openapi::types::Binary<Vec<u8>> as Type>::schema_ref();
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The media's bytes.",
                status: Some(200),
                status_range: None,
                content: MediaFormat::ALL
                    .iter()
                    .map(|format| MetaMediaType {
                        content_type: format.mime(),
                        schema: binary.clone(),
                    })
                    .collect(),
                headers: vec![],
            }],
        }
    }

    fn register(_registry: &mut Registry) {}
}

/// `POST /v1/media/{id}/poster`'s body: the frame, a JPEG (within `MAX_BODY_BYTES`; the
/// web app sends one at most 720 pixels wide).
#[derive(Debug, poem_openapi::ApiRequest)]
pub enum PosterBody {
    #[oai(content_type = "image/jpeg")]
    Jpeg(poem_openapi::payload::Binary<Vec<u8>>),
}

impl PosterBody {
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Self::Jpeg(bytes) => bytes.0,
        }
    }
}
