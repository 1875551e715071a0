//! Channels: platform accounts with credentials. Tokens are sealed before they are written
//! and opened only to call the platform; they are never logged or returned.
//!
//! Refresh: before a call, a token that expires soon is refreshed, under a row lock so
//! that two workers never spend one rotating refresh token; the new access token and the
//! rotated refresh token are written in that transaction. A refused refresh marks the
//! channel `needs_reauth` (one attempt, no loop).

use chrono::{DateTime, Duration, Utc};
use sqlx::{AssertSqlSafe, PgConnection, PgPool};
use uuid::Uuid;

use crate::store::Row;

use super::{
    Auth, Failure, FailureKind, Platform, Platforms,
    crypto::TokenCipher,
    oauth::{self, Tokens},
};

/// A TikTok token expiring within this is refreshed first.
const TIKTOK_REFRESH_AHEAD: Duration = Duration::minutes(5);
/// An Instagram long-lived token (60 days) is refreshed when it has less than this left.
const INSTAGRAM_REFRESH_AHEAD: Duration = Duration::days(7);
/// Instagram refreshes only tokens at least a day old.
const INSTAGRAM_MIN_AGE: Duration = Duration::hours(24);

const CHANNEL_COLUMNS: &str = "a.id, a.platform, a.account_id, a.handle, a.status,
    a.status_reason, a.token_expires_at as expires_at, a.scope, a.connected_at, a.created_at,
    a.updated_at";

/// The caller's channels (every platform account), by platform and account.
pub async fn list<T: Row>(conn: &mut PgConnection) -> sqlx::Result<Vec<T>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {CHANNEL_COLUMNS} from platform_accounts a order by a.platform, a.account_id"
    )))
    .fetch_all(conn)
    .await
}

pub async fn get<T: Row>(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<T> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {CHANNEL_COLUMNS} from platform_accounts a where a.id = $1"
    )))
    .bind(id)
    .fetch_one(conn)
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
) -> sqlx::Result<Option<(Uuid, Platform, Option<String>, DateTime<Utc>)>> {
    sqlx::query_as(
        "delete from oauth_states where state = $1
         returning user_id, platform, code_verifier, expires_at",
    )
    .bind(state)
    .fetch_optional(pool)
    .await
}

/// Writes `tokens` for the user's account (created if new), `connected`; returns its id.
pub async fn store_tokens(
    conn: &mut PgConnection,
    cipher: &TokenCipher,
    user: Uuid,
    platform: Platform,
    account_id: &str,
    tokens: &Tokens,
    now: DateTime<Utc>,
) -> sqlx::Result<Uuid> {
    let id: Uuid = sqlx::query_scalar(
        "insert into platform_accounts (id, user_id, platform, account_id)
         values ($1, $2, $3, $4)
         on conflict (user_id, platform, account_id) do update set updated_at = now()
         returning id",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(platform)
    .bind(account_id)
    .fetch_one(&mut *conn)
    .await?;
    write_tokens(conn, cipher, id, tokens, now).await?;
    Ok(id)
}

/// Seals and writes tokens of the account `id`, marking it connected. A refresh without a
/// new refresh token keeps the old one.
async fn write_tokens(
    conn: &mut PgConnection,
    cipher: &TokenCipher,
    id: Uuid,
    tokens: &Tokens,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let expires = |secs: Option<i64>| secs.map(|s| now + Duration::seconds(s));
    sqlx::query(
        "update platform_accounts set status = 'connected', status_reason = null,
             access_token = $2, refresh_token = coalesce($3, refresh_token),
             token_expires_at = $4, refresh_expires_at = coalesce($5, refresh_expires_at),
             token_issued_at = $6, scope = coalesce($7, scope),
             connected_at = coalesce(connected_at, $6), updated_at = now()
         where id = $1",
    )
    .bind(id)
    .bind(cipher.seal(id, "access", &tokens.access_token))
    .bind(
        tokens
            .refresh_token
            .as_ref()
            .map(|t| cipher.seal(id, "refresh", t)),
    )
    .bind(expires(tokens.expires_in))
    .bind(expires(tokens.refresh_expires_in))
    .bind(now)
    .bind(&tokens.scope)
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

/// Marks the channel `needs_reauth`, with the platform's reason.
pub async fn needs_reauth(conn: &mut PgConnection, id: Uuid, reason: &str) -> sqlx::Result<()> {
    tracing::warn!(channel_id = %id, reason, "channel needs re-authorisation");
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

#[derive(sqlx::FromRow)]
struct Sealed {
    platform: Platform,
    account_id: String,
    status: String,
    status_reason: Option<String>,
    access_token: Option<Vec<u8>>,
    refresh_token: Option<Vec<u8>>,
    token_expires_at: Option<DateTime<Utc>>,
    refresh_expires_at: Option<DateTime<Utc>>,
    token_issued_at: Option<DateTime<Utc>>,
}

/// Why a channel cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    /// `CHANNEL_NOT_CONNECTED`: no credentials.
    NotConnected,
    /// `CHANNEL_AUTH_INVALID`: the credentials were refused or expired (the reason).
    AuthInvalid(String),
}

impl Unusable {
    pub fn code(&self) -> &'static str {
        match self {
            Unusable::NotConnected => "CHANNEL_NOT_CONNECTED",
            Unusable::AuthInvalid(_) => "CHANNEL_AUTH_INVALID",
        }
    }

    pub fn message(&self, platform: &str) -> String {
        match self {
            Unusable::NotConnected => format!(
                "the {platform} channel is not connected: connect a {platform} account first, then publish again"
            ),
            Unusable::AuthInvalid(reason) => {
                format!("the {platform} channel needs to be connected again: {reason}")
            }
        }
    }

    pub fn failure(&self, platform: &str) -> Failure {
        Failure::new(FailureKind::Auth, self.code(), self.message(platform))
    }
}

/// A channel's state without its tokens: what a dry run with the flag off (no platform
/// call) can tell.
pub async fn local_state(
    conn: &mut PgConnection,
    account: Uuid,
) -> sqlx::Result<Result<(), Unusable>> {
    let row: Option<Sealed> = sqlx::query_as(
        "select platform, account_id, status, status_reason, access_token, refresh_token,
             token_expires_at, refresh_expires_at, token_issued_at
         from platform_accounts where id = $1",
    )
    .bind(account)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row.filter(|r| r.access_token.is_some()) else {
        return Ok(Err(Unusable::NotConnected));
    };
    Ok(if row.status == "needs_reauth" {
        Err(Unusable::AuthInvalid(
            row.status_reason
                .unwrap_or_else(|| "the platform refused its token".into()),
        ))
    } else if row.platform == Platform::Instagram
        && row.token_expires_at.is_some_and(|at| at <= Utc::now())
    {
        Err(Unusable::AuthInvalid("the Instagram token expired".into()))
    } else {
        Ok(())
    })
}

/// The channel's token, refreshed first when it expires soon (or when `force`, after the
/// platform refused it). `Err` only when the refresh could not be tried (the platform or
/// the database unreachable): the caller retries later.
pub async fn usable(
    pool: &PgPool,
    platforms: &Platforms,
    cipher: &TokenCipher,
    account: Uuid,
    now: DateTime<Utc>,
    force: bool,
) -> Result<Result<Auth, Unusable>, UsableError> {
    let mut tx = pool.begin().await?;
    let Some(row): Option<Sealed> = sqlx::query_as(
        "select platform, account_id, status, status_reason, access_token, refresh_token,
             token_expires_at, refresh_expires_at, token_issued_at
         from platform_accounts where id = $1 for update",
    )
    .bind(account)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(Err(Unusable::NotConnected));
    };
    if row.status == "needs_reauth" {
        return Ok(Err(Unusable::AuthInvalid(
            row.status_reason
                .unwrap_or_else(|| "the platform refused its token".into()),
        )));
    }
    let Some(access) = row
        .access_token
        .as_deref()
        .and_then(|sealed| cipher.open(account, "access", sealed))
    else {
        return Ok(Err(Unusable::NotConnected));
    };
    let refresh_token = row
        .refresh_token
        .as_deref()
        .and_then(|sealed| cipher.open(account, "refresh", sealed));
    let expired = row.token_expires_at.is_some_and(|at| at <= now);
    let due = match row.platform {
        Platform::Tiktok => row
            .token_expires_at
            .is_some_and(|at| at - now <= TIKTOK_REFRESH_AHEAD),
        Platform::Instagram => {
            !expired
                && row
                    .token_expires_at
                    .is_some_and(|at| at - now <= INSTAGRAM_REFRESH_AHEAD)
                && row
                    .token_issued_at
                    .is_none_or(|at| now - at >= INSTAGRAM_MIN_AGE)
        }
    };
    let auth = |token: String| Auth {
        account_id: row.account_id.clone(),
        access_token: token,
    };
    // An expired Instagram token cannot be refreshed; a TikTok one whose refresh token
    // expired neither.
    let refresh_expired = row.refresh_expires_at.is_some_and(|at| at <= now);
    let hopeless = match row.platform {
        Platform::Instagram => expired,
        Platform::Tiktok => (expired || force) && (refresh_token.is_none() || refresh_expired),
    };
    if hopeless {
        let reason = format!(
            "the {} token expired; connect the channel again",
            row.platform.label()
        );
        needs_reauth(&mut tx, account, &reason).await?;
        tx.commit().await?;
        return Ok(Err(Unusable::AuthInvalid(reason)));
    }
    if !(due || force) {
        return Ok(Ok(auth(access)));
    }
    match oauth::refresh(platforms, row.platform, &access, refresh_token.as_deref()).await {
        Ok(tokens) => {
            write_tokens(&mut tx, cipher, account, &tokens, now).await?;
            tx.commit().await?;
            metrics::counter!("channel_token_refreshes_total", "channel" => row.platform.as_str(), "outcome" => "refreshed").increment(1);
            tracing::info!(channel = %row.platform, channel_id = %account, "channel token refreshed");
            Ok(Ok(auth(tokens.access_token)))
        }
        Err(failure) if failure.kind == FailureKind::Auth => {
            needs_reauth(&mut tx, account, &failure.message).await?;
            tx.commit().await?;
            metrics::counter!("channel_token_refreshes_total", "channel" => row.platform.as_str(), "outcome" => "refused").increment(1);
            Ok(Err(Unusable::AuthInvalid(failure.message)))
        }
        // Not refused, just not reachable: a token still valid is used as it is.
        Err(failure) if !expired && !force => {
            tracing::warn!(channel = %row.platform, reason = %failure.message, "token refresh failed; the current token is still valid");
            Ok(Ok(auth(access)))
        }
        Err(failure) => Err(UsableError::Platform(failure)),
    }
}

/// Credentials could not be settled now.
#[derive(Debug, thiserror::Error)]
pub enum UsableError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{}", .0.message)]
    Platform(Failure),
}
