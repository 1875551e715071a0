//! Users' contact addresses (`user_contacts`): the email their token's `email` claim gave,
//! for what must reach them outside the app. Read and written on the service's own pool.

use sqlx::PgPool;
use uuid::Uuid;

/// Keeps `email` as `user`'s address.
pub async fn record(pool: &PgPool, user: Uuid, email: &str) -> sqlx::Result<()> {
    sqlx::query(
        "insert into user_contacts (user_id, email) values ($1, $2)
         on conflict (user_id) do update set email = excluded.email, updated_at = now()
         where user_contacts.email <> excluded.email",
    )
    .bind(user)
    .bind(email)
    .execute(pool)
    .await
    .map(drop)
}

/// `user`'s address: their account's (verified by a used sign-in link or single sign-on),
/// else the one a token of theirs carried, if any.
pub async fn email_of(pool: &PgPool, user: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "select coalesce(
             (select email from users where id = $1),
             (select email from user_contacts where user_id = $1)
         )",
    )
    .bind(user)
    .fetch_one(pool)
    .await
}
