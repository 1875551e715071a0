//! An entry's uploaded media on a platform: the first upload, in the copy the platform
//! takes (as uploaded, else its JPEG copy), addressed by a signed URL for platforms that
//! fetch it and by its store key for adapters that upload the bytes themselves.

use super::{Adapter, Failure};
use almanac_shared::{
    domain::publish::{
        Post,
        post::{MediaKind, PostMedia},
    },
    fetch::{FetchError, Fetcher},
    media::{Copy, Media, MediaStore},
    store::calendars::Publishable,
};

/// The post `entry` makes on `adapter`'s platform.
pub fn post(entry: &Publishable, adapter: &dyn Adapter, media: &Media) -> Post {
    let post = entry.post();
    let Some(upload) = entry.uploads.0.first() else {
        return post;
    };
    let kind = upload.kind;
    let taken = adapter.profile().media_formats.of(kind);
    let copy = if taken.contains(&upload.mime.as_str()) {
        Some((Copy::Original, upload.mime.as_str(), &upload.object_key))
    } else {
        upload
            .jpeg_key
            .as_ref()
            .filter(|_| taken.contains(&"image/jpeg"))
            .map(|key| (Copy::Jpeg, "image/jpeg", key))
    };
    let copy = copy.map(|(copy, mime, key)| {
        let sent = PostMedia {
            id: upload.id,
            mime: mime.to_owned(),
            alt_text: upload.alt_text.clone(),
            key: key.clone(),
        };
        (sent, media.url(upload.id, copy))
    });
    post.with_upload(kind, &upload.mime, copy)
}

/// What the post leaves out of the entry, for the person to know before it goes: an entry
/// naming several media posts the first only (`FIRST_MEDIA_ONLY`, with the first one's
/// `kind` and how many the entry `named`).
pub fn notes(entry: &Publishable, adapter: &dyn Adapter) -> Vec<serde_json::Value> {
    let uploads = &entry.uploads.0;
    let Some(first) = uploads.first().filter(|_| uploads.len() > 1) else {
        return Vec::new();
    };
    let noun = match first.kind {
        MediaKind::Photo => "picture",
        MediaKind::Video => "video",
    };
    vec![serde_json::json!({
        "code": "FIRST_MEDIA_ONLY",
        "message": format!(
            "{} will post the first {noun} only; the entry names {} media",
            adapter.label(),
            uploads.len()
        ),
        "kind": first.kind,
        "named": uploads.len(),
    })]
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
        let bytes = match &post.upload {
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
    let problems = adapter.validate(&post, &super::Options::default());
    Some((post, problems))
}
