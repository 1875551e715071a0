//! People's accounts (`users`): read and edited by their owner inside [`super::user_tx`]
//! (`GET /v1/me`, `PATCH /v1/me`); made and given their address by a used sign-in link or
//! single sign-on (`super::sign_in`), on the service's pool.

use sqlx::PgConnection;
use uuid::Uuid;

/// An account as its owner sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Account {
    pub id: Uuid,
    /// Verified: set only by a used sign-in link or a verified single sign-on email.
    pub email: Option<String>,
    pub name: Option<String>,
    pub language: Option<String>,
    pub display_timezone: Option<String>,
}

/// The caller's account; one with nothing set when they have never had a row (a token's
/// user who never signed in to the app).
pub async fn own(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Account> {
    let row: Option<Account> = sqlx::query_as(
        "select id, email, name, language, display_timezone from users where id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.unwrap_or(Account {
        id,
        ..Account::default()
    }))
}

/// Writes the caller's name, language and display time zone (the address is not theirs to
/// set here), making their row if they had none; the account as stored.
pub async fn save_profile(conn: &mut PgConnection, profile: &Account) -> sqlx::Result<Account> {
    sqlx::query_as(
        "insert into users (id, name, language, display_timezone) values ($1, $2, $3, $4)
         on conflict (id) do update set name = excluded.name, language = excluded.language,
             display_timezone = excluded.display_timezone, updated_at = now()
         returning id, email, name, language, display_timezone",
    )
    .bind(profile.id)
    .bind(&profile.name)
    .bind(&profile.language)
    .bind(&profile.display_timezone)
    .fetch_one(conn)
    .await
}

/// How a person is shown to their teammates: their name and address (either may be
/// unknown), on the service's pool (a member's row is not another member's to read).
pub async fn shown_as(
    pool: &sqlx::PgPool,
    id: Uuid,
) -> sqlx::Result<(Option<String>, Option<String>)> {
    let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
        "select u.name, coalesce(u.email, c.email)
         from (select $1::uuid as id) p
         left join users u on u.id = p.id
         left join user_contacts c on c.user_id = p.id",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.unwrap_or_default())
}

/// [`shown_as`] of several people at once: `(id, name, address)` for each of `ids`.
pub async fn shown_as_many(
    pool: &sqlx::PgPool,
    ids: &[Uuid],
) -> sqlx::Result<Vec<(Uuid, Option<String>, Option<String>)>> {
    sqlx::query_as(
        "select p.id, u.name, coalesce(u.email, c.email)
         from unnest($1::uuid[]) as p (id)
         left join users u on u.id = p.id
         left join user_contacts c on c.user_id = p.id",
    )
    .bind(ids)
    .fetch_all(pool)
    .await
}
