//! A channel's posting quota as it stands (issue 84): `GET /v1/channels/{id}/quota`, read
//! where it bites (the channel, the composer, the queue).

use almanac_publishing::posting_queue;
use almanac_shared::store::user_tx;
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Path, payload::Json};
use uuid::Uuid;

use super::{Tag, queue::runner};
use crate::routes::platforms::dto::{QuotaCountsDto, QuotaDto, QuotaScopeDto};
use crate::{
    auth::UserAuth,
    envelope::Envelope,
    error::{Answer, ApiError, can},
    state::AppState,
};

/// A channel's posting quota as it stands now.
#[derive(Debug, Clone, Object)]
#[oai(rename = "ChannelQuota", rename_all = "camelCase")]
pub struct ChannelQuota {
    /// The most posts (or, for TikTok's inbox, drafts) the window holds; null where the
    /// platform documents no limit (then nothing else is said).
    #[oai(nullable)]
    pub limit: Option<u32>,
    /// What Almanac counts of it in the window up to now (its own publishes: posts made
    /// elsewhere are the platform's to count).
    pub used: u32,
    /// `posts`, or `drafts` (sent to the account's inbox and not yet posted from it).
    #[oai(nullable)]
    pub counts: Option<QuotaCountsDto>,
    /// The window, in seconds.
    #[oai(nullable)]
    pub window_secs: Option<u32>,
    /// When a place frees, once it is full; null while there is room.
    #[oai(nullable)]
    pub frees_at: Option<DateTime<Utc>>,
    /// Whose posts it counts: each account's, or the whole server's.
    #[oai(nullable)]
    pub per: Option<QuotaScopeDto>,
    /// In the catalogue's words, once it is full: whose quota, and that it is spent.
    #[oai(nullable)]
    pub message: Option<String>,
}

crate::enveloped!(ChannelQuota);

pub type ChannelQuotaEnvelope = Envelope<ChannelQuota>;

#[derive(Default)]
pub struct QuotaApi;

#[OpenApi(tag = "Tag::Publishing")]
impl QuotaApi {
    /// A channel's posting quota now: the platform's limit, what Almanac counts of it in
    /// the window, and when a place frees once it is full (where it bites: the channel,
    /// the composer, the queue).
    #[oai(
        path = "/v1/channels/:id/quota",
        method = "get",
        operation_id = "getChannelQuota"
    )]
    async fn quota(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<Json<ChannelQuotaEnvelope>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }>
    {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let quota = posting_queue::quota_state(&runner(&state), &mut tx, id.0)
            .await?
            .ok_or_else(|| ApiError::not_found("channel"))?;
        tx.commit().await?;
        let limits = quota.quota.map(QuotaDto::from);
        Ok(ChannelQuotaEnvelope::of(ChannelQuota {
            limit: limits.as_ref().map(|q| q.limit),
            used: quota.used,
            counts: limits.as_ref().map(|q| q.counts),
            window_secs: limits.as_ref().map(|q| q.window_secs),
            frees_at: quota.frees_at,
            per: limits.as_ref().map(|q| q.per),
            message: quota.message,
        }))
    }
}
