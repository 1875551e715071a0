//! Signing in: emailed links (`sign_in_tokens`, kept as digests), invitations to have an
//! account (`sign_up_invitations`) and single sign-on identities (`oidc_identities`). Only
//! the API's own connection reads them (row-level security with no policy for a user).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Who an address is to the sign-in: an account's, an invited one's, or nobody's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    Account(Uuid),
    Invited(Uuid),
    Unknown,
}

/// Who `email` (lower-case) is.
pub async fn known(pool: &PgPool, email: &str) -> sqlx::Result<Known> {
    known_in(&mut *pool.acquire().await?, email).await
}

/// Keeps a link's digest for `email` until `expires_at`: it signs in to `user`, or to a new
/// account when `None`. Links whose time is up are forgotten by the same statement.
pub async fn issue(
    pool: &PgPool,
    digest: &[u8; 32],
    email: &str,
    user: Option<Uuid>,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "with issued as (
             insert into sign_in_tokens (digest, email, user_id, expires_at)
             values ($1, $2, $3, $4)
         )
         delete from sign_in_tokens where expires_at < now() - interval '1 day'",
    )
    .bind(&digest[..])
    .bind(email)
    .bind(user)
    .bind(expires_at)
    .execute(pool)
    .await
    .map(drop)
}

/// What a link's digest names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// It works: the address it was sent to.
    Usable {
        email: String,
    },
    Used,
    Expired,
    /// No link of ours.
    Unknown,
}

/// What the link whose digest this is can still do (nothing is changed).
pub async fn look(pool: &PgPool, digest: &[u8; 32]) -> sqlx::Result<Link> {
    let row: Option<(String, bool, bool)> = sqlx::query_as(
        "select email, used_at is not null, expires_at <= now()
         from sign_in_tokens where digest = $1",
    )
    .bind(&digest[..])
    .fetch_optional(pool)
    .await?;
    Ok(match row {
        None => Link::Unknown,
        Some((_, true, _)) => Link::Used,
        Some((_, _, true)) => Link::Expired,
        Some((email, false, false)) => Link::Usable { email },
    })
}

/// Uses the link whose digest this is, once: the account it signs in to (made now, or given
/// the address now, when the link was for a new or invited account). Every other link to
/// the same address ends with it. `Err` says why it cannot be used.
pub async fn redeem(pool: &PgPool, digest: &[u8; 32]) -> sqlx::Result<Result<Uuid, Link>> {
    let mut tx = pool.begin().await?;
    let used: Option<(String, Option<Uuid>)> = sqlx::query_as(
        "update sign_in_tokens set used_at = now()
         where digest = $1 and used_at is null and expires_at > now()
         returning email, user_id",
    )
    .bind(&digest[..])
    .fetch_optional(&mut *tx)
    .await?;
    let Some((email, user)) = used else {
        drop(tx);
        return Ok(Err(look(pool, digest).await?));
    };
    let account = verified_account(&mut tx, &email, user, None).await?;
    sqlx::query("update sign_in_tokens set used_at = now() where email = $1 and used_at is null")
        .bind(&email)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Ok(account))
}

/// The account that holds `email`, now verified: the one that already holds it, else
/// `reserved` (an invitation's account, or a link's) given it, else a new one (named `name`).
/// The invitation of the address, if any, is used up.
async fn verified_account(
    conn: &mut PgConnection,
    email: &str,
    reserved: Option<Uuid>,
    name: Option<&str>,
) -> sqlx::Result<Uuid> {
    let reserved = match reserved {
        Some(id) => Some(id),
        None => {
            sqlx::query_scalar("select user_id from sign_up_invitations where email = $1")
                .bind(email)
                .fetch_optional(&mut *conn)
                .await?
        }
    };
    if let Some(id) = reserved {
        sqlx::query(
            "update users set email = $2, updated_at = now()
             where id = $1 and email is null
               and not exists (select 1 from users other where other.email = $2)",
        )
        .bind(id)
        .bind(email)
        .execute(&mut *conn)
        .await?;
    }
    // A new account, unless one holds the address (made meanwhile, or just given it).
    sqlx::query("insert into users (id, email, name) values ($1, $2, $3) on conflict do nothing")
        .bind(reserved.unwrap_or_else(Uuid::now_v7))
        .bind(email)
        .bind(name)
        .execute(&mut *conn)
        .await?;
    sqlx::query("delete from sign_up_invitations where email = $1")
        .bind(email)
        .execute(&mut *conn)
        .await?;
    sqlx::query_scalar("select id from users where email = $1")
        .bind(email)
        .fetch_one(&mut *conn)
        .await
}

/// Invites `email` to have an account: the account that holds it, else the one its
/// invitation reserved, else a new one reserved now.
pub async fn invite(pool: &PgPool, email: &str) -> sqlx::Result<Uuid> {
    let mut tx = pool.begin().await?;
    if let Known::Account(id) | Known::Invited(id) = known_in(&mut tx, email).await? {
        return Ok(id);
    }
    let id = Uuid::now_v7();
    sqlx::query("insert into users (id) values ($1)")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("insert into sign_up_invitations (email, user_id) values ($1, $2)")
        .bind(email)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(id)
}

async fn known_in(conn: &mut PgConnection, email: &str) -> sqlx::Result<Known> {
    let row: Option<(Uuid, bool)> = sqlx::query_as(
        "select id, true from users where email = $1
         union all
         select user_id, false from sign_up_invitations where email = $1
         limit 1",
    )
    .bind(email)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        Some((id, true)) => Known::Account(id),
        Some((id, false)) => Known::Invited(id),
        None => Known::Unknown,
    })
}

/// A person signing in by single sign-on, as their verified ID token says.
pub struct Identity<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    /// Verified by the provider (`email_verified`), lower-case.
    pub email: &'a str,
    pub name: Option<&'a str>,
}

/// The account of a single sign-on identity: the one it signed in to before (found by
/// `iss` and `sub` alone), else, on its first sign-in, the account holding its verified
/// address, an invited one, or a new one when `admitted` (the sign-up rule lets the address
/// have one). `None`: no account may be had.
pub async fn sign_in_with(
    pool: &PgPool,
    identity: &Identity<'_>,
    admitted: bool,
) -> sqlx::Result<Option<Uuid>> {
    let mut tx = pool.begin().await?;
    let known: Option<Uuid> = sqlx::query_scalar(
        "update oidc_identities set last_seen_at = now() where iss = $1 and sub = $2
         returning user_id",
    )
    .bind(identity.iss)
    .bind(identity.sub)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(user) = known {
        tx.commit().await?;
        return Ok(Some(user));
    }
    let account = match known_in(&mut tx, identity.email).await? {
        Known::Account(id) => id,
        Known::Invited(id) => {
            verified_account(&mut tx, identity.email, Some(id), identity.name).await?
        }
        Known::Unknown if admitted => {
            verified_account(&mut tx, identity.email, None, identity.name).await?
        }
        Known::Unknown => return Ok(None),
    };
    sqlx::query("insert into oidc_identities (iss, sub, user_id) values ($1, $2, $3)")
        .bind(identity.iss)
        .bind(identity.sub)
        .bind(account)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(account))
}
