//! Media (`docs/media.md`): pictures and videos uploaded once and named by entries
//! (`mediaIds`). The upload is streamed to the media store and exempt from
//! `MAX_BODY_BYTES` and `BODY_TIMEOUT_SECS` (`crate::middleware` gives it
//! `MEDIA_UPLOAD_TIMEOUT_SECS`); its own limits are the formats' sizes and the owner's
//! quota. Platforms fetch media from signed addresses (`GET /media/{token}`).

mod dto;
mod poster;
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

    /// The caller's media, newest first, 100 a page, each with the entries naming it
    /// (`usedBy`), and the bytes they keep; `q` and `tag` narrow them. With `ids`, those of
    /// them (in that order; an id that is not the caller's media is left out).
    #[oai(path = "/v1/media", method = "get", operation_id = "listMedia")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        /// Words its file name, alternative text or a tag contain (case ignored).
        #[oai(validator(
            min_length = 1,
            max_length = 200,
            pattern = r"^[^\u0000-\u001f\u007f]+$"
        ))]
        q: Query<Option<String>>,
        /// Filed under this tag (exactly as kept).
        #[oai(validator(
            min_length = 1,
            max_length = 40,
            pattern = r"^[^\u0000-\u001f\u007f]+$"
        ))]
        tag: Query<Option<String>>,
        /// The `nextCursor` of the page before.
        cursor: Query<Option<Uuid>>,
        /// `cursor`'s former name, still read.
        #[oai(deprecated)]
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
        let words = q.0.as_deref().map(str::trim).filter(|q| !q.is_empty());
        let filter = store::Filter {
            before: cursor.0.or(before.0),
            words,
            tag: tag.0.as_deref().map(str::trim),
        };
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let rows = match &ids {
            Some(ids) => store::owned(&mut tx, ids).await?,
            None => store::list(&mut tx, &filter).await?,
        };
        let (rows, next_cursor) = super::paginate(rows, store::PAGE as u32, |row| row.id);
        let listed: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
        let uses = store::uses(&mut tx, &listed).await?;
        let used_bytes = store::used_bytes(&mut tx).await?;
        tx.commit().await?;
        let mut items: Vec<MediaItem> = rows
            .into_iter()
            .map(|row| MediaItem::of(row, &state.platforms.media))
            .collect();
        MediaItem::used(&mut items, uses);
        Ok(MediaListEnvelope::of(MediaList {
            items,
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
        let item = with_uses(&mut tx, row, &state.platforms.media).await?;
        tx.commit().await?;
        Ok(MediaItemEnvelope::of(item))
    }

    /// Keep a video's poster frame (a JPEG the web app takes from the video, or any
    /// picture of it), shown in its place (`posterUrl`); it replaces the one before. 422
    /// at `id` for a picture, at `body` for bytes that are not a JPEG of at most 4,096
    /// pixels a side.
    #[oai(
        path = "/v1/media/:id/poster",
        method = "post",
        operation_id = "setMediaPoster"
    )]
    async fn poster(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        body: PosterBody,
    ) -> Answer<
        poem_openapi::payload::Json<MediaItemEnvelope>,
        { can::STORED | can::BODY | can::NOT_FOUND | can::UNPROCESSABLE },
    > {
        let bytes = body.into_bytes();
        poster::check(&bytes)?;
        let actor = auth.user().actor();
        let mut tx = user_tx(&state.pool, actor).await?;
        let media = store::owned(&mut tx, &[id.0])
            .await?
            .pop()
            .ok_or_else(|| ApiError::not_found("media"))?;
        if media.kind != almanac_shared::domain::publish::post::MediaKind::Video {
            return Err(ApiError::unprocessable_field(
                "id",
                "is a picture: only a video takes a poster frame",
            )
            .into());
        }
        // Replaced in place: the store writes an object whole, so a poster replaced twice
        // at once keeps one of them.
        let key = almanac_shared::media::store::key(media.user_id, media.id, Copy::Poster);
        state
            .platforms
            .media
            .store
            .put(&key, bytes)
            .await
            .map_err(upload::store_failed)?;
        let row = store::set_poster(&mut tx, id.0, &key)
            .await?
            .ok_or_else(|| ApiError::not_found("media"))?;
        let item = with_uses(&mut tx, row, &state.platforms.media).await?;
        tx.commit().await?;
        tracing::info!(mediaId = %item.id, "a video's poster frame kept");
        Ok(MediaItemEnvelope::of(item))
    }

    /// Delete a media: 409 `MEDIA_IN_USE` while an entry not yet published names it
    /// (`details.usedBy`: the first 20, `details.usedByCount`: how many); the published
    /// entries naming it lose it, their posts stay as they went out.
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
            Deleted::InUse { uses, total } => Err(in_use(uses, total).into()),
            Deleted::Gone { row, entries } => {
                tx.commit().await?;
                // The poster's key whether or not the row names it: a poster whose row was
                // not written still went to the store.
                let poster = almanac_shared::media::store::key(row.user_id, row.id, Copy::Poster);
                let keys = [Some(&row.object_key), row.jpeg_key.as_ref(), Some(&poster)];
                for key in keys.into_iter().flatten() {
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
            Copy::Poster => (
                row.poster_key.as_deref().ok_or_else(not_found)?,
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
            Copy::Poster => "poster",
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

/// `row` as sent, with the entries naming it (read in the caller's transaction `conn`).
async fn with_uses(
    conn: &mut sqlx::PgConnection,
    row: almanac_shared::store::media::MediaRow,
    media: &almanac_shared::media::Media,
) -> sqlx::Result<MediaItem> {
    let uses = store::uses(conn, &[row.id]).await?;
    let mut item = [MediaItem::of(row, media)];
    MediaItem::used(&mut item, uses);
    let [item] = item;
    Ok(item)
}

/// 409 `MEDIA_IN_USE`, naming the entries still to go out that name the media.
fn in_use(uses: Vec<store::Use>, total: i64) -> ApiError {
    let named: Vec<String> = uses
        .iter()
        .take(3)
        .map(|used| {
            format!(
                "“{}” ({}, {})",
                used.title,
                used.channel,
                used.scheduled_at.format("%Y-%m-%d")
            )
        })
        .collect();
    let more = total - named.len() as i64;
    let message = format!(
        "{} entr{} still to go out use{} this media: {}{}. Take it out of {} first",
        total,
        if total == 1 { "y" } else { "ies" },
        if total == 1 { "s" } else { "" },
        named.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        },
        if total == 1 { "it" } else { "them" },
    );
    let used_by: Vec<MediaUse> = uses.into_iter().map(MediaUse::from).collect();
    let used_by = poem_openapi::types::ToJSON::to_json(&used_by);
    ApiError::Conflict(crate::error::ErrorEnvelope::new(
        "MEDIA_IN_USE",
        message,
        Some(serde_json::json!({ "usedBy": used_by, "usedByCount": total })),
    ))
}
