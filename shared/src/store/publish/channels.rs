//! Channels' rows (`platform_accounts`): platform accounts with credentials, which are
//! written sealed (`crate::crypto`) and read sealed; and a connect's single-use `state`
//! (`oauth_states`).

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgConnection, PgPool};
use uuid::Uuid;

use crate::workspaces::Actor;

use crate::domain::publish::Platform;

const CHANNEL_COLUMNS: &str = "a.id, a.platform, a.account_id, a.handle, a.display_name, a.status,
    a.status_reason, a.token_expires_at as expires_at, a.reconnect_by, a.scope, a.connected_at,
    a.created_at, a.updated_at, a.analytics_refused";

/// A channel as its owner sees it (never its tokens).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChannelRow {
    pub id: Uuid,
    pub platform: String,
    pub account_id: String,
    pub handle: Option<String>,
    pub display_name: Option<String>,
    pub status: String,
    pub status_reason: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub reconnect_by: Option<DateTime<Utc>>,
    pub scope: Option<String>,
    pub connected_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Why its posts' numbers cannot be read: the platform refused the permission.
    pub analytics_refused: Option<String>,
}

/// The caller's channels (every platform account), by platform and account.
pub async fn list(conn: &mut PgConnection) -> sqlx::Result<Vec<ChannelRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {CHANNEL_COLUMNS} from platform_accounts a order by a.platform, a.account_id"
    )))
    .fetch_all(conn)
    .await
}

/// The caller's channel `id`, if they have it.
pub async fn find(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<ChannelRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {CHANNEL_COLUMNS} from platform_accounts a where a.id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<ChannelRow> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {CHANNEL_COLUMNS} from platform_accounts a where a.id = $1"
    )))
    .bind(id)
    .fetch_one(conn)
    .await
}

/// A channel as a publish request picks it: whether it holds a token.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Account {
    pub id: Uuid,
    pub platform: Platform,
    pub account_id: String,
    pub has_token: bool,
    /// The permissions its platform granted, as listed (unknown: none recorded).
    pub scope: Option<String>,
}

/// The caller's channels of `platforms` (those with an adapter).
pub async fn accounts(conn: &mut PgConnection, platforms: &[&str]) -> sqlx::Result<Vec<Account>> {
    sqlx::query_as(
        "select id, platform, account_id, access_token is not null as has_token, scope
         from platform_accounts where platform = any($1) order by id",
    )
    .bind(platforms)
    .fetch_all(conn)
    .await
}

/// Records a connect's `state` for the caller (and TikTok's PKCE verifier).
pub async fn start_oauth(
    conn: &mut PgConnection,
    state: &str,
    platform: Platform,
    verifier: Option<&str>,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into oauth_states (state, user_id, platform, code_verifier, expires_at)
         values ($1, app_user_id(), $2, $3, $4)",
    )
    .bind(state)
    .bind(platform)
    .bind(verifier)
    .bind(expires_at)
    .execute(conn)
    .await
    .map(drop)
}

/// A connect's `state`, taken (single use whatever follows): its user, platform, PKCE
/// verifier and expiry. Runs without a user (the callback has no bearer token).
pub async fn take_oauth(
    pool: &PgPool,
    state: &str,
) -> sqlx::Result<Option<(Actor, Platform, Option<String>, DateTime<Utc>)>> {
    type Taken = (Uuid, Uuid, Platform, Option<String>, DateTime<Utc>);
    let taken: Option<Taken> = sqlx::query_as(
        "delete from oauth_states where state = $1
         returning user_id, workspace_id, platform, code_verifier, expires_at",
    )
    .bind(state)
    .fetch_optional(pool)
    .await?;
    Ok(
        taken.map(|(user, workspace, platform, verifier, expires_at)| {
            (Actor { user, workspace }, platform, verifier, expires_at)
        }),
    )
}

/// The user's account on `platform` (created if new, its handle and display name set when
/// given);
/// returns its id.
pub async fn upsert_account(
    conn: &mut PgConnection,
    user: Uuid,
    platform: Platform,
    account_id: &str,
    (handle, display_name): (Option<&str>, Option<&str>),
) -> sqlx::Result<Uuid> {
    sqlx::query_scalar(
        "insert into platform_accounts (id, user_id, platform, account_id, handle, display_name)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (workspace_id, platform, account_id)
             do update set handle = coalesce(excluded.handle, platform_accounts.handle),
                 display_name = coalesce(excluded.display_name, platform_accounts.display_name),
                 analytics_refused = null, updated_at = now()
         returning id",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(platform)
    .bind(account_id)
    .bind(handle)
    .bind(display_name)
    .fetch_one(conn)
    .await
}

/// Sealed tokens as a connect or a refresh writes them.
pub struct SealedTokens<'a> {
    pub access_token: Vec<u8>,
    /// `None` keeps the refresh token the account has.
    pub refresh_token: Option<Vec<u8>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
    pub issued_at: DateTime<Utc>,
    pub scope: Option<&'a str>,
    /// Where the account's API is served (`None` keeps the one it has).
    pub service_url: Option<&'a str>,
}

/// Writes sealed tokens of the account `id`, marking it connected.
pub async fn write_tokens(
    conn: &mut PgConnection,
    id: Uuid,
    tokens: SealedTokens<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "update platform_accounts set status = 'connected', status_reason = null,
             access_token = $2, refresh_token = coalesce($3, refresh_token),
             token_expires_at = $4, refresh_expires_at = coalesce($5, refresh_expires_at),
             token_issued_at = $6, scope = coalesce($7, scope),
             service_url = coalesce($8, service_url),
             connected_at = coalesce(connected_at, $6), updated_at = now()
         where id = $1",
    )
    .bind(id)
    .bind(tokens.access_token)
    .bind(tokens.refresh_token)
    .bind(tokens.expires_at)
    .bind(tokens.refresh_expires_at)
    .bind(tokens.issued_at)
    .bind(tokens.scope)
    .bind(tokens.service_url)
    .execute(conn)
    .await
    .map(drop)
}

/// Forgets the credentials: the account stays (brands may link it), `disconnected`.
pub async fn disconnect(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update platform_accounts set status = 'disconnected', status_reason = null,
             access_token = null, refresh_token = null, token_expires_at = null,
             refresh_expires_at = null, token_issued_at = null, updated_at = now()
         where id = $1",
    )
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Marks a connected channel `needs_reauth`, with the platform's reason.
pub async fn mark_needs_reauth(
    conn: &mut PgConnection,
    id: Uuid,
    reason: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "update platform_accounts set status = 'needs_reauth', status_reason = $2,
             updated_at = now()
         where id = $1 and status = 'connected'",
    )
    .bind(id)
    .bind(reason)
    .execute(conn)
    .await
    .map(drop)
}

/// A channel's state with its sealed tokens.
#[derive(sqlx::FromRow)]
pub struct Sealed {
    pub platform: Platform,
    pub account_id: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub access_token: Option<Vec<u8>>,
    pub refresh_token: Option<Vec<u8>>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
    pub token_issued_at: Option<DateTime<Utc>>,
    pub service_url: Option<String>,
}

const SEALED: &str = "select platform, account_id, status, status_reason, access_token,
        refresh_token, token_expires_at, refresh_expires_at, token_issued_at, service_url
    from platform_accounts where id = $1";

/// The account `id` with its sealed tokens.
pub async fn sealed(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Sealed>> {
    sqlx::query_as(SEALED).bind(id).fetch_optional(conn).await
}

/// The account `id` with its sealed tokens, locked until the transaction ends (so that two
/// workers never spend one rotating refresh token).
pub async fn sealed_for_update(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Sealed>> {
    sqlx::query_as(AssertSqlSafe(format!("{SEALED} for update")))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// A connected channel whose token or refresh token expires before a horizon, and whose
/// owner was not told yet about this token.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Expiring {
    pub id: Uuid,
    pub user_id: Uuid,
    pub platform: Platform,
    pub account_id: String,
    pub handle: Option<String>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub has_refresh_token: bool,
    pub refresh_expires_at: Option<DateTime<Utc>>,
}

/// The channels (every user's: the service's own pool) whose tokens expire by `horizon`
/// and whose owners were not told about them.
pub async fn expiring(pool: &PgPool, horizon: DateTime<Utc>) -> sqlx::Result<Vec<Expiring>> {
    sqlx::query_as(
        "select id, user_id, platform, account_id, handle, token_expires_at,
                refresh_token is not null as has_refresh_token, refresh_expires_at
         from platform_accounts
         where status = 'connected' and access_token is not null and reconnect_by is null
           and (token_expires_at <= $1 or refresh_expires_at <= $1)
         order by id",
    )
    .bind(horizon)
    .fetch_all(pool)
    .await
}

/// The connected channels (every user's) whose token expired by `now` without a refresh
/// token, or whose refresh token expired: their platform's policy says which of them no
/// refresh can bring back. (An expired access token with a live refresh token is the
/// everyday state of a TikTok channel, refreshed at its next use: not listed.)
pub async fn lapsing(pool: &PgPool, now: DateTime<Utc>) -> sqlx::Result<Vec<Expiring>> {
    sqlx::query_as(
        "select id, user_id, platform, account_id, handle, token_expires_at,
                refresh_token is not null as has_refresh_token, refresh_expires_at
         from platform_accounts
         where status = 'connected' and access_token is not null
           and ((refresh_token is null and token_expires_at <= $1) or refresh_expires_at <= $1)
         order by id",
    )
    .bind(now)
    .fetch_all(pool)
    .await
}

/// Records that the channel's owner was told it must be reconnected by `by`, unless they
/// were told already (another worker's check): whether this call did.
pub async fn mark_expiry_warned(
    conn: &mut PgConnection,
    id: Uuid,
    by: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update platform_accounts set reconnect_by = $2, expiry_warned_at = now()
         where id = $1 and reconnect_by is null and status = 'connected'",
    )
    .bind(id)
    .bind(by)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A channel's posting slots as kept: its zone and `[{weekday, time}]`
/// (`domain::publish::slots::Slots::stored`); `None`: no such channel of the caller's.
pub async fn slots(
    conn: &mut PgConnection,
    id: Uuid,
) -> sqlx::Result<Option<(String, sqlx::types::Json<serde_json::Value>)>> {
    sqlx::query_as("select slot_timezone, slots from platform_accounts where id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Keeps a channel's posting slots; whether the caller has the channel.
pub async fn set_slots(
    conn: &mut PgConnection,
    id: Uuid,
    timezone: &str,
    slots: &serde_json::Value,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update platform_accounts set slot_timezone = $2, slots = $3, updated_at = now()
         where id = $1",
    )
    .bind(id)
    .bind(timezone)
    .bind(sqlx::types::Json(slots))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Pauses (`paused`) or resumes the channel's posting queue; false when the caller has no
/// such channel. A paused queue's posts are not sent (the dispatcher leaves them).
pub async fn pause_queue(conn: &mut PgConnection, id: Uuid, paused: bool) -> sqlx::Result<bool> {
    sqlx::query(
        "update platform_accounts
         set queue_paused_at = case when $2 then coalesce(queue_paused_at, now()) end
         where id = $1",
    )
    .bind(id)
    .bind(paused)
    .execute(conn)
    .await
    .map(|done| done.rows_affected() == 1)
}

/// The caller's channels whose posting queue is paused.
pub async fn paused_queues(conn: &mut PgConnection) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "select id from platform_accounts where queue_paused_at is not null order by id",
    )
    .fetch_all(conn)
    .await
}
