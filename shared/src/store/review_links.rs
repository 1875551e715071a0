//! Review links (`review_links`): a secret address showing some of a calendar's entries to
//! someone without an account, kept as its token's digest. Made, listed and revoked by the
//! workspace's editors under row-level security; found by its digest on the service's pool,
//! then read and written as the person who made it.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::workspaces::Actor;

/// At most this many open links on one calendar.
pub const OPEN_PER_CALENDAR: i64 = 100;

/// A link as its workspace's members see it (never its token).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LinkRow {
    pub id: Uuid,
    pub calendar_id: Uuid,
    pub created_by: Uuid,
    pub label: Option<String>,
    pub entry_ids: Vec<Uuid>,
    pub range_from: Option<NaiveDate>,
    pub range_to: Option<NaiveDate>,
    pub can_approve: bool,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

const LINK_COLUMNS: &str = "id, calendar_id, user_id as created_by, label, entry_ids, range_from,
    range_to, can_approve, expires_at, created_at, revoked_at, last_used_at";

/// A link to make.
#[derive(Debug, Clone)]
pub struct NewLink<'a> {
    pub calendar: Uuid,
    pub digest: &'a [u8; 32],
    pub label: Option<&'a str>,
    pub entries: &'a [Uuid],
    pub range: Option<(NaiveDate, NaiveDate)>,
    pub can_approve: bool,
    pub expires_at: DateTime<Utc>,
}

/// The live entries of `calendar` among `ids`, in time order (an id of another calendar,
/// a deleted entry or none at all is left out).
pub async fn entries_among(
    conn: &mut PgConnection,
    calendar: Uuid,
    ids: &[Uuid],
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "select id from calendar_entries
         where calendar_id = $1 and id = any ($2) and deleted_at is null
         order by scheduled_at, id",
    )
    .bind(calendar)
    .bind(ids)
    .fetch_all(conn)
    .await
}

/// The live entries of `calendar` on the days `from` to `to` (their local dates), in time
/// order, at most `limit`.
pub async fn entries_between(
    conn: &mut PgConnection,
    calendar: Uuid,
    from: NaiveDate,
    to: NaiveDate,
    limit: i64,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "select id from calendar_entries
         where calendar_id = $1 and local_date between $2 and $3 and deleted_at is null
         order by scheduled_at, id
         limit $4",
    )
    .bind(calendar)
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Whether the caller's workspace has the calendar `id`.
pub async fn calendar_exists(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar("select exists (select 1 from calendars where id = $1)")
        .bind(id)
        .fetch_one(conn)
        .await
}

/// How many links of `calendar` work now (neither revoked nor expired).
pub async fn open_count(conn: &mut PgConnection, calendar: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "select count(*) from review_links
         where calendar_id = $1 and revoked_at is null and expires_at > now()",
    )
    .bind(calendar)
    .fetch_one(conn)
    .await
}

/// Makes a link, as the caller.
pub async fn create(conn: &mut PgConnection, new: NewLink<'_>) -> sqlx::Result<LinkRow> {
    let (from, to) = new.range.unzip();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into review_links (id, calendar_id, user_id, digest, label, entry_ids,
             range_from, range_to, can_approve, expires_at)
         values ($1, $2, app_user_id(), $3, $4, $5, $6, $7, $8, $9)
         returning {LINK_COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(new.calendar)
    .bind(&new.digest[..])
    .bind(new.label)
    .bind(new.entries)
    .bind(from)
    .bind(to)
    .bind(new.can_approve)
    .bind(new.expires_at)
    .fetch_one(conn)
    .await
}

/// The links of `calendar`, newest first (revoked and expired ones included, for a while).
pub async fn list(conn: &mut PgConnection, calendar: Uuid) -> sqlx::Result<Vec<LinkRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {LINK_COLUMNS} from review_links
         where calendar_id = $1
           and coalesce(revoked_at, expires_at) > now() - interval '30 days'
         order by created_at desc, id desc
         limit 200"
    )))
    .bind(calendar)
    .fetch_all(conn)
    .await
}

/// Revokes a link of `calendar`; whether there was one (revoking twice is no error).
pub async fn revoke(conn: &mut PgConnection, calendar: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let found: Option<Uuid> = sqlx::query_scalar(
        "update review_links set revoked_at = coalesce(revoked_at, now())
         where calendar_id = $1 and id = $2
         returning id",
    )
    .bind(calendar)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// Who writes a decision or a comment: the caller (a member), or a guest through a link,
/// by the name they gave.
#[derive(Debug, Clone, Copy)]
pub enum Writer<'a> {
    Member,
    Guest { link: Uuid, name: &'a str },
}

impl<'a> Writer<'a> {
    /// Its `link_id` and `guest_name` columns (none for a member, whose `user_id` is the
    /// caller's).
    pub fn link_and_name(self) -> (Option<Uuid>, Option<&'a str>) {
        match self {
            Self::Member => (None, None),
            Self::Guest { link, name } => (Some(link), Some(name)),
        }
    }
}

/// A link that works, as its guest's requests need it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Open {
    pub id: Uuid,
    pub calendar_id: Uuid,
    pub user_id: Uuid,
    pub workspace_id: Uuid,
    pub label: Option<String>,
    pub entry_ids: Vec<Uuid>,
    pub can_approve: bool,
    pub expires_at: DateTime<Utc>,
}

impl Open {
    /// Who the guest's requests act as: the link's maker, in its workspace.
    pub fn actor(&self) -> Actor {
        Actor {
            user: self.user_id,
            workspace: self.workspace_id,
        }
    }

    /// Whether `entry` is one the link shows.
    pub fn shows(&self, entry: Uuid) -> bool {
        self.entry_ids.contains(&entry)
    }
}

/// The link whose token has this digest, if it works now (not revoked, not expired, its
/// maker still a member of its workspace, or its personal workspace's person): the
/// service's pool, no person yet.
pub async fn find(pool: &PgPool, digest: &[u8; 32]) -> sqlx::Result<Option<Open>> {
    sqlx::query_as(
        "update review_links l set last_used_at = now()
         where l.digest = $1 and l.revoked_at is null and l.expires_at > now()
           and (l.workspace_id = l.user_id
                or exists (select 1 from workspace_members m
                           where m.workspace_id = l.workspace_id and m.user_id = l.user_id))
         returning l.id, l.calendar_id, l.user_id, l.workspace_id, l.label, l.entry_ids,
                   l.can_approve, l.expires_at",
    )
    .bind(&digest[..])
    .fetch_optional(pool)
    .await
}

/// The name of the calendar `id` (under the link maker's row-level security).
pub async fn calendar_name(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("select name from calendars where id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}
