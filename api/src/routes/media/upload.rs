//! An upload, as it arrives: the file's format read from its first bytes, the bytes written
//! to the store part by part and counted against the format's limit and the owner's quota
//! (refused as soon as they pass either, reading no further), then an image's dimensions
//! and JPEG copy, then the row, counted again under the owner's lock.

use almanac_shared::domain::publish::post::MediaKind;
use almanac_shared::workspaces::Actor;
use almanac_shared::{
    media::{Copy, Media, MediaFormat, format::SNIFF_BYTES, image, mp4, store},
    store::{media as rows, media::MediaRow, user_tx},
};
use sqlx::PgPool;
use uuid::Uuid;

use super::dto::ALT_TEXT_MAX;
use crate::error::ApiError;

/// The most the `altText` part may hold.
const SMALL_PART_BYTES: usize = 8 * 1024;

/// What an upload asks for.
pub struct Upload<'a> {
    pub pool: &'a PgPool,
    pub media: &'a Media,
    /// Who uploads, and into which workspace (whose quota it counts against).
    pub actor: Actor,
    pub quota: u64,
}

/// A file in the store, not yet in a row.
struct Stored {
    id: Uuid,
    format: MediaFormat,
    bytes: u64,
    file_name: String,
    key: String,
}

impl Upload<'_> {
    /// Reads the parts, stores the file and records it.
    pub async fn receive(
        &self,
        mut parts: multer::Multipart<'static>,
    ) -> Result<MediaRow, ApiError> {
        let mut tx = user_tx(self.pool, self.actor).await?;
        let used = rows::used_bytes(&mut tx).await?.max(0) as u64;
        tx.commit().await?;
        let room = self.quota.saturating_sub(used);
        let mut alt_text = String::new();
        let mut stored: Option<Stored> = None;
        let outcome = async {
            while let Some(part) = parts.next_field().await.map_err(unreadable)? {
                match part.name() {
                    Some("file") if stored.is_none() => {
                        stored = Some(self.store_file(part, room).await?);
                    }
                    Some("file") => {
                        return Err(ApiError::unprocessable_field(
                            "file",
                            "send one file per upload",
                        ));
                    }
                    Some("altText") => alt_text = small_text(part, "altText").await?,
                    other => {
                        let name = other.unwrap_or_default().to_owned();
                        return Err(ApiError::unprocessable_field(
                            &name,
                            "is not a part of an upload: send `file` and, optionally, `altText`",
                        ));
                    }
                }
            }
            if alt_text.chars().count() > ALT_TEXT_MAX {
                return Err(ApiError::unprocessable_field(
                    "altText",
                    format!("at most {ALT_TEXT_MAX} characters"),
                ));
            }
            Ok(())
        }
        .await;
        let Some(file) = stored else {
            outcome?;
            return Err(ApiError::unprocessable_field(
                "file",
                "choose a picture or a video to upload (a part named `file`)",
            ));
        };
        let recorded = match outcome {
            Ok(()) => self.record(&file, alt_text.trim()).await,
            Err(error) => Err(error),
        };
        if recorded.is_err() {
            self.forget(&file).await;
        }
        recorded
    }

    /// The file part into the store: refused, with nothing left behind, once its bytes pass
    /// the format's limit or the owner's room.
    async fn store_file(
        &self,
        mut part: multer::Field<'static>,
        room: u64,
    ) -> Result<Stored, ApiError> {
        let id = Uuid::now_v7();
        let key = store::key(self.actor.user, id, Copy::Original);
        // Kept for its owner to recognise: control characters (a NUL Postgres cannot
        // store) are left out.
        let file_name: String = part
            .file_name()
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .take(255)
            .collect();
        let mut head: Vec<u8> = Vec::with_capacity(SNIFF_BYTES);
        let mut format: Option<MediaFormat> = None;
        let mut writer: Option<store::Writer> = None;
        let mut total: u64 = 0;
        let result = async {
            loop {
                let chunk = part.chunk().await.map_err(unreadable)?;
                let at_end = chunk.is_none();
                if let Some(chunk) = &chunk {
                    total += chunk.len() as u64;
                    if format.is_none() {
                        head.extend_from_slice(chunk);
                    } else if let Some(writer) = writer.as_mut() {
                        writer.write(chunk).await.map_err(store_failed)?;
                    }
                }
                if format.is_none() && (head.len() >= SNIFF_BYTES || at_end) {
                    let sniffed = MediaFormat::sniff(&head).ok_or_else(not_media)?;
                    format = Some(sniffed);
                    let mut opened = self.media.store.writer(&key).await.map_err(store_failed)?;
                    opened.write(&head).await.map_err(store_failed)?;
                    writer = Some(opened);
                    head = Vec::new();
                }
                if let Some(format) = format {
                    if total > format.max_bytes() {
                        return Err(too_large(format));
                    }
                    if total > room {
                        return Err(quota_exceeded(self.quota));
                    }
                } else if total > MediaFormat::largest() {
                    return Err(not_media());
                }
                if at_end {
                    return Ok(());
                }
            }
        }
        .await;
        let Some(format) = format else {
            result?;
            return Err(not_media());
        };
        match (result, writer) {
            (Ok(()), Some(writer)) => {
                writer.finish().await.map_err(store_failed)?;
                Ok(Stored {
                    id,
                    format,
                    bytes: total,
                    file_name,
                    key,
                })
            }
            (Err(error), Some(writer)) => {
                writer.abort().await;
                Err(error)
            }
            (Err(error), None) => Err(error),
            (Ok(()), None) => Err(not_media()),
        }
    }

    /// An image's dimensions and JPEG copy, or a video's length and frame, then the row,
    /// within the quota counted under the owner's lock (concurrent uploads cannot pass it
    /// together).
    async fn record(&self, file: &Stored, alt_text: &str) -> Result<MediaRow, ApiError> {
        let (width, height, jpeg_key, duration_ms) = match file.format.kind() {
            MediaKind::Photo => {
                let (width, height, jpeg_key) = self.image(file).await?;
                (width, height, jpeg_key, None)
            }
            MediaKind::Video => {
                let video = self.video(file).await?;
                let duration_ms = video.duration_ms.map(|ms| ms.min(i32::MAX as u32) as i32);
                let frame = |side: u32| Some(side.min(i32::MAX as u32) as i32);
                (frame(video.width), frame(video.height), None, duration_ms)
            }
        };
        let mut tx = user_tx(self.pool, self.actor).await?;
        let used = rows::used_bytes_for_adding(&mut tx, self.actor.workspace)
            .await?
            .max(0) as u64;
        if used + file.bytes > self.quota {
            return Err(quota_exceeded(self.quota));
        }
        let row = rows::insert(
            &mut tx,
            &MediaRow {
                id: file.id,
                user_id: self.actor.user,
                kind: file.format.kind(),
                mime: file.format.mime().to_owned(),
                bytes: file.bytes as i64,
                width,
                height,
                duration_ms,
                alt_text: alt_text.to_owned(),
                tags: Vec::new(),
                file_name: file.file_name.clone(),
                object_key: file.key.clone(),
                jpeg_key,
                poster_key: None,
                created_at: chrono::Utc::now(),
            },
        )
        .await?;
        tx.commit().await?;
        tracing::info!(mediaId = %file.id, mime = file.format.mime(), bytes = file.bytes, "media uploaded");
        Ok(row)
    }

    /// An image read back from the store: its dimensions (capped), and a JPEG copy of a PNG
    /// or WebP, stored beside it.
    async fn image(
        &self,
        file: &Stored,
    ) -> Result<(Option<i32>, Option<i32>, Option<String>), ApiError> {
        let bytes = self
            .media
            .store
            .read(&file.key)
            .await
            .map_err(store_failed)?;
        let format = file.format;
        // The headers first (no pixel allocated), then the decode, in turn with the
        // process's other decodes (`MEDIA_DECODE_CONCURRENCY`).
        let dimensions = image::dimensions(format, &bytes)
            .map_err(|problem| ApiError::unprocessable_field("file", problem.to_string()))?;
        let made = self
            .media
            .decodes
            .run(move || {
                let jpeg = format
                    .has_rendition()
                    .then(|| image::jpeg_copy(format, &bytes))
                    .transpose()?;
                Ok::<_, image::ImageProblem>((dimensions, jpeg))
            })
            .await
            .map_err(|e| ApiError::internal(e.into()))?
            .map_err(|problem| ApiError::unprocessable_field("file", problem.to_string()))?;
        let (dimensions, jpeg) = made;
        let jpeg_key = match jpeg {
            Some(jpeg) => {
                let key = store::key(self.actor.user, file.id, Copy::Jpeg);
                self.media
                    .store
                    .put(&key, jpeg)
                    .await
                    .map_err(store_failed)?;
                Some(key)
            }
            None => None,
        };
        Ok((
            Some(dimensions.width as i32),
            Some(dimensions.height as i32),
            jpeg_key,
        ))
    }

    /// A video's length and frame, read from its header in the store (a few small reads,
    /// then its `moov` box).
    async fn video(&self, file: &Stored) -> Result<mp4::VideoInfo, ApiError> {
        mp4::read(&self.media.store, &file.key, file.bytes)
            .await
            .map_err(|error| match error {
                mp4::ReadError::File(problem) => {
                    ApiError::unprocessable_field("file", problem.to_string())
                }
                mp4::ReadError::Store(error) => store_failed(error),
            })
    }

    /// A refused upload's objects, removed.
    async fn forget(&self, file: &Stored) {
        for copy in [Copy::Original, Copy::Jpeg] {
            if let Err(error) = self
                .media
                .store
                .delete(&store::key(self.actor.user, file.id, copy))
                .await
            {
                tracing::warn!(%error, mediaId = %file.id, "a refused upload's object was not removed");
            }
        }
    }
}

/// A small part's text (at most [`SMALL_PART_BYTES`]).
async fn small_text(mut part: multer::Field<'static>, name: &str) -> Result<String, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = part.chunk().await.map_err(unreadable)? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > SMALL_PART_BYTES {
            return Err(ApiError::unprocessable_field(name, "too long"));
        }
    }
    String::from_utf8(bytes)
        .ok()
        .filter(|text| !text.contains('\0'))
        .ok_or_else(|| {
            ApiError::unprocessable_field(name, "must be UTF-8 text without NUL characters")
        })
}

fn unreadable(error: multer::Error) -> ApiError {
    ApiError::bad_request(
        format!("the multipart body could not be read: {error}"),
        None,
    )
}

fn not_media() -> ApiError {
    ApiError::unprocessable_field(
        "file",
        "is not a JPEG, PNG or WebP image or an MP4 video (read from its bytes, whatever its name)",
    )
}

fn too_large(format: MediaFormat) -> ApiError {
    let what = match format.kind() {
        MediaKind::Photo => "an image",
        MediaKind::Video => "a video",
    };
    ApiError::too_large(
        "MEDIA_TOO_LARGE",
        format!(
            "{what} may be at most {} MiB; this one is larger",
            format.max_bytes() / (1024 * 1024)
        ),
    )
}

fn quota_exceeded(quota: u64) -> ApiError {
    ApiError::unprocessable(
        "MEDIA_QUOTA_EXCEEDED",
        format!(
            "this upload would take your media past {} MiB (MEDIA_MAX_BYTES_PER_WORKSPACE): delete media you no longer use first",
            quota / (1024 * 1024)
        ),
    )
}

/// A failure of the media store, logged: 503.
pub(super) fn store_failed(error: object_store::Error) -> ApiError {
    tracing::error!(%error, "the media store failed");
    ApiError::unavailable("media store")
}
