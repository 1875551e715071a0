//! Channels: platform accounts with credentials. Tokens are sealed before they are written
//! (their rows: `store::publish::channels`) and opened only to call the platform; they are
//! never logged or returned.
//!
//! Refresh: before a call, a token that expires soon is refreshed, under a row lock so
//! that two workers never spend one rotating refresh token; the new access token and the
//! rotated refresh token are written in that transaction. A refused refresh marks the
//! channel `needs_reauth` (one attempt, no loop).

use chrono::{DateTime, Duration, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use almanac_shared::{
    crypto::TokenCipher,
    store::publish::channels::{self as store, SealedTokens},
};

use super::{
    Auth, Failure, FailureKind, Platform, Platforms, TokenState,
    oauth::{Account, Tokens},
};

/// Writes `tokens` for the user's account (created if new, its handle and display name
/// kept unless the platform named them), `connected`; returns its id.
pub async fn store_tokens(
    conn: &mut PgConnection,
    cipher: &TokenCipher,
    user: Uuid,
    platform: Platform,
    account: &Account,
    tokens: &Tokens,
    now: DateTime<Utc>,
) -> sqlx::Result<Uuid> {
    let names = (account.handle.as_deref(), account.display_name.as_deref());
    let id = store::upsert_account(conn, user, platform, &account.id, names).await?;
    match &account.access_token {
        Some(own) => {
            let own = Tokens {
                access_token: own.clone(),
                ..tokens.clone()
            };
            write_tokens(conn, cipher, id, &own, now).await?;
        }
        None => write_tokens(conn, cipher, id, tokens, now).await?,
    }
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
    let sealed = SealedTokens {
        access_token: cipher.seal(id, "access", &tokens.access_token),
        refresh_token: tokens
            .refresh_token
            .as_ref()
            .map(|t| cipher.seal(id, "refresh", t)),
        expires_at: expires(tokens.expires_in),
        refresh_expires_at: expires(tokens.refresh_expires_in),
        issued_at: now,
        scope: tokens.scope.as_deref(),
        service_url: tokens.service_url.as_deref(),
    };
    store::write_tokens(conn, id, sealed).await
}

/// Why a channel whose token expired for good needs connecting again (`label`: its
/// platform's name).
pub fn expired_reason(label: &str) -> String {
    format!("the {label} token expired; connect the channel again")
}

/// Marks the channel `needs_reauth`, with the platform's reason.
pub async fn needs_reauth(conn: &mut PgConnection, id: Uuid, reason: &str) -> sqlx::Result<()> {
    tracing::warn!(channel_id = %id, reason, "channel needs re-authorisation");
    store::mark_needs_reauth(conn, id, reason).await
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
    platforms: &Platforms,
    account: Uuid,
) -> sqlx::Result<Result<(), Unusable>> {
    let row = store::sealed(conn, account).await?;
    let Some(row) = row.filter(|r| r.access_token.is_some()) else {
        return Ok(Err(Unusable::NotConnected));
    };
    let expired_for_good = platforms.adapter(row.platform).is_some_and(|a| {
        a.token_policy()
            .expired_for_good(&token_state(&row), Utc::now())
    });
    Ok(if row.status == "needs_reauth" {
        Err(Unusable::AuthInvalid(
            row.status_reason
                .unwrap_or_else(|| "the platform refused its token".into()),
        ))
    } else if expired_for_good {
        let label = platforms.label(row.platform);
        Err(Unusable::AuthInvalid(format!("the {label} token expired")))
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
    let Some(row) = store::sealed_for_update(&mut tx, account).await? else {
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
    let Some(adapter) = platforms.adapter(row.platform) else {
        return Ok(Err(Unusable::AuthInvalid(format!(
            "no adapter publishes to `{}`",
            row.platform
        ))));
    };
    let policy = adapter.token_policy();
    let token = TokenState {
        has_refresh_token: refresh_token.is_some(),
        ..token_state(&row)
    };
    let expired = row.token_expires_at.is_some_and(|at| at <= now);
    let due = policy.due(&token, now);
    let auth = |token: String| Auth {
        account_id: row.account_id.clone(),
        access_token: token,
        service_url: row.service_url.clone(),
    };
    let hopeless = policy.hopeless(&token, now, force);
    if hopeless {
        let reason = expired_reason(adapter.label());
        needs_reauth(&mut tx, account, &reason).await?;
        tx.commit().await?;
        return Ok(Err(Unusable::AuthInvalid(reason)));
    }
    if !(due || force) {
        return Ok(Ok(auth(access)));
    }
    match adapter.refresh(&access, refresh_token.as_deref()).await {
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

/// A channel's token as its platform's policy reads it.
fn token_state(row: &store::Sealed) -> TokenState {
    TokenState {
        expires_at: row.token_expires_at,
        issued_at: row.token_issued_at,
        has_refresh_token: row.refresh_token.is_some(),
        refresh_expires_at: row.refresh_expires_at,
    }
}
