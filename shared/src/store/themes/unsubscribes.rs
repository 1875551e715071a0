//! One-click unsubscribe's writes (no user: the token in the link is the authority), and
//! the suppressions a theme's owner reads and clears.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Whom an unsubscribe link points at: the schedule's theme, and whether the address is
/// still on it.
#[derive(Debug, sqlx::FromRow)]
pub struct UnsubscribeTarget {
    pub theme_name: String,
    pub subscribed: bool,
}

/// The theme of `schedule`, and whether `address` is still a recipient; none when the
/// schedule is gone.
pub async fn unsubscribe_target(
    pool: &PgPool,
    schedule: Uuid,
    address: &str,
) -> sqlx::Result<Option<UnsubscribeTarget>> {
    sqlx::query_as(
        "select t.name as theme_name,
                exists (select 1 from jsonb_array_elements_text(s.emails) e
                        where lower(e) = $2) as subscribed
         from theme_schedules s join themes t on t.id = s.theme_id
         where s.id = $1",
    )
    .bind(schedule)
    .bind(address)
    .fetch_optional(pool)
    .await
}

/// Removes `address` (lowercase) from `schedule`'s recipients and keeps it out of the
/// theme's digest from now on; the theme's name, none when the schedule is gone. Doing it
/// twice changes nothing more.
pub async fn unsubscribe(
    pool: &PgPool,
    schedule: Uuid,
    address: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "with target as (
             select s.id, s.theme_id, s.user_id from theme_schedules s where s.id = $1
         ), removed as (
             update theme_schedules s
             set emails = (select coalesce(jsonb_agg(e), '[]'::jsonb)
                           from jsonb_array_elements_text(s.emails) e where lower(e) <> $2),
                 updated_at = now()
             from target where s.id = target.id
             returning s.id
         ), kept_out as (
             insert into email_suppressions (theme_id, user_id, address)
             select theme_id, user_id, $2 from target
             on conflict do nothing
         )
         select t.name from target join themes t on t.id = target.theme_id",
    )
    .bind(schedule)
    .bind(address)
    .fetch_optional(pool)
    .await
}

/// An address that unsubscribed from a theme's digest, and when.
#[derive(Debug, sqlx::FromRow)]
pub struct Suppression {
    pub address: String,
    pub created_at: DateTime<Utc>,
}

/// The addresses kept out of the theme's digest, oldest first.
pub async fn suppressions(conn: &mut PgConnection, theme: Uuid) -> sqlx::Result<Vec<Suppression>> {
    sqlx::query_as(
        "select address, created_at from email_suppressions where theme_id = $1
         order by created_at, address limit 100",
    )
    .bind(theme)
    .fetch_all(conn)
    .await
}

/// Lets `address` (lowercase) be added to the theme's schedule again; whether it was kept
/// out.
pub async fn clear_suppression(
    conn: &mut PgConnection,
    theme: Uuid,
    address: &str,
) -> sqlx::Result<bool> {
    let cleared =
        sqlx::query("delete from email_suppressions where theme_id = $1 and address = $2")
            .bind(theme)
            .bind(address)
            .execute(conn)
            .await?;
    Ok(cleared.rows_affected() > 0)
}
