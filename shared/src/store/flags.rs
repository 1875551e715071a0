//! The SQL of `feature_flags` and `feature_flag_changes`: the overrides, a change with its
//! history row in one transaction, and the history.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::flags::{Flag, Override, Setting, State};

/// One change of a flag, as the audit trail keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub id: i64,
    pub flag: Flag,
    /// `service_role`, `admin-token` or `cli:<operator>`.
    pub actor: String,
    pub at: DateTime<Utc>,
    /// None: the environment default (no override).
    pub from: Option<Setting>,
    pub to: Option<Setting>,
    pub note: Option<String>,
}

#[derive(sqlx::FromRow)]
struct OverrideRow {
    name: String,
    state: String,
    users: Vec<Uuid>,
    note: Option<String>,
    updated_at: DateTime<Utc>,
    updated_by: String,
}

#[derive(sqlx::FromRow)]
struct ChangeRow {
    id: i64,
    name: String,
    actor: String,
    at: DateTime<Utc>,
    from_state: Option<String>,
    from_users: Option<Vec<Uuid>>,
    to_state: Option<String>,
    to_users: Option<Vec<Uuid>>,
    note: Option<String>,
}

/// A stored state and users; the table's checks make them a valid setting.
fn setting(state: Option<&str>, users: Option<&[Uuid]>) -> Option<Setting> {
    let state = State::parse(state?)?;
    Setting::new(state, users.unwrap_or_default()).ok()
}

impl ChangeRow {
    fn into_change(self) -> Option<Change> {
        Some(Change {
            id: self.id,
            flag: Flag::parse(&self.name)?,
            from: setting(self.from_state.as_deref(), self.from_users.as_deref()),
            to: setting(self.to_state.as_deref(), self.to_users.as_deref()),
            actor: self.actor,
            at: self.at,
            note: self.note,
        })
    }
}

/// Every override.
pub async fn overrides(pool: &PgPool) -> sqlx::Result<Vec<(Flag, Override)>> {
    let rows: Vec<OverrideRow> = sqlx::query_as(
        "select name, state, users, note, updated_at, updated_by from feature_flags",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let flag = Flag::parse(&row.name)?;
            let setting = setting(Some(&row.state), Some(&row.users))?;
            Some((
                flag,
                Override {
                    setting,
                    note: row.note,
                    updated_at: row.updated_at,
                    updated_by: row.updated_by,
                },
            ))
        })
        .collect())
}

/// Sets `flag` to `to` (None: back to the environment default) and records the change,
/// in one transaction. Changes of one flag are serialised, so each history row's `from`
/// is what the one before it set.
pub async fn set(
    pool: &PgPool,
    flag: Flag,
    to: Option<&Setting>,
    note: Option<&str>,
    actor: &str,
) -> sqlx::Result<Change> {
    let mut tx = pool.begin().await?;
    sqlx::query("select pg_advisory_xact_lock(hashtext('almanac.feature_flags'), hashtext($1))")
        .bind(flag.name())
        .execute(&mut *tx)
        .await?;
    let from: Option<(String, Vec<Uuid>)> =
        sqlx::query_as("select state, users from feature_flags where name = $1")
            .bind(flag.name())
            .fetch_optional(&mut *tx)
            .await?;
    match to {
        Some(to) => {
            sqlx::query(
                "insert into feature_flags (name, state, users, note, updated_at, updated_by)
                 values ($1, $2, $3, $4, now(), $5)
                 on conflict (name) do update set state = excluded.state, users = excluded.users,
                     note = excluded.note, updated_at = now(), updated_by = excluded.updated_by",
            )
            .bind(flag.name())
            .bind(to.state().as_str())
            .bind(to.users())
            .bind(note)
            .bind(actor)
            .execute(&mut *tx)
            .await?;
        }
        None => {
            sqlx::query("delete from feature_flags where name = $1")
                .bind(flag.name())
                .execute(&mut *tx)
                .await?;
        }
    }
    let row: ChangeRow = sqlx::query_as(
        "insert into feature_flag_changes
             (name, actor, from_state, from_users, to_state, to_users, note)
         values ($1, $2, $3, $4, $5, $6, $7)
         returning id, name, actor, at, from_state, from_users, to_state, to_users, note",
    )
    .bind(flag.name())
    .bind(actor)
    .bind(from.as_ref().map(|(state, _)| state))
    .bind(from.as_ref().map(|(_, users)| users))
    .bind(to.map(|s| s.state().as_str()))
    .bind(to.map(Setting::users))
    .bind(note)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row
        .into_change()
        .expect("the change just written names a known flag"))
}

/// The flag's changes, newest first: `limit` of them older than `before` (a change id).
pub async fn history(
    pool: &PgPool,
    flag: Flag,
    before: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<Change>> {
    let rows: Vec<ChangeRow> = sqlx::query_as(
        "select id, name, actor, at, from_state, from_users, to_state, to_users, note
         from feature_flag_changes
         where name = $1 and ($2::bigint is null or id < $2)
         order by id desc
         limit $3",
    )
    .bind(flag.name())
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(ChangeRow::into_change)
        .collect())
}
