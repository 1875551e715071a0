//! What needs an operator's eye besides the jobs: webhook endpoints Almanac disabled, and
//! channels whose owners must connect them again (or soon).

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// How many of each the console lists (the newest); the totals count them all.
pub const LISTED: i64 = 20;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DisabledEndpoint {
    pub id: Uuid,
    pub user_id: Uuid,
    pub workspace_id: Uuid,
    pub disabled_at: DateTime<Utc>,
    pub disabled_reason: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChannelToReconnect {
    pub id: Uuid,
    pub user_id: Uuid,
    pub workspace_id: Uuid,
    pub platform: String,
    /// `needs_reauth`, or `connected` with a `reconnect_by` coming.
    pub status: String,
    pub status_reason: Option<String>,
    pub reconnect_by: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct Attention {
    pub disabled_endpoints: i64,
    pub endpoints: Vec<DisabledEndpoint>,
    pub channels_to_reconnect: i64,
    pub channels: Vec<ChannelToReconnect>,
}

pub async fn attention(pool: &PgPool) -> sqlx::Result<Attention> {
    let (disabled_endpoints, channels_to_reconnect): (i64, i64) = sqlx::query_as(
        "select (select count(*) from webhook_endpoints where disabled_at is not null),
                (select count(*) from platform_accounts
                 where status = 'needs_reauth' or (status = 'connected' and reconnect_by is not null))",
    )
    .fetch_one(pool)
    .await?;
    let endpoints = sqlx::query_as(
        "select id, user_id, workspace_id, disabled_at, disabled_reason from webhook_endpoints
         where disabled_at is not null order by disabled_at desc limit $1",
    )
    .bind(LISTED)
    .fetch_all(pool)
    .await?;
    let channels = sqlx::query_as(
        "select id, user_id, workspace_id, platform, status, status_reason, reconnect_by
         from platform_accounts
         where status = 'needs_reauth' or (status = 'connected' and reconnect_by is not null)
         order by status = 'needs_reauth' desc, coalesce(reconnect_by, updated_at), id
         limit $1",
    )
    .bind(LISTED)
    .fetch_all(pool)
    .await?;
    Ok(Attention {
        disabled_endpoints,
        endpoints,
        channels_to_reconnect,
        channels,
    })
}
