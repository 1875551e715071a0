//! Media (`docs/media.md`): pictures and videos uploaded once and named by entries
//! (`mediaIds`). The upload is streamed to the media store and exempt from
//! `MAX_BODY_BYTES` and `BODY_TIMEOUT_SECS` (`crate::middleware` gives it
//! `MEDIA_UPLOAD_TIMEOUT_SECS`); its own limits are the formats' sizes and the owner's
//! quota. Platforms fetch media from signed addresses (`GET /media/{token}`).

mod dto;
mod upload;

pub use dto::*;

use almanac_shared::{
    media::{Copy, MediaFormat, token::TOKEN_CHARS},
    store::{media as store, media::Deleted, user_tx},
};
use poem::web::Data;
use poem_openapi::{
    OpenApi,
    param::{Path, Query},
};
use uuid::Uuid;

use super::Tag;
use crate::responses::{Created, NoContent};
use crate::{
    auth::UserAuth,
    error::{Answer, ApiError, can},
    state::AppState,
};

/// The route the middleware streams (`crate::middleware::body`).
pub const UPLOAD_PATH: &str = "/v1/media";

#[derive(Default)]
pub struct MediaApi;

#[OpenApi(tag = "Tag::Media")]
impl MediaApi {
    /// Upload a picture or a video (`multipart/form-data`: `file`, and `altText`
    /// optionally). JPEG, PNG or WebP up to 8 MiB (at most 10,000 pixels a side and 40
    /// megapixels), MP4 up to 256 MiB, the format read from the bytes; a PNG or WebP also
    /// gets a JPEG copy. 413 `MEDIA_TOO_LARGE` as soon as the bytes pass the limit; 422
    /// `MEDIA_QUOTA_EXCEEDED` past `MEDIA_MAX_BYTES_PER_WORKSPACE`; the body may take
    /// `MEDIA_UPLOAD_TIMEOUT_SECS` (then 408).
    #[oai(path = "/v1/media", method = "post", operation_id = "uploadMedia")]
    async fn upload(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        body: MediaUpload,
    ) -> Answer<Created<MediaItemEnvelope>, { can::STORED | can::BODY | can::UNPROCESSABLE }> {
        let row = upload::Upload {
            pool: &state.pool,
            media: &state.platforms.media,
            actor: auth.user().actor(),
            quota: state.settings.media.max_bytes_per_workspace,
        }
        .receive(body.0)
        .await?;
        Ok(Created::Created(MediaItemEnvelope::of(MediaItem::of(
            row,
            &state.platforms.media,
        ))))
    }

    /// The caller's media, newest first, 100 a page, with the bytes they keep; or, with
    /// `ids`, those of them (in that order; an id that is not the caller's media is left
    /// out).
    #[oai(path = "/v1/media", method = "get", operation_id = "listMedia")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        /// The `nextCursor` of the page before.
        before: Query<Option<Uuid>>,
        /// At most 100 media ids (`?ids=a&ids=b`): these media only (what entries name),
        /// on one page.
        ids: Query<Option<Vec<Uuid>>>,
    ) -> Answer<poem_openapi::payload::Json<MediaListEnvelope>, { can::BAD_REQUEST | can::STORED }>
    {
        // An absent `ids` reads as an empty list: the newest page then.
        let ids = ids.0.filter(|ids| !ids.is_empty());
        if ids
            .as_ref()
            .is_some_and(|ids| ids.len() > store::PAGE as usize)
        {
            return Err(ApiError::bad_request(
                format!("ask for at most {} media at a time", store::PAGE),
                Some(serde_json::json!({ "field": "ids" })),
            )
            .into());
        }
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let rows = match &ids {
            Some(ids) => store::owned(&mut tx, ids).await?,
            None => store::list(&mut tx, before.0).await?,
        };
        let used_bytes = store::used_bytes(&mut tx).await?;
        tx.commit().await?;
        let (rows, next_cursor) = super::paginate(rows, store::PAGE as u32, |row| row.id);
        Ok(MediaListEnvelope::of(MediaList {
            items: rows
                .into_iter()
                .map(|row| MediaItem::of(row, &state.platforms.media))
                .collect(),
            next_cursor,
            used_bytes,
            max_bytes: state
                .settings
                .media
                .max_bytes_per_workspace
                .min(i64::MAX as u64) as i64,
        }))
    }

    /// Change a media's alternative text (sent where the platform takes one, by every
    /// publish from now on) or its tags.
    #[oai(path = "/v1/media/:id", method = "patch", operation_id = "updateMedia")]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        body: crate::body::StrictJson<MediaPatch>,
    ) -> Answer<
        poem_openapi::payload::Json<MediaItemEnvelope>,
        { can::STORED | can::BODY | can::NOT_FOUND | can::UNPROCESSABLE },
    > {
        let (alt_text, tags) = body.0.checked()?;
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let row = store::update(&mut tx, id.0, alt_text.as_deref(), tags.as_deref())
            .await?
            .ok_or_else(|| ApiError::not_found("media"))?;
        tx.commit().await?;
        Ok(MediaItemEnvelope::of(MediaItem::of(
            row,
            &state.platforms.media,
        )))
    }

    /// Delete a media: 409 `MEDIA_IN_USE` while a `scheduled` or `publishing` intent posts
    /// it; entries that only name it lose it.
    #[oai(
        path = "/v1/media/:id",
        method = "delete",
        operation_id = "deleteMedia"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<NoContent, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND | can::CONFLICT }>
    {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        match store::delete(&mut tx, id.0).await? {
            Deleted::NotFound => Err(ApiError::not_found("media").into()),
            Deleted::InUse { intents } => Err(ApiError::conflict(
                "MEDIA_IN_USE",
                format!(
                    "{intents} scheduled post{} use{} this media: cancel {} or wait until {} published",
                    if intents == 1 { "" } else { "s" },
                    if intents == 1 { "s" } else { "" },
                    if intents == 1 { "it" } else { "them" },
                    if intents == 1 { "it is" } else { "they are" },
                ),
            )
            .into()),
            Deleted::Gone { row, entries } => {
                tx.commit().await?;
                for key in std::iter::once(&row.object_key).chain(row.jpeg_key.as_ref()) {
                    if let Err(error) = state.platforms.media.store.delete(key).await {
                        tracing::warn!(%error, mediaId = %row.id, "a deleted media's object was not removed");
                    }
                }
                tracing::info!(mediaId = %row.id, entries, "media deleted");
                Ok(NoContent::Done)
            }
        }
    }

    /// A media's bytes at a signed address (`MediaItem.url`; what platforms fetch): no
    /// header needed, the address is the secret and expires. A forged, expired or deleted
    /// one is 404.
    #[oai(
        path = "/media/:media_token",
        method = "get",
        operation_id = "getMediaBytes"
    )]
    async fn bytes(
        &self,
        state: Data<&AppState>,
        #[oai(validator(max_length = 64))] media_token: Path<String>,
    ) -> Answer<MediaBytes, { can::BAD_REQUEST | can::NOT_FOUND | can::INTERNAL | can::UNAVAILABLE }>
    {
        let not_found = || ApiError::not_found("media");
        if media_token.0.len() != TOKEN_CHARS {
            return Err(not_found().into());
        }
        let signed = state
            .platforms
            .media
            .verify(&media_token.0)
            .ok_or_else(not_found)?;
        let row = store::by_id(&state.pool, signed.media_id)
            .await?
            .ok_or_else(not_found)?;
        let (key, mime) = match signed.copy {
            Copy::Original => (
                row.object_key.as_str(),
                MediaFormat::from_mime(&row.mime).map_or("application/octet-stream", |f| f.mime()),
            ),
            Copy::Jpeg => (
                row.jpeg_key.as_deref().ok_or_else(not_found)?,
                MediaFormat::Jpeg.mime(),
            ),
        };
        let (size, stream) = state
            .platforms
            .media
            .store
            .stream(key)
            .await
            .map_err(|error| match error {
                object_store::Error::NotFound { .. } => not_found(),
                error => upload::store_failed(error),
            })?;
        metrics::counter!("media_fetches_total", "copy" => match signed.copy {
            Copy::Original => "original",
            Copy::Jpeg => "jpeg",
        })
        .increment(1);
        tracing::info!(mediaId = %row.id, "media fetched by its address");
        use futures::TryStreamExt;
        Ok(MediaBytes {
            mime,
            size,
            body: poem::Body::from_bytes_stream(stream.map_err(std::io::Error::other)),
        })
    }
}
