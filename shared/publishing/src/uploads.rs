//! An entry's uploaded media on a platform: each upload, in order, in the copy the platform
//! takes (as uploaded, else its JPEG copy), addressed by a signed URL for platforms that
//! fetch it and by its store key for adapters that upload the bytes themselves.

use super::{Adapter, Failure};
use almanac_shared::{
    domain::publish::{
        Post,
        post::{MediaKind, Medium, PostMedia, Source},
    },
    fetch::{FetchError, Fetcher},
    media::{Copy, Media, MediaStore},
    store::calendars::{Publishable, StoredUpload},
};

/// The post `entry` makes on `adapter`'s platform: every upload it names, in order, in the
/// copy the platform takes (the first also as the post's `upload`); an upload of which it
/// takes no copy is refused at `media`. Its first comment where the platform takes one.
pub fn post(entry: &Publishable, adapter: &dyn Adapter, media: &Media) -> Post {
    let mut post = entry.post();
    if !adapter.profile().first_comment {
        // Left out, as its note says (`FIRST_COMMENT_LEFT_OUT`).
        post.first_comment = None;
    }
    let Some(first) = entry.uploads.0.first() else {
        return post;
    };
    let taken = |kind| adapter.profile().media_formats.of(kind);
    let mut unsupported = None;
    for upload in &entry.uploads.0 {
        match copy(upload, taken(upload.kind)) {
            Some((copy, mime, key)) => post.items.push(Medium {
                kind: upload.kind,
                url: media.url(upload.id, copy),
                upload: PostMedia {
                    id: upload.id,
                    mime: mime.to_owned(),
                    alt_text: upload.alt_text.clone(),
                    key: key.clone(),
                    duration_ms: upload.duration_ms.and_then(|ms| u32::try_from(ms).ok()),
                    width: upload.width.and_then(|w| u32::try_from(w).ok()),
                },
            }),
            None => {
                unsupported.get_or_insert(upload.mime.as_str());
            }
        }
    }
    if adapter.profile().carousel.is_none() {
        // One medium a post: the first goes, as its note says (`FIRST_MEDIA_ONLY`).
        post.items.truncate(1);
    }
    let sent = match (unsupported, post.items.first()) {
        (None, Some(medium)) => Some((medium.upload.clone(), medium.url.clone())),
        _ => None,
    };
    let mime = unsupported.unwrap_or(&first.mime).to_owned();
    post.with_upload(first.kind, &mime, sent)
}

/// The copy of `upload` taken in `formats`: as uploaded, else its JPEG copy; its type and
/// key.
fn copy<'a>(upload: &'a StoredUpload, formats: &[&str]) -> Option<(Copy, &'a str, &'a String)> {
    if formats.contains(&upload.mime.as_str()) {
        return Some((Copy::Original, upload.mime.as_str(), &upload.object_key));
    }
    upload
        .jpeg_key
        .as_ref()
        .filter(|_| formats.contains(&"image/jpeg"))
        .map(|key| (Copy::Jpeg, "image/jpeg", key))
}

/// What the post leaves out of the entry, for the person to know before it goes: an entry
/// naming several media on a platform without carousels posts the first only
/// (`FIRST_MEDIA_ONLY`, with the first one's `kind` and how many the entry `named`); a
/// first comment on a platform that takes none is left out (`FIRST_COMMENT_LEFT_OUT`).
pub fn notes(entry: &Publishable, adapter: &dyn Adapter) -> Vec<serde_json::Value> {
    let mut notes = Vec::new();
    let uploads = &entry.uploads.0;
    let profile = adapter.profile();
    if let Some(first) = uploads.first().filter(|_| uploads.len() > 1)
        && profile.carousel.is_none()
    {
        let noun = match first.kind {
            MediaKind::Photo => "picture",
            MediaKind::Video => "video",
        };
        notes.push(serde_json::json!({
            "code": "FIRST_MEDIA_ONLY",
            "message": format!(
                "{} will post the first {noun} only; the entry names {} media",
                adapter.label(),
                uploads.len()
            ),
            "kind": first.kind,
            "named": uploads.len(),
        }));
    }
    if !profile.first_comment && !entry.first_comment.trim().is_empty() {
        notes.push(serde_json::json!({
            "code": "FIRST_COMMENT_LEFT_OUT",
            "message": format!(
                "{} takes no comment from other apps: the first comment is left out",
                adapter.label()
            ),
        }));
    }
    notes
}

/// A post's image or video as bytes, for adapters that upload it themselves (LinkedIn's
/// and Bluesky's images, YouTube's videos): an upload read from the media store, else
/// fetched from the entry's media URL under the outside fetch rules, at most `max_bytes`
/// either way.
pub struct MediaReader {
    store: MediaStore,
    fetch: Fetcher,
    max_bytes: usize,
    /// What it reads, as its refusals name it ("image", "video").
    noun: &'static str,
}

impl MediaReader {
    /// A reader of images, fetching through `fetch` (the registry's guarded fetcher).
    pub fn new(store: MediaStore, fetch: Fetcher, max_bytes: usize) -> Self {
        Self::of("image", store, fetch, max_bytes)
    }

    /// A reader of videos.
    pub fn videos(store: MediaStore, fetch: Fetcher, max_bytes: usize) -> Self {
        Self::of("video", store, fetch, max_bytes)
    }

    fn of(noun: &'static str, store: MediaStore, fetch: Fetcher, max_bytes: usize) -> Self {
        Self {
            store,
            fetch,
            max_bytes,
            noun,
        }
    }

    /// The media of `post` (its upload, else `media_url`), for the platform called `label`.
    pub async fn read(
        &self,
        post: &Post,
        media_url: &str,
        label: &str,
    ) -> Result<bytes::Bytes, Failure> {
        let upload = post.upload.as_ref();
        self.read_source(
            Source {
                upload,
                url: media_url,
            },
            label,
        )
        .await
    }

    /// One medium (its upload from the store, else its address fetched), for the platform
    /// called `label`.
    pub async fn read_source(
        &self,
        source: Source<'_>,
        label: &str,
    ) -> Result<bytes::Bytes, Failure> {
        let Source {
            upload,
            url: media_url,
        } = source;
        let bytes = match upload {
            Some(upload) => self
                .store
                .read(&upload.key)
                .await
                .map_err(|error| match error {
                    object_store::Error::NotFound { .. } => Failure::permanent(
                        "MEDIA_UNREACHABLE",
                        format!(
                            "the entry's uploaded {} is no longer in the media store",
                            self.noun
                        ),
                    ),
                    error => Failure::retryable(
                        "MEDIA_STORE_UNAVAILABLE",
                        format!("the media store did not answer: {error}"),
                    ),
                })?,
            None => {
                let url = url::Url::parse(media_url).map_err(|_| {
                    Failure::permanent(
                        "MEDIA_UNREACHABLE",
                        format!("the entry's media URL `{media_url}` is not a URL"),
                    )
                })?;
                self.fetch
                    .get_at_most(&url, self.max_bytes)
                    .await
                    .map(bytes::Bytes::from)
                    .map_err(|error| fetch_failure(self.noun, error))?
            }
        };
        if bytes.len() > self.max_bytes {
            return Err(Failure::permanent(
                "MEDIA_TOO_LARGE",
                format!(
                    "the entry's {noun} is {} bytes; {label} takes {noun}s of at most {} bytes: choose a smaller one",
                    bytes.len(),
                    self.max_bytes,
                    noun = self.noun,
                ),
            ));
        }
        Ok(bytes)
    }
}

/// Media (`noun`) that could not be fetched from its media URL, as a refusal.
fn fetch_failure(noun: &str, error: FetchError) -> Failure {
    let message = format!("the entry's {noun} could not be fetched: {error}");
    match error {
        FetchError::Timeout(_) | FetchError::Failed(_) => {
            Failure::retryable("MEDIA_UNREACHABLE", message)
        }
        FetchError::Status(status) if status >= 500 || status == 429 => {
            Failure::retryable("MEDIA_UNREACHABLE", message)
        }
        FetchError::TooLarge(_) => Failure::permanent("MEDIA_TOO_LARGE", message),
        _ => Failure::permanent("MEDIA_UNREACHABLE", message),
    }
}

/// What `entry` sends on its platform (the post, its text composed as the platform shows it)
/// and what the platform's rules refuse in it, as a dry run judges it (no I/O); `None` for
/// a channel no adapter publishes to.
pub fn judged(
    platforms: &super::Platforms,
    entry: &Publishable,
) -> Option<(Post, Vec<super::post::Problem>)> {
    let adapter = platforms.registered(platforms.of_channel(&entry.channel)?);
    let post = post(entry, adapter, &platforms.media);
    let problems = adapter.problems(&post, &super::Options::default());
    Some((post, problems))
}
