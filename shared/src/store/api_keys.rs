//! Personal API keys' rows (`api_keys`): listed, added and deleted in their owner's
//! transaction (row-level security); found by digest on the API's own pool, before the user
//! is known ([`holder`]).

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgConnection, PgPool};
use uuid::Uuid;

use crate::workspaces::Role;

/// Keys one user may have at once.
pub const MAX_KEYS: i64 = 50;

/// `last_used_at` is written again only once it is this old (a key used on every request
/// costs no write per request).
pub const LAST_USED_EVERY_SECS: i64 = 60;

const COLUMNS: &str = "id, name, prefix, scopes, created_at, last_used_at, expires_at";

/// A key as its owner sees it (never the key).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyRow {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn list(conn: &mut PgConnection) -> sqlx::Result<Vec<KeyRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {COLUMNS} from api_keys order by created_at, id"
    )))
    .fetch_all(conn)
    .await
}

/// How many keys the caller has, holding (until the transaction ends) the lock that makes
/// another of their transactions adding one wait: counted and added in one transaction, the
/// limit holds under concurrent requests.
pub async fn count_for_adding(conn: &mut PgConnection, workspace: Uuid) -> sqlx::Result<i64> {
    super::count_for_adding(conn, "api_keys", workspace).await
}

pub struct NewKey<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: &'a str,
    pub digest: &'a [u8; 32],
    pub prefix: &'a str,
    pub scopes: &'a [String],
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn insert(conn: &mut PgConnection, new: NewKey<'_>) -> sqlx::Result<KeyRow> {
    sqlx::query_as(AssertSqlSafe(format!(
        "insert into api_keys (id, user_id, name, digest, prefix, scopes, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7) returning {COLUMNS}"
    )))
    .bind(new.id)
    .bind(new.user_id)
    .bind(new.name)
    .bind(&new.digest[..])
    .bind(new.prefix)
    .bind(new.scopes)
    .bind(new.expires_at)
    .fetch_one(conn)
    .await
}

/// Deletes (revokes) a key of the caller's; whether there was one.
pub async fn delete(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    let deleted = sqlx::query("delete from api_keys where id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(deleted.rows_affected() > 0)
}

/// Whose a live key is, and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub key_id: Uuid,
    /// The key's name, as its maker gave it.
    pub name: String,
    pub user_id: Uuid,
    pub scopes: Vec<String>,
    /// The workspace the key was made in: the only one it acts in.
    pub workspace_id: Uuid,
    /// Its maker's role there now.
    pub role: Role,
}

/// The live (not expired) key whose digest this is, whose maker is still a member of its
/// workspace, in one statement that also notes its use when the last noted one is over a
/// minute old. Concurrent requests with one key write it once: the second waits for the
/// first's row and finds it recent.
pub async fn holder(pool: &PgPool, digest: &[u8; 32]) -> sqlx::Result<Option<Holder>> {
    let row: Option<(Uuid, String, Uuid, Vec<String>, Uuid, Role)> = sqlx::query_as(
        "with used as (
             update api_keys set last_used_at = now()
             where digest = $1
               and (expires_at is null or expires_at > now())
               and (last_used_at is null
                    or last_used_at <= now() - make_interval(secs => $2))
         )
         select k.id, k.name, k.user_id, k.scopes, k.workspace_id,
                case when k.workspace_id = k.user_id then 'owner' else m.role end as role
         from api_keys k
         left join workspace_members m
           on m.workspace_id = k.workspace_id and m.user_id = k.user_id
         where k.digest = $1 and (k.expires_at is null or k.expires_at > now())
           and (k.workspace_id = k.user_id or m.role is not null)",
    )
    .bind(&digest[..])
    .bind(LAST_USED_EVERY_SECS as f64)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(
        |(key_id, name, user_id, scopes, workspace_id, role)| Holder {
            key_id,
            name,
            user_id,
            scopes,
            workspace_id,
            role,
        },
    ))
}
